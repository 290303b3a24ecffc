"""The cost ledger: every cost event in one SQL table (SQLite by default, PostgreSQL option).

    ledger = Ledger(LedgerConfig(), Path(".ragline"))        # sqlite:///.ragline/ledger.db
    ledger.record(LedgerEntry("llm", "openai:gpt-4o-mini", 1200, 300, 1500, Decimal("0.0003"),
                              request_id="r1", ts=time.time(), key="alice"))
    ledger.breakdown("r1")        # {"llm": Decimal("0.0003"), "embedding": ..., "vector_db": ...}
    ledger.report(since, until, by="day")                     # SQL GROUP BY, one row per day
    ledger.close()                                            # flushes what is still buffered

Amounts are stored as integer nano-dollars (1e-9 USD, column `usd_nanos`): integer sums are exact
in SQLite and PostgreSQL alike, so a request's breakdown sums to its total to the last digit.
Every price in configs/pricing.yaml (USD per 1M tokens, up to three decimals) gives whole
nano-dollars per token; a finer amount (compute time priced per hour) is rounded half-even to
the nano-dollar once, when recorded. The `day` column (days since 1970-01-01 UTC) is computed
on insert, so grouping by day is the same integer GROUP BY on both engines.

Writes are buffered: `record` appends to a list and one `executemany` writes a batch when it
reaches `batch_size` or its oldest entry is `flush_interval_s` old, and on `flush`/`close`.
Reads flush first, so a ledger always sees what it recorded. There is no timer thread: an old
buffer is written by the next `record`, and `close` (serving's LedgerSink closes at exit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal, get_args

import sqlalchemy as sa

from mltrack.config import LedgerConfig
from mltrack.errors import MltrackError
from mltrack.ledger_report import (
    NANO,
    BudgetStatus,
    budget_status,
    from_nanos,
    month_start,
    to_nanos,
)
from mltrack.sql_batch import BufferedTable, TableSpec

Component = Literal["llm", "embedding", "vector_db", "prediction"]
GroupBy = Literal["model", "day", "route", "key", "component"]
_DAY_S = 86_400
When = datetime | date | None


class LedgerError(MltrackError):
    """The ledger database cannot be reached or written; the message names the URL to fix."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One billable operation: a model call, an embedding batch, a vector-DB operation or a
    batch of predictions. `units`: tokens, operations or predicted rows.

        LedgerEntry("prediction", "adult-income:3", 0, 0, 1000, Decimal("0.002"), "r1", ts)
    """

    component: Component
    model: str
    tokens_in: int
    tokens_out: int
    units: float
    usd: Decimal
    request_id: str
    ts: float
    key: str | None = None
    route: str | None = None


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One group of a report: how many events, tokens and dollars."""

    group: str
    events: int
    tokens_in: int
    tokens_out: int
    usd: Decimal


def _epoch(moment: When) -> float | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Double, nullable=False, index=True),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False, index=True),
        sa.Column("component", sa.String(16), nullable=False),
        sa.Column("model", sa.String(200), nullable=False, index=True),
        sa.Column("route", sa.String(100)),
        sa.Column("key", sa.String(100)),
        sa.Column("tokens_in", sa.BigInteger, nullable=False),
        sa.Column("tokens_out", sa.BigInteger, nullable=False),
        sa.Column("units", sa.Double, nullable=False),
        sa.Column("usd_nanos", sa.BigInteger, nullable=False),
    )


