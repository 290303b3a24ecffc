"""The cost ledger on SQLite and this machine's PostgreSQL: exact breakdowns, reports grouped in
SQL with hand-computed totals, time windows, cost per 1k predictions, budget levels, batching
and concurrent writers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from ragline.core.costs import AUDITED_HIT, FALSE_HIT, CostEvent
from ragline.core.pricing import Price, PriceTable, from_nanos, to_nanos
from ragline.core.testing import CostSinkConformance, SinkUnderTest
from ragline.mltrack.costs.budget import budget_status
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger, LedgerError
from tests.services import POSTGRES_URL, require

pytestmark = pytest.mark.integration

D1 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC).timestamp()
D2 = datetime(2026, 11, 3, 23, 59, tzinfo=UTC).timestamp()
D3 = datetime(2026, 11, 5, 0, 0, tzinfo=UTC).timestamp()

EVENTS = [
    CostEvent("llm", "openai:gpt-4o-mini", 1200, 300, 0, 1500, Decimal("0.00036"), "r1", D1,
                key="alice", route="cascade"),
    CostEvent("embedding", "st:minilm", 40, 0, 0, 40, Decimal("0.000000105"), "r1", D1,
              key="alice"),
    CostEvent("vector_db", "qdrant:docs", 0, 0, 0, 1, Decimal("0.000004"), "r1", D1, key="alice"),
    CostEvent("llm", "openai:gpt-4o", 800, 200, 0, 1000, Decimal("0.004"), "r2", D2,
                key="bob", route="cascade"),
    CostEvent("prediction", "adult:3", 0, 0, 0, 2500, Decimal("0.005"), "r3", D3, key="bob"),
    CostEvent("prediction", "adult:3", 0, 0, 0, 1500, Decimal("0.001"), "r4", D3, key="bob"),
]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """An empty ledger: SQLite in tmp_path, or a table of its own in PostgreSQL (dropped after)."""
    table = f"ledger_test_{uuid.uuid4().hex[:12]}"
    url = None
    if request.param == "postgresql":
        parsed = urlparse(POSTGRES_URL)
        require("PostgreSQL", parsed.hostname or "127.0.0.1", parsed.port or 5432)
        url = POSTGRES_URL
    book = Ledger(LedgerConfig(url=url, table=table, batch_size=4), tmp_path)
    yield book
    book.close()
    book.table.drop(book.engine, checkfirst=True)
    book.engine.dispose()


def fill(ledger: Ledger) -> None:
    for event in EVENTS:
        ledger.record(event)


class TestLedgerSink(CostSinkConformance):
    """The ledger keeps each event as it is, on SQLite and on PostgreSQL."""

    @pytest.fixture
    def sink(self, ledger: Ledger) -> SinkUnderTest:
        return SinkUnderTest(ledger, read=ledger.events)


def test_breakdown_sums_exactly_to_the_request_total(ledger: Ledger) -> None:
    fill(ledger)
    parts = ledger.breakdown("r1")
    assert parts == {
        "embedding": Decimal("0.000000105"),
        "llm": Decimal("0.00036"),
        "vector_db": Decimal("0.000004"),
    }
    assert sum(parts.values()) == Decimal("0.000364105")
    assert ledger.breakdown("nope") == {}


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("model", [("adult:3", 2, 0, 0, "0.006"), ("openai:gpt-4o", 1, 800, 200, "0.004"),
                   ("openai:gpt-4o-mini", 1, 1200, 300, "0.00036"),
                   ("qdrant:docs", 1, 0, 0, "0.000004"), ("st:minilm", 1, 40, 0, "0.000000105")]),
        ("day", [("2026-11-02", 3, 1240, 300, "0.000364105"), ("2026-11-03", 1, 800, 200, "0.004"),
                 ("2026-11-05", 2, 0, 0, "0.006")]),
        ("route", [("-", 4, 40, 0, "0.006004105"), ("cascade", 2, 2000, 500, "0.00436")]),
        ("key", [("alice", 3, 1240, 300, "0.000364105"), ("bob", 3, 800, 200, "0.010")]),
        ("component", [("embedding", 1, 40, 0, "0.000000105"), ("llm", 2, 2000, 500, "0.00436"),
                       ("prediction", 2, 0, 0, "0.006"), ("vector_db", 1, 0, 0, "0.000004")]),
    ],
)  # fmt: skip
def test_report_groups_in_sql(
    ledger: Ledger, by: str, expected: list[tuple[str, int, int, int, str]]
) -> None:
    fill(ledger)
    rows = ledger.report(by=by)  # type: ignore[arg-type]
    got = [(r.group, r.events, r.tokens_in, r.tokens_out, r.usd) for r in rows]
    assert got == [(g, n, i, o, Decimal(usd)) for g, n, i, o, usd in expected]
    assert sum(r.usd for r in rows) == ledger.total() == Decimal("0.010364105")


def test_since_is_inclusive_and_until_exclusive(ledger: Ledger) -> None:
    fill(ledger)
    rows = ledger.report(date(2026, 11, 3), date(2026, 11, 5), by="day")
    assert [(r.group, r.usd) for r in rows] == [("2026-11-03", Decimal("0.004"))]
    assert [r.group for r in ledger.report(since=date(2026, 11, 5), by="day")] == ["2026-11-05"]
    assert ledger.total(until=datetime.fromtimestamp(D1, UTC)) == 0


def test_cost_per_1k_predictions(ledger: Ledger) -> None:
    assert ledger.cost_per_1k() is None
    fill(ledger)
    assert ledger.cost_per_1k() == Decimal("0.0015")  # $0.006 over 4,000 rows
    assert ledger.cost_per_1k("vector_db") == Decimal("0.004")


def test_budget_levels_at_a_fixed_now(ledger: Ledger) -> None:
    fill(ledger)  # $0.010364105 between Nov 2 and Nov 5
    now = datetime(2026, 11, 11, tzinfo=UTC)  # 10 days into a 30-day month
    status = ledger.budget_status(Decimal("0.05"), now)
    assert status.spent == Decimal("0.010364105")
    assert status.burn_per_day == Decimal("0.001036410")  # 0.0010364105, half-even
    assert status.projected == Decimal("0.031092315")
    assert status.level == "ok"
    assert ledger.budget_status(Decimal("0.035"), now).level == "warning"  # 89% projected
    assert ledger.budget_status(Decimal("0.03"), now).level == "critical"  # projected over
    assert ledger.budget_status(Decimal("0.01"), now).level == "critical"  # spent over


def test_budget_status_arithmetic() -> None:
    status = budget_status(Decimal(100), Decimal(50), datetime(2026, 11, 11, tzinfo=UTC))
    assert (status.burn_per_day, status.projected, status.level) == (5, 150, "critical")
    december = budget_status(Decimal(100), Decimal(0), datetime(2026, 12, 31, 12, tzinfo=UTC))
    assert december.level == "ok" and december.projected == 0
    naive = budget_status(Decimal(100), Decimal(90), datetime(2026, 2, 28))  # read as UTC
    assert naive.level == "warning"  # $90 over 27 days projects $93.33 for February


def test_batches_flush_when_full_and_on_close(tmp_path: Path) -> None:
    ledger = Ledger(LedgerConfig(batch_size=3, flush_interval_s=3600), tmp_path)
    for event in EVENTS[:2]:
        ledger.record(event)
    assert not (tmp_path / "ledger.db").exists()  # still buffered: nothing written yet
    ledger.record(EVENTS[2])  # the third fills the batch: the writer thread writes it
    engine = sa.create_engine(ledger.url)
    count = 0
    for _ in range(100):  # up to 5 s on a busy machine; a few ms usually
        threading.Event().wait(0.05)
        if sa.inspect(engine).has_table("cost_ledger"):
            with engine.connect() as conn:
                count = conn.execute(sa.text("select count(*) from cost_ledger")).scalar() or 0
        if count:
            break
    engine.dispose()
    assert count == 3
    ledger.record(EVENTS[3])
    ledger.close()
    reader = Ledger(LedgerConfig(), tmp_path)
    assert reader.total() == Decimal("0.004364105")
    reader.close()


def test_a_quiet_buffer_is_written_by_the_timer(tmp_path: Path) -> None:
    """Another process reading the ledger sees an event within flush_interval_s, even when
    nothing else is recorded after it."""
    ledger = Ledger(LedgerConfig(batch_size=1000, flush_interval_s=0.05), tmp_path)
    ledger.record(EVENTS[0])
    engine = sa.create_engine(ledger.url)
    written = 0
    for _ in range(100):  # up to 5 s on a busy machine; ~0.1 s usually
        threading.Event().wait(0.05)
        # sqlite creates the file on connect, before the writer's CREATE TABLE runs
        if (tmp_path / "ledger.db").exists() and sa.inspect(engine).has_table("cost_ledger"):
            with engine.connect() as conn:
                written = conn.execute(sa.text("select count(*) from cost_ledger")).scalar() or 0
        if written:
            break
    engine.dispose()
    assert written == 1
    assert ledger.flush() == 0  # nothing left in the buffer
    ledger.close()


def test_events_read_back_as_recorded_in_a_window(ledger: Ledger) -> None:
    fill(ledger)
    assert ledger.events() == EVENTS
    assert ledger.events(since=date(2026, 11, 5)) == EVENTS[4:]
    assert [e.request_id for e in ledger.events(until=date(2026, 11, 3))] == ["r1"] * 3


def test_a_ledger_written_by_an_older_ragline_keeps_its_rows(tmp_path: Path) -> None:
    """The table gained `cached_in` and `cache`: an old table gets the columns, rows stay."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE cost_ledger (id INTEGER PRIMARY KEY, ts FLOAT NOT NULL, day INTEGER "
            "NOT NULL, request_id VARCHAR(128) NOT NULL, component VARCHAR(16) NOT NULL, model "
            "VARCHAR(200) NOT NULL, route VARCHAR(100), key VARCHAR(100), tokens_in BIGINT NOT "
            "NULL, tokens_out BIGINT NOT NULL, units FLOAT NOT NULL, usd_nanos BIGINT NOT NULL)"
        ))  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO cost_ledger (ts, day, request_id, component, model, tokens_in, "
            f"tokens_out, units, usd_nanos) VALUES ({D1}, 20759, 'old', 'llm', 'm', 5, 1, 6, 700)"
        ))  # fmt: skip
    engine.dispose()
    ledger = Ledger(LedgerConfig(), tmp_path)
    ledger.record(EVENTS[0])
    assert ledger.breakdown("old") == {"llm": Decimal("0.0000007")}
    [old, new] = ledger.events()
    assert (old.cached_in, old.cache) == (0, None) and new == EVENTS[0]
    assert [(r.group, r.audited, r.false_hits) for r in ledger.report()] == [
        ("m", 0, 0),
        ("openai:gpt-4o-mini", 0, 0),
    ]  # no audits before there was a column to mark them in
    ledger.close()


