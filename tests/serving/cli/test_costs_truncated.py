"""`ragline costs report --truncated` on a real ledger: per purpose (or model, route) the calls,
the truncated ones (finish_reason "length") and their share, completion tokens p50/p95/max and
the suggested cap, as table, CSV and JSON; the money report is unchanged without the flag."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ragline.core.costs import CostEvent
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.costs import costs_app

Invoke = Callable[..., tuple[int, str, str]]
TS = datetime(2026, 11, 2, 12, tzinfo=UTC).timestamp()
CALL = CostEvent("llm", "vllm:small", 300, 50, 0, 350, Decimal("0.0001"), "q", TS, route="fixed")


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """A ledger holding 30 judge calls that finished (40..69 tokens), two condense calls (one
    cut at 96), one exact-cache hit (not a model call) and an embedding; `costs ...` on it."""
    folder = tmp_path / ".ragline"
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(folder))
    monkeypatch.delenv("RAGLINE_CONFIG", raising=False)
    events = [
        replace(CALL, tokens_out=40 + i, prompt="judge-faithfulness@1", finish_reason="stop")
        for i in range(30)
    ]
    events += [
        replace(CALL, tokens_out=96, prompt="condense@1", finish_reason="length"),
        replace(CALL, tokens_out=20, prompt="condense@1", finish_reason="stop"),
        replace(CALL, usd=Decimal(0), prompt="condense@1", cache="exact"),
        CostEvent("embedding", "embedding:minilm", 12, 0, 0, 12, Decimal("0.0003"), "q", TS),
    ]
    with Ledger(LedgerConfig(), folder) as ledger:
        for event in events:
            ledger.record(event)
    app = typer.Typer()
    app.add_typer(costs_app, name="costs")

    def invoke(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, ["costs", *args])
        return result.exit_code, result.stdout, result.stderr

    return invoke


@pytest.mark.unit
def test_the_truncated_report_per_purpose(run: Invoke) -> None:
    code, out, err = run("report", "--truncated", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [
        {"purpose": "condense", "calls": 2, "truncated": 1, "share": 0.5, "p50": 20, "p95": 96,
         "max": 96, "suggested_cap": None, "advice": "raise the cap: 50.0% truncated"},
        {"purpose": "judge-faithfulness", "calls": 30, "truncated": 0, "share": 0.0, "p50": 54,
         "p95": 68, "max": 69, "suggested_cap": 80, "advice": "cap at 80"},
    ]  # fmt: skip
    assert "32 model calls, 1 truncated (finish_reason length)" in err

    code, out, _ = run("report", "--truncated")
    assert code == 0
    assert "suggested_cap" in out and "raise the cap: 50.0% truncated" in out
    assert "50.0%" in out and "cap at 80" in out

    code, out, _ = run("report", "--truncated", "--by", "model", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:4] == ["model", "calls", "truncated", "share"]
    assert rows[1][:4] == ["vllm:small", "32", "1", "0.0312"]


@pytest.mark.unit
def test_bad_grouping_and_the_plain_report(run: Invoke) -> None:
    code, _, err = run("report", "--truncated", "--by", "day")
    assert code == 2 and "use one of purpose, model, route" in err
    code, out, _ = run("report", "--format", "json")  # without the flag: dollars by model
    assert code == 0 and [r["model"] for r in json.loads(out)] == ["embedding:minilm", "vllm:small"]


@pytest.mark.integration
def test_a_chat_cut_by_max_tokens_shows_in_the_report(
    llama_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ragline chat --max-tokens 2` against the real llama.cpp server, then the report."""
    from ragline.serving.cli.app import app
    from tests.llm_router.llama_server import MODEL_ALIAS

    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("RAGLINE_LLM__VLLM__BASE_URL", llama_server_url)
    monkeypatch.delenv("RAGLINE_CONFIG", raising=False)
    runner = CliRunner()
    story = "Tell me a long story about a lighthouse keeper."
    chat = runner.invoke(
        app, ["chat", story, "--model", f"vllm:{MODEL_ALIAS}", "--max-tokens", "2"]
    )
    assert chat.exit_code == 0, chat.output
    report = runner.invoke(
        app, ["costs", "report", "--truncated", "--by", "model", "--format", "json"]
    )
    assert report.exit_code == 0, report.output
    [row] = json.loads(report.stdout)
    assert (row["model"], row["calls"], row["truncated"]) == (f"vllm:{MODEL_ALIAS}", 1, 1)
    assert row["max"] <= 2 and row["advice"] == "raise the cap: 100.0% truncated"
