"""The cost ledger: every cost event in one SQL table (SQLite by default, PostgreSQL option).

    ledger = Ledger(LedgerConfig(), Path(".ragline"))        # sqlite:///.ragline/ledger.db
    ledger.record(CostEvent("llm", "openai:gpt-4o-mini", 1200, 300, 0, 1500, Decimal("0.0003"),
                            request_id="r1", ts=time.time(), key="alice"))
    ledger.breakdown("r1")        # {"llm": Decimal("0.0003"), "embedding": ..., "vector_db": ...}
    ledger.events(since, until)   # the events back, as recorded (`ragline costs export`)
    ledger.report(since, until, by="day")                     # SQL GROUP BY, one row per day
    ledger.close()                                            # flushes what is still buffered

Amounts are stored as integer nano-dollars (1e-9 USD, column `usd_nanos`): integer sums are exact
in SQLite and PostgreSQL alike, so a request's breakdown sums to its total to the last digit.
Every price in configs/pricing.yaml (USD per 1M tokens, up to three decimals) gives whole
nano-dollars per token; a finer amount (compute time priced per hour) is rounded half-even to
the nano-dollar once, when recorded. The `day` column (days since 1970-01-01 UTC) is computed
on insert, so grouping by day is the same integer GROUP BY on both engines.

The ledger is a `ragline.core.costs.CostSink`: it stores each `CostEvent` as it is (its kind
in the `component` column; `prompt` is a chat request's template id, "grounded-answer@1";
`finish_reason` how a model call ended, "length" when max_tokens cut it: `completions`).
A ledger written by an older ragline gains the columns it lacks when it is opened
(`BufferedTable` adds them, nullable), so its rows stay readable. Writes are buffered
(`ragline.mltrack.sql_batch`): one `executemany` per `batch_size` events, or once the oldest
is `flush_interval_s` old, and on `flush`/`close`/exit. Reads flush first, so a ledger always
sees what it recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, cast, get_args

import sqlalchemy as sa

from ragline.core.costs import AUDITS, FALSE_HIT, CostEvent, CostKind
from ragline.core.pricing import NANO, PriceTable, from_nanos, to_nanos
from ragline.mltrack.costs.budget import BudgetStatus, budget_status, month_start
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.truncation import Completed
from ragline.mltrack.errors import MltrackError
from ragline.mltrack.sql_batch import BufferedTable, TableSpec

GroupBy = Literal["model", "day", "route", "key", "component"]
_DAY_S = 86_400
When = datetime | date | None


class LedgerError(MltrackError):
    """The ledger database cannot be reached or written; the message names the URL to fix."""


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One group of a report: how many events, tokens and dollars, and how many semantic-cache
    hits the router re-checked against the model (`audited`) and found wrong (`false_hits`;
    events marked `ragline.core.costs.AUDITED_HIT` / `FALSE_HIT`).

        ReportRow("openai:gpt-4o-mini", 10, 900, 120, Decimal("0.01"), 4, 1).false_hit_rate == 0.25
    """

    group: str
    events: int
    tokens_in: int
    tokens_out: int
    usd: Decimal
    audited: int = 0
    false_hits: int = 0
    cached_in: int = 0  # prompt tokens the providers read from their prompt caches
    cache_saved: Decimal = Decimal(0)  # what those tokens would have cost more at the input rate

    @property
    def false_hit_rate(self) -> float | None:
        """False hits per audit; None when nothing in the group was audited."""
        return self.false_hits / self.audited if self.audited else None


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
        sa.Column("cached_in", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cache", sa.String(16)),
        sa.Column("prompt", sa.String(200)),  # added on open to a ledger that lacks it
        sa.Column("finish_reason", sa.String(16)),  # likewise; null: not a model call, or older
    )


