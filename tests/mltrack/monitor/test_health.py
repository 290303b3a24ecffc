"""Serving health statistics against hand-computed values, and the severities they lead to."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest

from ragline.mltrack.monitor.config import HealthThresholds
from ragline.mltrack.monitor.health import compare_windows, parse_window, window_stats
from ragline.mltrack.monitor.request_log import CACHE_HIT, CACHE_MISS, CACHE_NONE, RequestWindow

HOUR = 3600.0


def window(latency: list[float], status: list[int] | None = None,
           cache: list[int] | None = None, hours: float = 1.0) -> RequestWindow:  # fmt: skip
    n = len(latency)
    return RequestWindow(
        since=0.0,
        until=hours * HOUR,
        ts=np.linspace(0, hours * HOUR - 1, n),
        status=np.array(status or [200] * n, dtype=np.int32),
        latency_ms=np.array(latency, dtype=np.float64),
        cache=np.array(cache or [CACHE_NONE] * n, dtype=np.int8),
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("1d", timedelta(days=1)),
     ("2w", timedelta(weeks=2))],
)  # fmt: skip
def test_parse_window(text: str, expected: timedelta) -> None:
    assert parse_window(text) == expected


@pytest.mark.unit
@pytest.mark.parametrize("text", ["", "1", "d", "0d", "1y", "-1d", "1.5h"])
def test_parse_window_refuses_with_the_fix(text: str) -> None:
    with pytest.raises(ValueError, match="unit m, h, d or w"):
        parse_window(text)


@pytest.mark.unit
def test_window_stats_by_hand() -> None:
    # latencies 1..100 ms: linear-interpolated percentiles at ranks 0.5*99, 0.95*99, 0.99*99
    status = [200] * 90 + [404] * 5 + [500, 502, 503, 504, 429]
    cache = [CACHE_HIT] * 30 + [CACHE_MISS] * 10 + [CACHE_NONE] * 60
    stats = window_stats(window([float(i) for i in range(1, 101)], status, cache, hours=2.0),
                         Decimal("0.50"))  # fmt: skip
    assert stats.requests == 100 and stats.errors == 4  # 404 and 429 are the client's
    assert stats.error_rate == pytest.approx(0.04)
    assert (stats.p50_ms, stats.p95_ms, stats.p99_ms) == pytest.approx((50.5, 95.05, 99.01))
    assert stats.per_hour == pytest.approx(50.0)
    assert stats.cache_hit_rate == pytest.approx(30 / 40)
    assert stats.cost_per_hour == pytest.approx(0.25)


@pytest.mark.unit
def test_empty_window_has_no_percentiles() -> None:
    stats = window_stats(window([]))
    assert (stats.requests, stats.p95_ms, stats.error_rate, stats.cache_hit_rate) == (
        0, None, None, None,
    )  # fmt: skip


def steady(n: int = 200, scale: float = 1.0, errors: int = 0, hours: float = 1.0) -> RequestWindow:
    rng = np.random.default_rng(0)
    latency = list(rng.gamma(4.0, 10.0, n) * scale)
    return window(latency, [200] * (n - errors) + [500] * errors, None, hours)


@pytest.mark.unit
def test_same_traffic_stays_green() -> None:
    report = compare_windows(window_stats(steady()), window_stats(steady()), HealthThresholds())
    assert report.severity == "ok"
    assert {m.severity for m in report.metrics} == {"ok"}


@pytest.mark.unit
def test_slower_traffic_is_critical_on_latency() -> None:
    ref, cur = window_stats(steady()), window_stats(steady(scale=2.5))
    report = compare_windows(ref, cur, HealthThresholds())
    by_name = {m.name: m for m in report.metrics}
    assert by_name["latency_p95_ms"].severity == "critical"
    assert by_name["latency_p95_ms"].ratio == pytest.approx(2.5)
    assert by_name["error_rate"].severity == "ok"
    assert report.severity == "critical"


@pytest.mark.unit
@pytest.mark.parametrize(("errors", "severity"), [(0, "ok"), (4, "warning"), (20, "critical")])
def test_error_rate_thresholds(errors: int, severity: str) -> None:
    report = compare_windows(
        window_stats(steady()), window_stats(steady(errors=errors)), HealthThresholds()
    )
    assert {m.name: m.severity for m in report.metrics}["error_rate"] == severity


@pytest.mark.unit
def test_few_requests_are_insufficient_data_not_an_alarm() -> None:
    ref, cur = window_stats(steady()), window_stats(steady(n=10, scale=5.0, errors=5))
    report = compare_windows(ref, cur, HealthThresholds(throughput_drop_critical=0.01))
    severities = {m.name: m.severity for m in report.metrics}
    assert severities["latency_p95_ms"] == "insufficient_data"
    assert severities["error_rate"] == "insufficient_data"
    assert severities["requests_per_hour"] == "warning"  # 10 vs 200 per hour is still judged


@pytest.mark.unit
def test_throughput_collapse_and_cost_burn() -> None:
    ref = window_stats(steady(n=400, hours=2.0), Decimal("2.00"))  # 200/h, $1/h
    cur = window_stats(steady(n=100, hours=1.0), Decimal("3.50"))  # 100/h, $3.5/h
    report = compare_windows(ref, cur, HealthThresholds())
    by_name = {m.name: m for m in report.metrics}
    assert by_name["requests_per_hour"].ratio == pytest.approx(0.5)
    assert by_name["requests_per_hour"].severity == "ok"  # not below 0.5
    assert by_name["cost_usd_per_hour"].ratio == pytest.approx(3.5)
    assert by_name["cost_usd_per_hour"].severity == "critical"


@pytest.mark.unit
def test_cache_hit_rate_fall_warns() -> None:
    n = 100
    ref = window_stats(window([10.0] * n, cache=[CACHE_HIT] * 60 + [CACHE_MISS] * 40))
    cur = window_stats(window([10.0] * n, cache=[CACHE_HIT] * 30 + [CACHE_MISS] * 70))
    status = {m.name: m for m in compare_windows(ref, cur, HealthThresholds()).metrics}
    assert status["cache_hit_rate"].severity == "warning"
    assert "30.0 points" in status["cache_hit_rate"].reason


@pytest.mark.unit
def test_observations_carry_values_and_ratios() -> None:
    report = compare_windows(window_stats(steady()), window_stats(steady(scale=2.0)),
                             HealthThresholds())  # fmt: skip
    seen = {o.metric: o.value for o in report.observations()}
    assert seen["latency_p95_ms_ratio"] == pytest.approx(2.0)
    assert seen["error_rate"] == 0.0
    assert "cache_hit_rate" not in seen  # no lookups: nothing to observe


@pytest.mark.unit
def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="latency_ratio: the warning threshold"):
        HealthThresholds(latency_ratio_warning=3.0, latency_ratio_critical=2.0)


@pytest.mark.unit
def test_monthly_budget_projection_joins_the_report() -> None:
    from datetime import UTC, datetime

    from ragline.mltrack.costs.budget import budget_status

    status = budget_status(Decimal(100), Decimal(50), datetime(2026, 11, 11, tzinfo=UTC))
    report = compare_windows(window_stats(steady()), window_stats(steady()), HealthThresholds(),
                             status)  # fmt: skip
    (line,) = [m for m in report.metrics if m.name == "month_projection_usd"]
    assert (line.reference, line.current, line.severity) == (100.0, 150.0, "critical")
    assert report.severity == "critical"