def audit_events() -> list[CostEvent]:
    """Semantic-cache hits of two models over two days: 3 audited on gpt-4o-mini (2 false),
    one plain hit on gpt-4o (not audited)."""
    mini, big = "openai:gpt-4o-mini", "openai:gpt-4o"
    free = Decimal(0)
    return [
        CostEvent("llm", mini, 100, 20, 0, 120, free, "a1", D1, cache=AUDITED_HIT),
        CostEvent("llm", mini, 0, 0, 0, 0, free, "a2", D1, cache=FALSE_HIT),
        CostEvent("llm", mini, 0, 0, 0, 0, free, "a3", D2, cache=FALSE_HIT),
        CostEvent("llm", big, 100, 20, 0, 120, free, "h1", D2, cache="semantic"),
    ]


def test_the_report_counts_semantic_cache_audits_per_model_and_day(ledger: Ledger) -> None:
    fill(ledger)
    for event in audit_events():
        ledger.record(event)
    by_model = {r.group: (r.audited, r.false_hits, r.false_hit_rate) for r in ledger.report()}
    assert by_model["openai:gpt-4o-mini"] == (3, 2, pytest.approx(2 / 3))
    assert by_model["openai:gpt-4o"] == (0, 0, None)  # a hit nobody re-checked
    assert by_model["adult:3"] == (0, 0, None)
    by_day = [(r.group, r.audited, r.false_hits) for r in ledger.report(by="day")]
    assert by_day == [("2026-11-02", 2, 1), ("2026-11-03", 1, 1), ("2026-11-05", 0, 0)]
    assert ledger.total() == Decimal("0.010364105")  # audit marks cost nothing themselves


