"""Serving health, pure: window statistics of the request log and their comparison.

    ref = window_stats(reference_window, cost_usd=Decimal("1.20"))
    cur = window_stats(current_window, cost_usd=Decimal("3.90"))
    report = compare_windows(ref, cur, HealthThresholds())
    report.severity                    # "ok" | "warning" | "critical" | "insufficient_data"
    report.observations()              # Observations for ragline.mltrack.monitor.alerts

Latency percentiles are exact over the window's requests (numpy's linear interpolation);
the error rate counts 5xx answers (a 4xx is the client's mistake, not the service failing);
throughput and cost are per hour, so windows of different lengths compare; the cache hit
rate is over the requests that looked up a cache. A current window with fewer than
`min_requests` requests says "insufficient data" for the request metrics instead of alarming.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Literal

import numpy as np

from ragline.mltrack.costs.budget import BudgetStatus
from ragline.mltrack.monitor.alerts import Observation
from ragline.mltrack.monitor.config import HealthThresholds
from ragline.mltrack.monitor.request_log import CACHE_HIT, CACHE_NONE, RequestWindow

Severity = Literal["ok", "warning", "critical", "insufficient_data"]
_ORDER: dict[Severity, int] = {"insufficient_data": 0, "ok": 1, "warning": 2, "critical": 3}
_WINDOW = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_window(text: str) -> timedelta:
    """A window like 30m, 12h, 1d or 2w as a timedelta; a clear error for anything else.

    >>> parse_window("1d") == timedelta(days=1)
    True
    """
    match = _WINDOW.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"window {text!r}: use a positive count and a unit m, h, d or w (1d, 12h)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True, slots=True)
class WindowStats:
    """What one window of requests looked like."""

    hours: float
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    cache_lookups: int
    cache_hits: int
    cost_usd: Decimal

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def per_hour(self) -> float:
        return self.requests / self.hours

    @property
    def cache_hit_rate(self) -> float | None:
        return self.cache_hits / self.cache_lookups if self.cache_lookups else None

    @property
    def cost_per_hour(self) -> float:
        return float(self.cost_usd) / self.hours


def window_stats(window: RequestWindow, cost_usd: Decimal = Decimal(0)) -> WindowStats:
    """Counts, latency percentiles and cache outcomes of `window` (vectorised)."""
    hours = max(window.until - window.since, 1e-9) / 3600
    latency = window.latency_ms
    p50 = p95 = p99 = None
    if latency.size:
        p50, p95, p99 = (float(v) for v in np.percentile(latency, [50, 95, 99]))
    return WindowStats(
        hours=hours,
        requests=int(window.ts.size),
        errors=int(np.count_nonzero(window.status >= 500)),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        cache_lookups=int(np.count_nonzero(window.cache != CACHE_NONE)),
        cache_hits=int(np.count_nonzero(window.cache == CACHE_HIT)),
        cost_usd=cost_usd,
    )


@dataclass(frozen=True, slots=True)
class MetricStatus:
    """One line of the status table: a metric in both windows and its severity."""

    name: str
    unit: str
    reference: float | None
    current: float | None
    severity: Severity
    reason: str

    @property
    def ratio(self) -> float | None:
        if self.reference is None or self.current is None or self.reference == 0:
            return None
        return self.current / self.reference


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The status table of `ragline monitor check` and its overall severity."""

    reference: WindowStats
    current: WindowStats
    metrics: tuple[MetricStatus, ...]

    @property
    def severity(self) -> Severity:
        """The worst metric's severity; "insufficient_data" instead of "ok" when a metric
        could not be judged (too few requests cannot vouch for health)."""
        ok: Severity = "ok"
        worst = max((m.severity for m in self.metrics), key=_ORDER.__getitem__, default=ok)
        if worst == "ok" and any(m.severity == "insufficient_data" for m in self.metrics):
            return "insufficient_data"
        return worst

    def observations(self) -> list[Observation]:
        """Every measured value as an alert observation: `<metric>` and `<metric>_ratio`."""
        found: list[Observation] = []
        for m in self.metrics:
            if m.current is not None:
                found.append(Observation(m.name, m.current, key="serving"))
            if m.ratio is not None:
                found.append(Observation(f"{m.name}_ratio", m.ratio, key="serving"))
        return found


