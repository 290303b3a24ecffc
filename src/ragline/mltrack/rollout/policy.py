"""A canary's verdict, pure: wait, roll back (naming the signal and its numbers) or advance.

    canary = VersionSignals(requests=240, errors=1, p95_ms=4.1, scores=(0.31, 0.31, ...))
    production = VersionSignals(requests=4800, errors=3, p95_ms=3.9, scores=(...))
    verdict = judge(canary, production, None, RolloutPolicy())
    verdict.action, verdict.signal, verdict.reason   # "rollback", "prediction-drift", "KL 2.31 ..."

Signals, checked in this order once the canary has `min_requests` requests in its stage:

- ``error-rate``: canary errors / requests > `max_error_rate` (an absolute limit: production's
  own rate is no excuse).
- ``latency``: canary p95 > `max_latency_ratio` x production p95, both raised to
  `latency_floor_ms` first (in-process predictions take ~1 ms; jitter there is no regression).
- ``prediction-drift``: KL(canary || production) of the two score histograms > `max_prediction_kl`.
  A model that answers one constant score puts all its mass in one bin, so the KL is about
  ln(1 / production's share of that bin), ~2.3 nats on deciles: far over 0.1.
- ``metric``: once both versions have `min_labels` labelled predictions, the primary metric of
  the canary more than `max_metric_drop` (relative) worse than production's.

The KL (`score_kl`) bins both samples on production's quantiles (`quantile_shares`: deciles,
fewer bins for small samples, n / 10 at least 2) and smooths each share by epsilon = 1e-4
((share + e) / (1 + k e), `kl_divergence`), so an empty bin on either side, or a degenerate
(constant) distribution on either side, gives a large but finite KL and never a division by
zero or log(0). A plug-in KL on n samples is biased upwards by about (k - 1) / 2n nats (with
20 canary scores on deciles: 0.22, over the limit by noise alone), so that bias is subtracted
(Miller-Madow), floored at 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ragline.mltrack.config import RolloutPolicy

Action = Literal["wait", "rollback", "advance"]
Signal = Literal["error-rate", "latency", "prediction-drift", "metric"]
MAX_BINS = 10


@dataclass(frozen=True, slots=True)
class VersionSignals:
    """One version's window: requests, failed ones, p95 latency (ms) and the scores it gave.

    Example:
        >>> VersionSignals(requests=10, errors=1, p95_ms=3.2, scores=(0.4, 0.6)).error_rate
        0.1
    """

    requests: int
    errors: int
    p95_ms: float | None
    scores: tuple[float, ...] = ()

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class MetricSignals:
    """The primary metric of both versions on their labelled predictions.

    Example:
        >>> MetricSignals("roc_auc", production=0.90, canary=0.80, n_production=500,
        ...               n_canary=300).relative_drop
        0.1111111111111111
    """

    name: str
    production: float
    canary: float
    n_production: int
    n_canary: int
    higher_is_better: bool = True

    @property
    def relative_drop(self) -> float:
        """How much worse the canary is, relative to production (negative: better)."""
        worse = (
            self.production - self.canary
            if self.higher_is_better
            else self.canary - self.production
        )
        return worse / abs(self.production) if self.production else worse


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with the canary now, and why (the numbers compared).

    Example:
        >>> Verdict("wait", None, "12 of 200 canary requests in this stage").action
        'wait'
    """

    action: Action
    signal: Signal | None
    reason: str


