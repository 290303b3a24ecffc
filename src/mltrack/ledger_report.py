"""Cost arithmetic of the ledger: whole nano-dollars, and a monthly budget's burn rate.

    to_nanos(Decimal("0.00018"))                 # 180_000: what the ledger stores
    budget_status(Decimal(100), Decimal(50), datetime(2026, 11, 11, tzinfo=UTC)).level
    # 'critical': $5/day for 10 days projects $150 over the 30-day month

Pure functions on typed values; `mltrack.ledger` does the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

AlertLevel = Literal["ok", "warning", "critical"]
NANO = Decimal("1e-9")


def to_nanos(usd: Decimal) -> int:
    """Whole nano-dollars, rounded half-even: `to_nanos(Decimal("0.00018")) == 180_000`."""
    return int(usd.quantize(NANO, rounding=ROUND_HALF_EVEN).scaleb(9))


def from_nanos(nanos: int) -> Decimal:
    """The exact Decimal of `nanos` nano-dollars: `from_nanos(180_000) == Decimal("0.00018")`."""
    return Decimal(nanos).scaleb(-9).normalize() if nanos else Decimal(0)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Month to date against a monthly budget; `level` is "critical" when the month's
    projection or spend is over budget, "warning" when the projection passes 80% of it."""

    budget: Decimal
    spent: Decimal
    burn_per_day: Decimal
    projected: Decimal
    level: AlertLevel


def budget_status(budget: Decimal, spent: Decimal, now: datetime) -> BudgetStatus:
    """Burn rate and projection of `spent` so far in `now`'s month (UTC), and the alert level.

    budget_status(Decimal(100), Decimal(50), datetime(2026, 11, 11, tzinfo=UTC)).level
    # 'critical': $5/day over 10 days projects $150 for 30 days
    """
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    start = month_start(now)
    elapsed = Decimal(str(max((now - start).total_seconds(), 1.0))) / 86_400
    days = Decimal((_next_month(start) - start).days)
    burn = (spent / elapsed).quantize(NANO)
    projected = (spent / elapsed * days).quantize(NANO)
    level: AlertLevel = "ok"
    if projected > budget or spent > budget:
        level = "critical"
    elif projected > budget * Decimal("0.8"):
        level = "warning"
    return BudgetStatus(budget, spent, burn, projected, level)


def month_start(now: datetime) -> datetime:
    """The first instant of `now`'s month, in UTC (a naive `now` is read as UTC)."""
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)