def _ratio_severity(
    ratio: float | None, warning: float, critical: float, higher_is_worse: bool = True
) -> Severity:
    if ratio is None:
        return "ok"
    if higher_is_worse:
        return "critical" if ratio > critical else "warning" if ratio > warning else "ok"
    return "critical" if ratio < critical else "warning" if ratio < warning else "ok"


def _latency(name: str, ref: float | None, cur: float | None, t: HealthThresholds) -> MetricStatus:
    ratio = cur / ref if ref and cur is not None else None
    severity = _ratio_severity(ratio, t.latency_ratio_warning, t.latency_ratio_critical)
    reason = "no reference requests" if ratio is None else f"{ratio:.2f}x the reference"
    return MetricStatus(name, "ms", ref, cur, severity, reason)


def _error_rate(ref: WindowStats, cur: WindowStats, t: HealthThresholds) -> MetricStatus:
    rate = cur.error_rate or 0.0
    severity: Severity = "ok"
    if rate > t.error_rate_critical:
        severity = "critical"
    elif rate > t.error_rate_warning:
        severity = "warning"
    reason = f"{cur.errors} of {cur.requests} answers were 5xx"
    return MetricStatus("error_rate", "", ref.error_rate, cur.error_rate, severity, reason)


def _throughput(ref: WindowStats, cur: WindowStats, t: HealthThresholds) -> MetricStatus:
    ratio = cur.per_hour / ref.per_hour if ref.requests else None
    warn, crit = t.throughput_drop_warning, t.throughput_drop_critical
    severity = _ratio_severity(ratio, warn, crit, higher_is_worse=False)
    reason = f"{ratio:.2f}x the reference rate" if ratio is not None else "no reference requests"
    if ratio is None:
        severity = "insufficient_data"
    return MetricStatus("requests_per_hour", "/h", ref.per_hour, cur.per_hour, severity, reason)


def _cache(ref: WindowStats, cur: WindowStats, t: HealthThresholds) -> MetricStatus:
    before, now = ref.cache_hit_rate, cur.cache_hit_rate
    severity: Severity = "ok"
    reason = "no cache lookups in one of the windows"
    if before is not None and now is not None:
        fall = before - now
        severity = "warning" if fall > t.cache_drop_warning else "ok"
        reason = f"{fall * 100:+.1f} points fall" if fall > 0 else "no fall"
    return MetricStatus("cache_hit_rate", "", before, now, severity, reason)


def _cost(ref: WindowStats, cur: WindowStats, t: HealthThresholds) -> MetricStatus:
    before, now = ref.cost_per_hour, cur.cost_per_hour
    ratio = now / before if before else None
    severity = _ratio_severity(ratio, t.cost_ratio_warning, t.cost_ratio_critical)
    reason = f"${cur.cost_usd} over {cur.hours:g} h"
    if ratio is not None:
        reason += f", {ratio:.2f}x the reference burn"
    return MetricStatus("cost_usd_per_hour", "$/h", before, now, severity, reason)


def _budget(status: BudgetStatus) -> MetricStatus:
    reason = (
        f"${status.spent} spent this month, ${status.burn_per_day}/day projects "
        f"${status.projected} against ${status.budget}"
    )
    budget, projected = float(status.budget), float(status.projected)
    return MetricStatus("month_projection_usd", "$", budget, projected, status.level, reason)


def compare_windows(
    ref: WindowStats, cur: WindowStats, t: HealthThresholds, budget: BudgetStatus | None = None
) -> HealthReport:
    """Each metric's severity, current against reference (module docstring); with a monthly
    budget's status, the month's projection against the budget as well."""
    request_metrics = [
        _latency("latency_p50_ms", ref.p50_ms, cur.p50_ms, t),
        _latency("latency_p95_ms", ref.p95_ms, cur.p95_ms, t),
        _latency("latency_p99_ms", ref.p99_ms, cur.p99_ms, t),
        _error_rate(ref, cur, t),
        _cache(ref, cur, t),
    ]
    if cur.requests < t.min_requests:
        why = f"{cur.requests} current requests < min_requests {t.min_requests}"
        request_metrics = [
            MetricStatus(m.name, m.unit, m.reference, m.current, "insufficient_data", why)
            for m in request_metrics
        ]
    # throughput and cost are judged whatever the count: a collapse to zero is the alarm itself
    metrics = (*request_metrics, _throughput(ref, cur, t), _cost(ref, cur, t))
    if budget is not None:
        metrics = (*metrics, _budget(budget))
    return HealthReport(ref, cur, metrics)
