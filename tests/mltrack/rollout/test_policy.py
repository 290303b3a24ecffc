"""The canary verdict, pure: each signal breaching and not, the KL on degenerate and small
samples, and sticky assignment (share and growth) over a fixed population of user ids."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from ragline.mltrack.config import RolloutPolicy
from ragline.mltrack.rollout.policy import (
    MetricSignals,
    VersionSignals,
    breach,
    in_canary,
    judge,
    score_kl,
)

pytestmark = pytest.mark.unit

POLICY = RolloutPolicy(min_requests=50, max_error_rate=0.02, max_latency_ratio=1.5)
RNG = np.random.default_rng(3)
PROD_SCORES = tuple(RNG.beta(2, 5, 2000).tolist())
SAME_SCORES = tuple(RNG.beta(2, 5, 300).tolist())  # a fresh sample of the same distribution
PRODUCTION = VersionSignals(2000, 10, 20.0, PROD_SCORES)


def canary(**changes: object) -> VersionSignals:
    base: dict[str, object] = {"requests": 100, "errors": 0, "p95_ms": 21.0, "scores": SAME_SCORES}
    return VersionSignals(**(base | changes))  # type: ignore[arg-type]


def test_a_healthy_canary_advances_and_waits_without_auto_advance() -> None:
    verdict = judge(canary(), PRODUCTION, None, POLICY)
    assert (verdict.action, verdict.signal) == ("advance", None)
    assert verdict.reason.startswith("healthy over 100 requests: error rate 0.000")
    manual = RolloutPolicy(min_requests=50, auto_advance=False)
    assert judge(canary(), PRODUCTION, None, manual).action == "wait"


def test_no_verdict_before_min_requests_even_on_a_breach() -> None:
    verdict = judge(canary(requests=49, errors=49), PRODUCTION, None, POLICY)
    assert verdict == judge(canary(requests=49), PRODUCTION, None, POLICY)
    assert (verdict.action, verdict.reason) == ("wait", "49 of 50 canary requests in this stage")


@pytest.mark.parametrize(("errors", "breached"), [(2, False), (3, True)])
def test_error_rate(errors: int, breached: bool) -> None:
    found = breach(canary(errors=errors), PRODUCTION, None, POLICY)  # limit 0.02 of 100
    assert (found is not None) == breached
    if found is not None:
        assert found == ("error-rate", "error rate 0.030 (3/100) > 0.02 (production 0.005)")


@pytest.mark.parametrize(("p95", "breached"), [(30.0, False), (30.5, True)])
def test_latency_ratio(p95: float, breached: bool) -> None:
    found = breach(canary(p95_ms=p95), PRODUCTION, None, POLICY)  # 1.5 x 20 ms = 30 ms
    assert (found is not None) == breached
    if found is not None:
        assert found[0] == "latency" and "p95 latency 30.5 ms vs production 20.0 ms" in found[1]


def test_latency_under_the_floor_is_no_breach() -> None:
    fast = VersionSignals(2000, 0, 0.4, PROD_SCORES)
    assert breach(canary(p95_ms=1.9), fast, None, POLICY) is None  # x4.75, but both < 5 ms


def test_a_constant_canary_breaches_prediction_drift() -> None:
    constant = canary(scores=(0.2869,) * 100)
    found = breach(constant, PRODUCTION, None, POLICY)
    assert found is not None and found[0] == "prediction-drift"
    assert (
        found[1].startswith("prediction drift: KL 2.2") and "> 0.1 (100 canary vs 2000" in found[1]
    )


def test_kl_of_the_same_distribution_stays_under_the_limit_at_small_samples() -> None:
    # the plug-in KL of 20 scores on deciles is ~0.22 by noise alone; the correction removes it
    for size in (20, 50, 100, 300):
        kl = score_kl(PROD_SCORES, SAME_SCORES[:size])
        assert kl is not None and kl < POLICY.max_prediction_kl


def test_kl_handles_degenerate_and_empty_distributions() -> None:
    assert score_kl([0.5] * 100, [0.5] * 100) == 0.0  # both constant, the same constant
    both_constant = score_kl([0.5] * 100, [0.9] * 100)  # all mass in a bin the other lacks
    assert both_constant is not None and math.isfinite(both_constant) and both_constant > 5
    assert score_kl([], [0.5]) is None and score_kl([0.5], []) is None
    assert score_kl([0.1, float("nan")] * 50, [0.1] * 50) == 0.0


@pytest.mark.parametrize(("value", "breached"), [(0.856, False), (0.85, True)])
def test_metric_drop_once_labels_arrive(value: float, breached: bool) -> None:
    policy = RolloutPolicy(min_requests=50, min_labels=100, max_metric_drop=0.05)
    metric = MetricSignals("roc_auc", 0.90, value, n_production=400, n_canary=120)
    found = breach(canary(), PRODUCTION, metric, policy)
    assert (found is not None) == breached
    if found is not None:
        assert (
            found[0] == "metric" and "roc_auc 0.8500 vs production 0.9000: 5.6% worse" in found[1]
        )
    too_few = MetricSignals("roc_auc", 0.90, 0.50, n_production=400, n_canary=99)
    assert breach(canary(), PRODUCTION, too_few, policy) is None  # no alarm without evidence


def test_lower_is_better_metrics_drop_the_other_way() -> None:
    worse = MetricSignals("rmse", 10.0, 11.0, 500, 500, higher_is_better=False)
    assert math.isclose(worse.relative_drop, 0.1)


USERS = [f"user-{i}" for i in range(2000)]


@pytest.mark.parametrize("percent", [5, 25, 50])
def test_sticky_share_is_close_to_the_percent(percent: int) -> None:
    share = sum(in_canary("churn", 4, percent, u) for u in USERS) / len(USERS)
    # binomial sd at 5% of 2000 is 0.5 points; 4 sd of tolerance
    assert abs(share * 100 - percent) <= 4 * math.sqrt(percent * (100 - percent) / 2000)


def test_users_stay_in_the_canary_as_the_percent_grows() -> None:
    groups = [{u for u in USERS if in_canary("churn", 4, p, u)} for p in (5, 25, 50, 100)]
    assert groups[0] < groups[1] < groups[2] < groups[3] == set(USERS)
    assert all(in_canary("churn", 4, 5, u) for u in groups[0])  # the same answer every time
    other = {u for u in USERS if in_canary("churn", 5, 5, u)}
    assert other != groups[0]  # each version draws its own first users


def test_policy_stages_must_rise_to_100() -> None:
    assert RolloutPolicy(stages=(10, 100)).stages == (10, 100)
    for bad in ((5, 25), (25, 5, 100), (0, 100), (5, 5, 100)):
        with pytest.raises(ValidationError):
            RolloutPolicy(stages=bad)