def _row(entry: LedgerEntry) -> dict[str, object]:
    if entry.component not in get_args(Component):
        raise ValueError(
            f"unknown ledger component {entry.component!r}; use one of {get_args(Component)}"
        )
    return {
        "ts": entry.ts,
        "day": int(entry.ts // _DAY_S),
        "request_id": entry.request_id,
        "component": entry.component,
        "model": entry.model,
        "route": entry.route,
        "key": entry.key,
        "tokens_in": entry.tokens_in,
        "tokens_out": entry.tokens_out,
        "units": float(entry.units),
        "usd_nanos": to_nanos(entry.usd),
    }


class Ledger(BufferedTable):
    """Buffered, thread-safe writes of `LedgerEntry` rows; reports in SQL (module docstring).

    with Ledger(LedgerConfig(batch_size=1000), data_dir) as ledger:
        ledger.record(entry)
        rows = ledger.report(by="model")
    """

    def __init__(self, config: LedgerConfig, data_dir: Path) -> None:
        self.config = config
        spec = TableSpec(
            config.resolved_url(data_dir), _table(config.table), config.batch_size,
            config.flush_interval_s, "the cost ledger", "ml.ledger.url",
        )  # fmt: skip
        super().__init__(spec, LedgerError)

    def record(self, entry: LedgerEntry) -> None:
        """Buffer one entry; write the batch when it is full or old enough."""
        self.add(_row(entry))

    def breakdown(self, request_id: str) -> dict[str, Decimal]:
        """Cost of one request by component; the values sum exactly to the request's total."""
        t = self.table
        query = (
            sa.select(t.c.component, sa.func.sum(t.c.usd_nanos))
            .where(t.c.request_id == request_id)
            .group_by(t.c.component)
            .order_by(t.c.component)
        )
        return {str(c): from_nanos(int(n)) for c, n in self.rows(query)}

    def report(
        self,
        since: When = None,
        until: When = None,
        by: GroupBy = "model",
    ) -> list[ReportRow]:
        """Events, tokens and dollars per group, for `since <= ts < until` (UTC), in SQL."""
        if by not in get_args(GroupBy):
            raise ValueError(f"cannot group by {by!r}; use one of {get_args(GroupBy)}")
        t = self.table
        column = t.c[by]
        query = (
            sa.select(
                column,
                sa.func.count(),
                sa.func.sum(t.c.tokens_in),
                sa.func.sum(t.c.tokens_out),
                sa.func.sum(t.c.usd_nanos),
            )
            .where(*self._window(since, until))
            .group_by(column)
        )
        # Sorted here, not in SQL: the engines' collations and NULL orders differ.
        found = sorted(self.rows(query), key=lambda row: (row[0] is not None, row[0]))
        return [
            ReportRow(_label(by, g), int(n), int(ti), int(to), from_nanos(int(usd)))
            for g, n, ti, to, usd in found
        ]

    def total(self, since: When = None, until: When = None) -> Decimal:
        """The exact dollars recorded in the window."""
        query = sa.select(sa.func.sum(self.table.c.usd_nanos)).where(*self._window(since, until))
        (value,) = self.rows(query)[0]
        return from_nanos(int(value or 0))

    def cost_per_1k(
        self,
        component: Component = "prediction",
        since: When = None,
        until: When = None,
    ) -> Decimal | None:
        """Dollars per 1,000 units of `component` (predicted rows); None when there were none."""
        t = self.table
        query = sa.select(sa.func.sum(t.c.usd_nanos), sa.func.sum(t.c.units)).where(
            t.c.component == component, *self._window(since, until)
        )
        nanos, units = self.rows(query)[0]
        if not units:
            return None
        return (from_nanos(int(nanos or 0)) * 1000 / Decimal(str(units))).quantize(NANO)

    def budget_status(self, monthly_budget: Decimal, now: datetime | None = None) -> BudgetStatus:
        """Month-to-date spend, burn rate per day, projection and alert level at `now` (UTC)."""
        now = now or datetime.now(UTC)
        spent = self.total(month_start(now), now)
        return budget_status(monthly_budget, spent, now)

    def _window(self, since: When, until: When) -> list[sa.ColumnElement[bool]]:
        ts, low, high = self.table.c.ts, _epoch(since), _epoch(until)
        return [
            *([] if low is None else [ts >= low]),
            *([] if high is None else [ts < high]),
        ]


def _label(by: GroupBy, group: object) -> str:
    if group is None:
        return "-"
    if by == "day":
        return datetime.fromtimestamp(int(str(group)) * _DAY_S, UTC).date().isoformat()
    return str(group)
