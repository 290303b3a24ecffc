"""Truncated answers: the cap-suggestion rule pinned case by case, the per-purpose counts and
percentiles, and the ledger's `finish_reason` column (SQLite and PostgreSQL; an older table
gains it on open) that `Ledger.completions` reads back without cache hits."""

from __future__ import annotations

import doctest
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from ragline.core.costs import CostEvent
from ragline.mltrack.costs import truncation
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.mltrack.costs.truncation import (
    Completed,
    TruncationRow,
    nearest_rank,
    suggest,
    truncation_report,
)
from tests.services import POSTGRES_URL, require

TS = datetime(2026, 11, 2, 10, 0, tzinfo=UTC).timestamp()


def _call(
    tokens: int, end: str | None = "stop", prompt: str | None = "judge-faithfulness@1"
) -> Completed:
    return Completed(prompt, "vllm:m", "fixed", tokens, end)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("finished", "truncated", "expected"),
    [
        ([], 0, (None, "not recorded (no finish_reason)")),
        ([50] * 19, 1, (None, "too few calls (19 < 20 finished)")),  # 5.0%: not above 5%
        ([50] * 19, 2, (None, "raise the cap: 9.5% truncated")),
        ([50] * 95, 5, (48 + 16, "cap at 64")),  # exactly 5%: suggest from the finished
        ([100] * 99 + [1000], 0, (112, "cap at 112")),  # p99 of 100 values is the 99th: 100
        ([100] * 98 + [1000, 1000], 0, (1008, "cap at 1008")),  # two outliers reach the p99
        ([3] * 20, 0, (16, "cap at 16")),  # never below one rounding step
        ([160] * 20, 0, (160, "cap at 160")),  # a multiple of 16 stays as it is
    ],
)
def test_the_suggestion_rule(
    finished: list[int], truncated: int, expected: tuple[int | None, str]
) -> None:
    assert suggest(finished, truncated) == expected


@pytest.mark.unit
def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))
    assert [nearest_rank(values, q) for q in (0.5, 0.95, 0.99, 1.0)] == [50, 95, 99, 100]
    assert nearest_rank([7], 0.01) == 7
    with pytest.raises(ValueError, match="at least one"):
        nearest_rank([], 0.5)
    assert doctest.testmod(truncation).failed == 0


@pytest.mark.unit
def test_the_report_groups_by_purpose_model_or_route() -> None:
    calls = [_call(40 + i) for i in range(30)]  # judge: 30 finished, 40..69 tokens
    calls += [_call(96, "length", "condense@1"), _call(20, "stop", "condense@2")]
    calls += [_call(10, None, None)]  # an older row: no finish_reason, no template
    rows = truncation_report(calls)
    assert [r.group for r in rows] == ["-", "condense", "judge-faithfulness"]
    assert rows[0] == TruncationRow("-", 1, 0, None, 10, 10, 10, None, rows[0].advice)
    assert rows[0].advice == "not recorded (no finish_reason)"
    assert rows[1] == TruncationRow(
        "condense", 2, 1, 0.5, 20, 96, 96, None, "raise the cap: 50.0% truncated"
    )
    judge = rows[2]
    assert (judge.calls, judge.truncated, judge.share) == (30, 0, 0.0)
    assert (judge.p50, judge.p95, judge.max) == (54, 68, 69)
    assert (judge.suggested, judge.advice) == (80, "cap at 80")  # p99 69 -> 80
    assert [r.group for r in truncation_report(calls, "model")] == ["vllm:m"]
    assert [r.calls for r in truncation_report(calls, "route")] == [33]


def _ledger(engine: str, tmp_path: Path, table: str) -> LedgerConfig:
    url = None
    if engine == "postgresql":
        parsed = urlparse(POSTGRES_URL)
        require("PostgreSQL", parsed.hostname or "127.0.0.1", parsed.port or 5432)
        url = POSTGRES_URL
    return LedgerConfig(url=url, table=table)


BASE = CostEvent("llm", "vllm:m", 100, 40, 0, 140, Decimal("0.0001"), "r1", TS, prompt="condense@1")


@pytest.mark.integration
@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_finish_reason_round_trips_and_cache_hits_are_not_calls(
    tmp_path: Path, engine: str
) -> None:
    config = _ledger(engine, tmp_path, f"ledger_fr_{uuid.uuid4().hex[:12]}")
    ledger = Ledger(config, tmp_path)
    try:
        cut = replace(BASE, tokens_out=96, finish_reason="length")
        hit = replace(BASE, request_id="r2", usd=Decimal(0), cache="exact", finish_reason=None)
        done = replace(BASE, request_id="r3", ts=TS + 1, finish_reason="stop")
        for event in (cut, hit, done):
            ledger.record(event)
        assert ledger.events() == [cut, hit, done]
        assert ledger.completions() == [
            Completed("condense@1", "vllm:m", None, 96, "length"),
            Completed("condense@1", "vllm:m", None, 40, "stop"),
        ]
        assert ledger.completions(since=datetime.fromtimestamp(TS + 1, UTC)) == [
            Completed("condense@1", "vllm:m", None, 40, "stop")
        ]
    finally:
        ledger.close()
        ledger.table.drop(ledger.engine, checkfirst=True)
        ledger.engine.dispose()


@pytest.mark.integration
@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_ledger_from_before_finish_reasons_gains_the_column(tmp_path: Path, engine: str) -> None:
    config = _ledger(engine, tmp_path, f"ledger_old_{uuid.uuid4().hex[:12]}")
    current = Ledger(config, tmp_path).table
    columns = [
        sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
        for c in current.columns
        if c.name != "finish_reason"
    ]
    older = sa.Table(config.table, sa.MetaData(), *columns)
    db = sa.create_engine(config.resolved_url(tmp_path))
    older.create(db)
    with db.begin() as conn:
        row = {"ts": TS, "day": 20759, "request_id": "old", "component": "llm", "model": "m"}
        units = {"tokens_in": 5, "tokens_out": 1, "units": 6, "usd_nanos": 700, "cached_in": 0}
        conn.execute(older.insert(), [row | units])
    ledger = Ledger(config, tmp_path)
    try:
        ledger.record(replace(BASE, finish_reason="length"))
        [old, new] = ledger.completions()
        assert (old.finish_reason, new.finish_reason) == (None, "length")
        assert "finish_reason" in {c["name"] for c in sa.inspect(db).get_columns(config.table)}
    finally:
        ledger.close()
        current.drop(db, checkfirst=True)
        db.dispose()
