"""A monthly budget's burn rate and projection (the nano-dollar arithmetic is
`ragline.core.pricing`).

    budget_status(Decimal(100), Decimal(50), datetime(2026, 11, 11, tzinfo=UTC)).level
    # 'critical': $5/day for 10 days projects $150 over the 30-day month

Pure functions on typed values; `ragline.mltrack.costs.ledger` does the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from ragline.core.pricing import NANO

AlertLevel = Literal["ok", "warning", "critical"]


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
