"""`ragline costs` on a real ledger: reports as table, CSV and JSON, a PNG chart, the budget line,
one request's breakdown; and the ledger fed by a real Router through `build_chat_router`."""

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

from llm_router.costs import CostEvent, FanoutSink, MemorySink
from llm_router.types import ChatRequest, Message
from mltrack.config import LedgerConfig
from mltrack.ledger import Ledger
from serving.costs_cli import costs_app
from serving.ledger_sink import (
    LedgerSink,
    embedding_cost,
    embedding_event,
    prediction_event,
    to_entry,
    vector_event,
)
from serving.settings import load_settings
from serving.wiring import build_chat_router

Invoke = Callable[..., tuple[int, str, str]]
TS = datetime(2026, 11, 2, 12, tzinfo=UTC).timestamp()


def clock() -> float:
    return TS


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


@pytest.fixture
def sink(data_dir: Path) -> Iterator[LedgerSink]:
    """A LedgerSink fed one priced query ("q1": a model call, an embedding, a vector search)
    and a prediction batch ("p1"), then flushed."""
    ledger_sink = LedgerSink.open(data_dir, LedgerConfig(batch_size=2))
    events = [
        CostEvent("llm", "openai:gpt-4o-mini", 1200, 300, 1000, 1500, Decimal("0.0003"), "q1", TS,
                  key="alice", route="fixed"),
        embedding_event("st:minilm", 1.8, Decimal("0.60"), "q1", tokens=12, clock=clock),
        vector_event("qdrant:docs", 1, Decimal("0.000002"), "q1", clock=clock),
        prediction_event("adult:3", 4000, Decimal("0.002"), "p1", key="bob", clock=clock),
    ]  # fmt: skip
    for event in events:
        ledger_sink.record(event)
    ledger_sink.flush()
    yield ledger_sink
    ledger_sink.close()


def test_breakdown_of_one_query_sums_exactly(run: Invoke, sink: LedgerSink) -> None:
    code, stdout, _ = run("breakdown", "q1")
    assert code == 0
    lines = dict(line.split() for line in stdout.splitlines())
    assert lines == {
        "embedding": "$0.0003",  # 1.8 s at $0.60/h
        "llm": "$0.0003",
        "vector_db": "$0.000002",
        "total": "$0.000602",
    }
    assert sum(sink.ledger.breakdown("q1").values()) == Decimal("0.000602")
    code, _, stderr = run("breakdown", "missing")
    assert code == 2 and "no cost recorded" in stderr


def test_report_as_csv_json_and_table(run: Invoke, sink: LedgerSink) -> None:
    code, stdout, _ = run("report", "--by", "component", "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(stdout)))
    assert rows == [
        ["component", "events", "tokens_in", "tokens_out", "usd"],
        ["embedding", "1", "12", "0", "0.0003"],
        ["llm", "1", "1200", "300", "0.0003"],
        ["prediction", "1", "0", "0", "0.002"],
        ["vector_db", "1", "0", "0", "0.000002"],
    ]
    code, stdout, _ = run("report", "--by", "key", "--format", "json", "--since", "2026-11-01")
    assert code == 0
    assert json.loads(stdout) == [
        {"key": "-", "events": 2, "tokens_in": 12, "tokens_out": 0, "usd": "0.000302"},
        {"key": "alice", "events": 1, "tokens_in": 1200, "tokens_out": 300, "usd": "0.0003"},
        {"key": "bob", "events": 1, "tokens_in": 0, "tokens_out": 0, "usd": "0.002"},
    ]
    code, stdout, _ = run("report", "--by", "day")
    assert code == 0 and "2026-11-02" in stdout and "4 events, $0.002602" in stdout
    code, stdout, _ = run("report", "--until", "2026-11-02", "--format", "json")
    assert code == 0 and json.loads(stdout) == []


def test_chart_and_budget_line(run: Invoke, sink: LedgerSink, tmp_path: Path) -> None:
    chart = tmp_path / "costs.png"
    code, _, stderr = run("report", "--by", "model", "--chart", str(chart), "--budget", "1000")
    assert code == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = chart.read_bytes()
    run("report", "--by", "model", "--chart", str(chart))
    assert chart.read_bytes() == first  # deterministic: same rows, same bytes
    assert "budget ok" in stderr
    code, _, stderr = run("report", "--budget", "0.000001")
    assert code == 1 and "budget critical" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "11/02/2026"), "use YYYY-MM-DD"),
        (("--until", "2026-13-01"), "use YYYY-MM-DD"),
        (("--format", "xml"), "use one of table, csv, json"),
        (("--by", "hour"), "use one of model, day"),
        (("--budget", "lots"), "is not a number"),
    ],
)
def test_bad_usage_exits_2(run: Invoke, args: tuple[str, ...], message: str) -> None:
    code, _, stderr = run("report", *args)
    assert code == 2 and message in stderr


def test_embedding_cost_is_priced_per_hour() -> None:
    assert embedding_cost(1.8, Decimal("0.60")) == Decimal("0.0003")
    assert embedding_cost(1, Decimal("1")) == Decimal("0.000277778")  # 1/3600, to the nano
    with pytest.raises(ValueError, match="must be >= 0"):
        embedding_cost(-1, Decimal(1))


def test_vector_events_become_vector_db_entries() -> None:
    entry = to_entry(vector_event("qdrant:docs", 3, Decimal("0.01"), "r9", key="k", clock=clock))
    assert (entry.component, entry.units, entry.usd, entry.key) == (
        "vector_db",
        3,
        Decimal("0.01"),
        "k",
    )


def test_a_real_router_feeds_the_ledger(data_dir: Path) -> None:
    """build_chat_router sends every event to costs.jsonl and the ledger; the extractive
    provider costs $0, so the ledger holds one free llm event for the request."""
    router = build_chat_router(load_settings(), model="extractive")
    request = ChatRequest(messages=(Message("user", "What is ragline?"),), max_tokens=50)
    router.complete(request, request_id="chat-1", key="alice")
    fanout = router.parts.sink
    assert isinstance(fanout, FanoutSink)
    ledger_sink = fanout.sinks[1]
    assert isinstance(ledger_sink, LedgerSink)
    router.close()
    ledger_sink.close()  # the router does not close its sink; the finalizer would at exit
    assert (data_dir / "costs.jsonl").read_text().count("chat-1") == 1
    reader = Ledger(LedgerConfig(), data_dir)
    assert reader.breakdown("chat-1") == {"llm": Decimal(0)}
    assert [(r.group, r.events) for r in reader.report(by="key")] == [("alice", 1)]
    reader.close()


def test_priced_events_through_a_fanout_reach_both_sinks(data_dir: Path) -> None:
    memory = MemorySink()
    ledger_sink = LedgerSink.open(data_dir)
    fanout = FanoutSink(memory, ledger_sink)
    for usd in ("0.000123", "0.000456", "0.000789"):
        fanout.record(CostEvent("llm", "openai:gpt-4o", 10, 5, 0, 15, Decimal(usd), "r", TS))
    ledger_sink.close()
    reader = Ledger(LedgerConfig(), data_dir)
    assert reader.breakdown("r") == {"llm": memory.total_usd()} == {"llm": Decimal("0.001368")}
    reader.close()