def test_concurrent_records_lose_nothing(ledger: Ledger) -> None:
    def writer(n: int) -> None:
        for i in range(250):
            ledger.record(
                CostEvent("llm", f"m{n}", 1, 1, 0, 2, Decimal("0.000001"), f"w{n}", D1 + i)
            )

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = ledger.report(by="model")
    assert [r.events for r in rows] == [250] * 8
    assert ledger.total() == Decimal("0.002")


def test_amounts_are_whole_nano_dollars() -> None:
    assert to_nanos(Decimal("0.00018")) == 180_000
    assert to_nanos(Decimal("0.0000000015")) == 2  # half-even: 1.5 -> 2
    assert to_nanos(Decimal("0.0000000025")) == 2  # 2.5 -> 2
    assert from_nanos(180_000) == Decimal("0.00018") and from_nanos(0) == 0


def test_bad_input_says_what_to_fix(tmp_path: Path) -> None:
    ledger = Ledger(LedgerConfig(), tmp_path)
    with pytest.raises(ValueError, match="use one of"):
        ledger.report(by="hour")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown cost kind"):
        CostEvent("gpu", "x", 0, 0, 0, 0, Decimal(0), "r", D1)  # type: ignore[arg-type]
    ledger.close()
    broken = Ledger(LedgerConfig(url="postgresql://nobody@127.0.0.1:1/none"), tmp_path)
    with pytest.raises(LedgerError, match=r"check costs\.ledger\.url"):
        broken.total()
    broken.close()