def in_canary(name: str, version: int, percent: int, key: str) -> bool:
    """Whether sticky `key` (a user or caller) gets canary `version` of `name` at `percent`.

    The SHA-256 of (model, version, key) is a point in [0, 1) (the RAG canary's recipe,
    `ragline.serving.api.traffic.split.sticky_point`); the canary takes the first `percent`%,
    so a key in at 5% stays in at 25%, and another version reshuffles who goes first.

    Example:
        >>> in_canary("churn", 4, 100, "alice"), in_canary("churn", 4, 0, "alice")
        (True, False)
    """
    digest = hashlib.sha256(f"rollout:{name}:{version}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100 < percent


def score_kl(production: Sequence[float], canary: Sequence[float]) -> float | None:
    """KL(canary || production) in nats of the two score histograms, bias-corrected (module
    docstring); None when either side has no scores.

    Example:
        >>> round(score_kl([i / 100 for i in range(100)], [0.5] * 50), 2)
        2.21
    """
    import numpy as np  # with scipy (drift's KS): heavy, and only needed once a stage is full

    from ragline.mltrack.monitor.drift import EPSILON, kl_divergence, quantile_shares

    ref, cur = np.asarray(production, np.float64), np.asarray(canary, np.float64)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        return None
    bins = max(2, min(MAX_BINS, min(ref.size, cur.size) // 10))
    p, q = quantile_shares(ref, cur, bins)
    kl = float(kl_divergence(q, p, smoothing=EPSILON))
    return max(0.0, kl - (bins - 1) / (2 * cur.size))


def _latency(
    canary: VersionSignals, production: VersionSignals, policy: RolloutPolicy
) -> str | None:
    if canary.p95_ms is None or production.p95_ms is None:
        return None
    floor = policy.latency_floor_ms
    mine, base = max(canary.p95_ms, floor), max(production.p95_ms, floor)
    if mine <= policy.max_latency_ratio * base:
        return None
    return (
        f"p95 latency {canary.p95_ms:.1f} ms vs production {production.p95_ms:.1f} ms "
        f"(x{mine / base:.2f} > x{policy.max_latency_ratio:g}; floor {floor:g} ms)"
    )


def breach(
    canary: VersionSignals,
    production: VersionSignals,
    metric: MetricSignals | None,
    policy: RolloutPolicy,
) -> tuple[Signal, str] | None:
    """The first signal the canary breaches, with its numbers; None: healthy."""
    if canary.error_rate > policy.max_error_rate:
        return "error-rate", (
            f"error rate {canary.error_rate:.3f} ({canary.errors}/{canary.requests}) > "
            f"{policy.max_error_rate:g} (production {production.error_rate:.3f})"
        )
    slow = _latency(canary, production, policy) if production.requests else None
    if slow is not None:
        return "latency", slow
    kl = score_kl(production.scores, canary.scores)
    if kl is not None and kl > policy.max_prediction_kl:
        return "prediction-drift", (
            f"prediction drift: KL {kl:.3f} > {policy.max_prediction_kl:g} "
            f"({len(canary.scores)} canary vs {len(production.scores)} production scores)"
        )
    labelled = metric is not None and min(metric.n_canary, metric.n_production) >= policy.min_labels
    if metric is not None and labelled and metric.relative_drop > policy.max_metric_drop:
        return "metric", (
            f"{metric.name} {metric.canary:.4f} vs production {metric.production:.4f}: "
            f"{metric.relative_drop:.1%} worse > {policy.max_metric_drop:.1%} "
            f"({metric.n_canary} / {metric.n_production} labels)"
        )
    return None


def judge(
    canary: VersionSignals,
    production: VersionSignals,
    metric: MetricSignals | None,
    policy: RolloutPolicy,
) -> Verdict:
    """Wait until the canary has `min_requests` in its stage; then roll back on a breach,
    else advance (or wait for a person, without `auto_advance`).

    Example:
        >>> judge(VersionSignals(5, 0, 1.0), VersionSignals(90, 0, 1.0), None,
        ...       RolloutPolicy(min_requests=20)).reason
        '5 of 20 canary requests in this stage'
    """
    if canary.requests < policy.min_requests:
        return Verdict(
            "wait",
            None,
            f"{canary.requests} of {policy.min_requests} canary requests in this stage",
        )
    found = breach(canary, production, metric, policy)
    if found is not None:
        return Verdict("rollback", found[0], found[1])
    kl = score_kl(production.scores, canary.scores)
    numbers = (
        f"healthy over {canary.requests} requests: error rate {canary.error_rate:.3f}, "
        f"p95 {_ms(canary.p95_ms)} vs {_ms(production.p95_ms)}, KL {_num(kl)}"
    )
    return Verdict("advance" if policy.auto_advance else "wait", None, numbers)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