def _row(event: CostEvent) -> dict[str, object]:
    return {
        "ts": event.ts,
        "day": int(event.ts // _DAY_S),
        "request_id": event.request_id,
        "component": event.kind,
        "model": event.model,
        "route": event.route,
        "key": event.key,
        "tokens_in": event.tokens_in,
        "tokens_out": event.tokens_out,
        "units": float(event.units),
        "usd_nanos": to_nanos(event.usd),
        "cached_in": event.cached_in,
        "cache": event.cache,
        "prompt": event.prompt,
        "finish_reason": event.finish_reason,
    }


class Ledger(BufferedTable):
    """A thread-safe `CostSink` writing every event in batches; reports in SQL (module docstring).

    with Ledger(LedgerConfig(batch_size=1000), data_dir) as ledger:
        ledger.record(event)
        rows = ledger.report(by="model")
    """

    def __init__(self, config: LedgerConfig, data_dir: Path) -> None:
        self.config = config
        spec = TableSpec(
            config.resolved_url(data_dir),
            _table(config.table),
            config.batch_size,
            config.flush_interval_s,
            "the cost ledger",
            "costs.ledger.url",
            data_dir / "spill",
        )
        super().__init__(spec, LedgerError)

    def record(self, event: CostEvent) -> None:
        """Buffer one event; the batch is written when full or old enough."""
        self.add(_row(event))

    def events(self, since: When = None, until: When = None) -> list[CostEvent]:
        """The events recorded in the window, oldest first, as they were recorded (amounts
        rounded to the nano-dollar, as stored)."""
        t = self.table
        query = sa.select(t).where(*self._window(since, until)).order_by(t.c.ts, t.c.id)
        return [_event(row) for row in self.mappings(query)]

    def completions(self, since: When = None, until: When = None) -> list[Completed]:
        """The model calls in the window (cache hits left out), for the truncation report
        (`ragline.mltrack.costs.truncation`), oldest first."""
        t = self.table
        query = (
            sa.select(t.c.prompt, t.c.model, t.c.route, t.c.tokens_out, t.c.finish_reason)
            .where(t.c.component == "llm", t.c.cache.is_(None), *self._window(since, until))
            .order_by(t.c.ts, t.c.id)
        )
        return [Completed(p, m, r, int(n), f) for p, m, r, n, f in self.rows(query)]

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
        prices: PriceTable | None = None,
    ) -> list[ReportRow]:
        """Events, tokens, dollars, semantic-cache audits and prompt-cache reads per group, for
        `since <= ts < until` (UTC), in SQL; with `prices`, what the cache reads saved."""
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
                sa.func.sum(sa.case((t.c.cache.in_(AUDITS), 1), else_=0)),
                sa.func.sum(sa.case((t.c.cache == FALSE_HIT, 1), else_=0)),
            )
            .where(*self._window(since, until))
            .group_by(column)
        )
        # Sorted here, not in SQL: the engines' collations and NULL orders differ.
        found = sorted(self.rows(query), key=lambda row: (row[0] is not None, row[0]))
        cached = self._cached(since, until, by, prices)
        rows = []
        for g, n, ti, to, usd, a, f in found:
            tokens, saved = cached.get(g, (0, Decimal(0)))
            usage = (int(n), int(ti), int(to), from_nanos(int(usd)), int(a), int(f))
            rows.append(ReportRow(_label(by, g), *usage, tokens, saved))
        return rows

    def _cached(
        self, since: When, until: When, by: GroupBy, prices: PriceTable | None
    ) -> dict[object, tuple[int, Decimal]]:
        """Per group: prompt-cache tokens read, and the dollars they saved (each model's input
        rate minus its cached rate, from `prices`; an unpriced model saved nothing known)."""
        t = self.table
        query = (
            sa.select(t.c[by], t.c.model, sa.func.sum(t.c.cached_in))
            .where(*self._window(since, until), t.c.component == "llm", t.c.cached_in > 0)
            .group_by(t.c[by], t.c.model)
        )
        out: dict[object, tuple[int, Decimal]] = {}
        for group, model, tokens in self.rows(query):
            saved = prices.cache_saving(str(model), int(tokens)) if prices else None
            before = out.get(group, (0, Decimal(0)))
            out[group] = (before[0] + int(tokens), before[1] + (saved or Decimal(0)))
        return out

    def total(self, since: When = None, until: When = None) -> Decimal:
        """The exact dollars recorded in the window."""
        query = sa.select(sa.func.sum(self.table.c.usd_nanos)).where(*self._window(since, until))
        (value,) = self.rows(query)[0]
        return from_nanos(int(value or 0))

    def cost_per_1k(
        self,
        component: CostKind = "prediction",
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

    def budget_status(self, monthly_budget: Decimal, now: datetime) -> BudgetStatus:
        """Month-to-date spend, burn rate per day, projection and alert level at `now` (UTC;
        callers pass their clock's time, so a report is reproducible)."""
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


def _event(row: Mapping[str, Any]) -> CostEvent:
    return CostEvent(
        kind=_kind(row["component"]),
        model=row["model"],
        tokens_in=int(row["tokens_in"]),
        tokens_out=int(row["tokens_out"]),
        cached_in=int(row["cached_in"] or 0),
        units=float(row["units"]),
        usd=from_nanos(int(row["usd_nanos"])),
        request_id=row["request_id"],
        ts=float(row["ts"]),
        key=row["key"],
        route=row["route"],
        cache=row["cache"],
        prompt=row["prompt"],
        finish_reason=row["finish_reason"],
    )


def _kind(value: str) -> CostKind:
    if value in get_args(CostKind):
        return cast(CostKind, value)
    raise LedgerError(
        f"the ledger holds an unknown cost kind {value!r}; is it from a newer ragline?"
    )
