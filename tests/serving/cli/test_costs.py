"""`ragline costs` on a real ledger: reports as table, CSV and JSON, a PNG chart, the budget line
at a given day, one request's breakdown (text and JSON), the JSONL export; and the ledger fed
by a real Router through `build_chat_router`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ragline.core.chat import ChatRequest, Message
from ragline.core.costs import AUDITED_HIT, FALSE_HIT, CostEvent, ScopedSink
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.costs import costs_app
from ragline.serving.settings import load_settings
from ragline.serving.wiring import Accounting, build_chat_router

pytestmark = pytest.mark.unit

Invoke = Callable[..., tuple[int, str, str]]
TS = datetime(2026, 11, 2, 12, tzinfo=UTC).timestamp()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / ".ragline"
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(folder))
    monkeypatch.delenv("RAGLINE_CONFIG", raising=False)
    return folder


@pytest.fixture
def run(data_dir: Path) -> Invoke:
    """`costs ...` through a small Typer app mounting costs_app: (exit code, stdout, stderr)."""
    app = typer.Typer()
    app.add_typer(costs_app, name="costs")

    def invoke(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, ["costs", *args])
        return result.exit_code, result.stdout, result.stderr

    return invoke


EVENTS = [
    CostEvent("llm", "openai:gpt-4o-mini", 1200, 300, 1000, 1500, Decimal("0.0003"), "q1", TS,
              key="alice", route="fixed"),
    CostEvent("embedding", "embedding:minilm", 12, 0, 0, 12, Decimal("0.0003"), "q1", TS),
    CostEvent("vector_db", "edge:docs", 0, 0, 0, 1, Decimal("0.000002"), "q1", TS),
    CostEvent("prediction", "adult:3", 0, 0, 0, 4000, Decimal("0.002"), "p1", TS, key="bob"),
]  # fmt: skip


@pytest.fixture
def sink(data_dir: Path) -> Iterator[Ledger]:
    """The ledger holding one priced query ("q1": a model call, an embedding, a vector search)
    and a prediction batch ("p1")."""
    ledger = Ledger(LedgerConfig(batch_size=2), data_dir)
    for event in EVENTS:
        ledger.record(event)
    ledger.flush()
    yield ledger
    ledger.close()


def test_breakdown_of_one_query_sums_exactly(run: Invoke, sink: Ledger) -> None:
    code, stdout, _ = run("breakdown", "q1")
    assert code == 0
    lines = dict(line.split() for line in stdout.splitlines())
    assert lines == {
        "embedding": "$0.0003",
        "llm": "$0.0003",
        "vector_db": "$0.000002",
        "total": "$0.000602",
    }
    assert sum(sink.breakdown("q1").values()) == Decimal("0.000602")
    code, stdout, _ = run("breakdown", "q1", "--format", "json")
    assert code == 0
    assert json.loads(stdout) == {
        "request_id": "q1",
        "components": {"embedding": 0.0003, "llm": 0.0003, "vector_db": 0.000002},
        "total_usd": 0.000602,
    }
    code, _, stderr = run("breakdown", "missing")
    assert code == 2 and "no cost recorded" in stderr
    code, _, stderr = run("breakdown", "q1", "--format", "xml")
    assert code == 2 and "use one of table, json" in stderr


def test_export_writes_every_event_as_a_json_line(run: Invoke, sink: Ledger) -> None:
    code, stdout, stderr = run("export")
    assert code == 0 and "4 events exported" in stderr
    assert [CostEvent.from_json(line) for line in stdout.splitlines()] == EVENTS
    code, stdout, _ = run("export", "--since", "2026-11-03")
    assert code == 0 and stdout == ""


def test_report_as_csv_json_and_table(run: Invoke, sink: Ledger) -> None:
    code, stdout, _ = run("report", "--by", "component", "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(stdout)))
    audits = ["audited", "false_hits", "false_hit_rate"]
    cache = ["cached_in", "cache_saved_usd"]
    assert rows == [
        ["component", "events", "tokens_in", "tokens_out", "usd", *audits, *cache],
        ["embedding", "1", "12", "0", "0.0003", "0", "0", "", "0", "0"],
        # 1,000 prompt tokens from OpenAI's cache: gpt-4o-mini's $0.15 - $0.075 per 1M saved
        ["llm", "1", "1200", "300", "0.0003", "0", "0", "", "1000", "0.000075"],
        ["prediction", "1", "0", "0", "0.002", "0", "0", "", "0", "0"],
        ["vector_db", "1", "0", "0", "0.000002", "0", "0", "", "0", "0"],
    ]
    code, stdout, _ = run("report", "--by", "key", "--format", "json", "--since", "2026-11-01")
    assert code == 0
    none = {"audited": 0, "false_hits": 0, "false_hit_rate": None}  # nothing audited
    uncached = {"cached_in": 0, "cache_saved_usd": "0"}
    cached = {"cached_in": 1000, "cache_saved_usd": "0.000075"}
    assert json.loads(stdout) == [
        {"key": "-", "events": 2, "tokens_in": 12, "tokens_out": 0, "usd": "0.000302"}
        | none
        | uncached,
        {"key": "alice", "events": 1, "tokens_in": 1200, "tokens_out": 300, "usd": "0.0003"}
        | none
        | cached,
        {"key": "bob", "events": 1, "tokens_in": 0, "tokens_out": 0, "usd": "0.002"}
        | none
        | uncached,
    ]
    code, stdout, _ = run("report", "--by", "day")
    assert code == 0 and "2026-11-02" in stdout
    assert "4 events, $0.002602; prompt cache: 1000 input tokens read, $0.000075 saved\n" in stdout
    assert "semantic cache" not in stdout  # nothing audited: no audit summary
    code, stdout, _ = run("report", "--until", "2026-11-02", "--format", "json")
    assert code == 0 and json.loads(stdout) == []


def test_report_counts_the_semantic_cache_audits(run: Invoke, sink: Ledger) -> None:
    """The router marks each audited hit's event (AUDITED_HIT, or FALSE_HIT when the model
    contradicted it); the report counts them per group, here per model and per day."""
    mini, free = "openai:gpt-4o-mini", Decimal(0)
    for request_id, cache in [("s1", AUDITED_HIT), ("s2", FALSE_HIT), ("s3", AUDITED_HIT)]:
        sink.record(CostEvent("llm", mini, 0, 0, 0, 0, free, request_id, TS, cache=cache))
    sink.record(CostEvent("llm", mini, 1200, 300, 0, 1500, free, "s4", TS, cache="semantic"))
    sink.flush()
    code, stdout, _ = run("report", "--by", "model", "--format", "csv")
    assert code == 0
    rows = {row[0]: row[5:8] for row in csv.reader(io.StringIO(stdout))}
    assert rows[mini] == ["3", "1", "0.3333"] and rows["adult:3"] == ["0", "0", ""]
    code, stdout, _ = run("report", "--by", "day", "--format", "json")
    [day] = json.loads(stdout)
    assert (day["audited"], day["false_hits"], day["false_hit_rate"]) == (3, 1, 0.3333)
    code, stdout, _ = run("report", "--by", "model")
    assert code == 0 and "33.3%" in stdout
    assert "semantic cache: 3 hits audited, 1 false (33.3%)" in stdout


def test_chart_and_budget_line(run: Invoke, sink: Ledger, tmp_path: Path) -> None:
    """The budget is judged at --as-of (the events are of 2 November 2026), so the test holds
    on any date; without it the line is about the month the report runs in."""
    chart = tmp_path / "costs.png"
    day = ("--as-of", "2026-11-30")
    code, _, stderr = run(
        "report", "--by", "model", "--chart", str(chart), "--budget", "1000", *day
    )
    assert code == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = chart.read_bytes()
    run("report", "--by", "model", "--chart", str(chart))
    assert chart.read_bytes() == first  # deterministic: same rows, same bytes
    assert "budget ok" in stderr
    code, _, stderr = run("report", "--budget", "0.000001", *day)
    assert code == 1 and "budget critical" in stderr
    code, _, stderr = run("report", "--budget", "0.000001", "--as-of", "2026-12-01")
    assert code == 0 and "budget ok: $0.00 of" in stderr  # a new month: nothing spent yet


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "11/02/2026"), "use YYYY-MM-DD"),
        (("--until", "2026-13-01"), "use YYYY-MM-DD"),
        (("--format", "xml"), "use one of table, csv, json"),
        (("--by", "hour"), "use one of model, day"),
        (("--budget", "lots"), "is not a number"),
        (("--as-of", "30/11/2026"), "use YYYY-MM-DD"),
    ],
)
def test_bad_usage_exits_2(run: Invoke, args: tuple[str, ...], message: str) -> None:
    code, _, stderr = run("report", *args)
    assert code == 2 and message in stderr


def test_a_real_router_feeds_the_ledger(data_dir: Path) -> None:
    """build_chat_router records every event through the one sink to the ledger (once: there is
    no second file); the extractive provider costs $0, so the ledger holds one free llm event."""
    settings = load_settings()
    with Accounting(settings) as costs:
        router = build_chat_router(settings, costs, model="extractive")
        request = ChatRequest(messages=(Message("user", "What is ragline?"),), max_tokens=50)
        router.complete(request, request_id="chat-1", key="alice")
        assert isinstance(router.parts.sink, ScopedSink)
        assert router.parts.sink.sinks == (costs.ledger,)
        router.close()
    assert not (data_dir / "costs.jsonl").exists()
    reader = Ledger(LedgerConfig(), data_dir)
    assert reader.breakdown("chat-1") == {"llm": Decimal(0)}
    assert [(r.group, r.events) for r in reader.report(by="key")] == [("alice", 1)]
    reader.close()