def test_the_prompt_template_round_trips(ledger: Ledger) -> None:
    asked = replace(EVENTS[0], prompt="grounded-answer@1")
    ledger.record(asked)
    ledger.record(EVENTS[1])
    assert ledger.events() == [asked, EVENTS[1]]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_ledger_from_before_prompts_gains_the_column(tmp_path: Path, engine: str) -> None:
    """A table as it was before events named their prompt template: opened, it gains `prompt`
    (its old rows read as None) and records new events with theirs."""
    url = None
    if engine == "postgresql":
        parsed = urlparse(POSTGRES_URL)
        require("PostgreSQL", parsed.hostname or "127.0.0.1", parsed.port or 5432)
        url = POSTGRES_URL
    config = LedgerConfig(url=url, table=f"ledger_old_{uuid.uuid4().hex[:12]}")
    current = Ledger(config, tmp_path).table
    columns = [
        sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
        for c in current.columns
        if c.name != "prompt"
    ]
    older = sa.Table(config.table, sa.MetaData(), *columns)
    db = sa.create_engine(config.resolved_url(tmp_path))
    older.create(db)
    with db.begin() as conn:
        row = {"ts": D1, "day": 20759, "request_id": "old", "component": "llm", "model": "m"}
        units = {"tokens_in": 5, "tokens_out": 1, "units": 6, "usd_nanos": 700, "cached_in": 0}
        conn.execute(older.insert(), [row | units])
    ledger = Ledger(config, tmp_path)
    try:
        asked = replace(EVENTS[0], prompt="judge-faithfulness@1")
        ledger.record(asked)
        [old, new] = ledger.events()
        assert (old.request_id, old.prompt) == ("old", None) and new == asked
        assert "prompt" in {c["name"] for c in sa.inspect(db).get_columns(config.table)}
    finally:
        ledger.close()
        current.drop(db, checkfirst=True)
        db.dispose()


def test_the_report_prices_prompt_cache_reads_per_group(ledger: Ledger) -> None:
    prices = PriceTable(
        {
            "openai:gpt-4o-mini": Price(input=Decimal("0.15"), output=Decimal("0.60"),
                                        cached_input=Decimal("0.075")),
            "anthropic:claude-sonnet-4-5": Price(input=Decimal("3"), output=Decimal("15"),
                                                 cached_input=Decimal("0.30")),
        }
    )  # fmt: skip
    free = Decimal(0)
    for model, cached, key in [
        ("openai:gpt-4o-mini", 2_000_000, "alice"),
        ("anthropic:claude-sonnet-4-5", 1_000_000, "alice"),
        ("anthropic:claude-sonnet-4-5", 500_000, "bob"),
        ("local:smollm2", 4_000, "bob"),  # unpriced: its reads count, their saving is unknown
    ]:
        ledger.record(CostEvent("llm", model, cached, 10, cached, 0, free, "c", D2, key=key))
    by_key = {r.group: (r.cached_in, r.cache_saved) for r in ledger.report(by="key", prices=prices)}
    # 2M x (0.15 - 0.075) / 1M + 1M x (3 - 0.30) / 1M; 0.5M x 2.70 / 1M
    assert by_key == {"alice": (3_000_000, Decimal("2.85")), "bob": (504_000, Decimal("1.35"))}
    unpriced = {r.group: (r.cached_in, r.cache_saved) for r in ledger.report(by="key")}
    assert unpriced == {"alice": (3_000_000, Decimal(0)), "bob": (504_000, Decimal(0))}
