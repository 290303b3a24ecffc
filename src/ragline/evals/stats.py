"""Seeded bootstrap statistics: confidence intervals, slices by metadata, paired comparisons.

Every function takes per-item values where None means unmeasured; unmeasured items are dropped
(and counted) before resampling. Resampling is vectorised: one matrix of indices drawn from
``numpy.random.default_rng(seed)``, so the same seed and the same values give identical numbers.
Intervals are percentile bootstrap intervals (Efron & Tibshirani 1993, ch. 13).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ragline.evals.result import Aggregate, aggregate, measured_values

FloatArray = npt.NDArray[np.float64]
Statistic = Callable[[FloatArray], FloatArray]
"""Reduces the last axis: maps resamples of shape (..., n) to statistics of shape (...)."""

MISSING_GROUP = "(missing)"
_CHUNK_CELLS = 4_000_000  # indices drawn per block, so a 100k-item suite stays within ~32 MB


def mean(sample: FloatArray) -> FloatArray:
    """The mean over the last axis (the default statistic)."""
    return np.asarray(sample.mean(axis=-1), dtype=np.float64)


def median(sample: FloatArray) -> FloatArray:
    """The median over the last axis."""
    return np.asarray(np.median(sample, axis=-1), dtype=np.float64)


def p95(sample: FloatArray) -> FloatArray:
    """The 95th percentile over the last axis (linear interpolation, numpy's default): what a
    latency bound is set on, since a mean hides the slow tail."""
    return np.asarray(np.percentile(sample, 95.0, axis=-1), dtype=np.float64)


def _check(resamples: int, confidence: float) -> None:
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")


def _bootstrap(data: FloatArray, statistic: Statistic, resamples: int, seed: int) -> FloatArray:
    """The statistic on ``resamples`` resamples of ``data`` (drawn in blocks to bound memory)."""
    rng = np.random.default_rng(seed)
    n = data.size
    rows = max(1, _CHUNK_CELLS // n)
    out = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, rows):
        stop = min(start + rows, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = statistic(data[idx])
    if not np.isfinite(out).all():
        raise ValueError("the statistic returned NaN or infinity on a resample; use a finite one")
    return out


def _interval(boot: FloatArray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def bootstrap_ci(
    values: Sequence[float | None],
    *,
    statistic: Statistic = mean,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap CI of ``statistic`` over the measured values; None if fewer than 2.

    Example:
        >>> low, high = bootstrap_ci([0.2, 0.4, None, 0.9, 0.7], seed=1)
        >>> low <= 0.55 <= high
        True
    """
    _check(resamples, confidence)
    data = np.asarray(measured_values("bootstrap_ci", values), dtype=np.float64)
    if data.size < 2:
        return None
    return _interval(_bootstrap(data, statistic, resamples, seed), confidence)


def with_ci(
    name: str,
    values: Sequence[float | None],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    statistic: Statistic = mean,
) -> Aggregate:
    """`aggregate` with its bootstrap CI filled in; the value is `statistic` over the measured
    values (the mean unless given, e.g. `p95` for latency).

    Example:
        >>> agg = with_ci("recall@10", [1.0, 0.5, None, 0.0])
        >>> (agg.value, agg.unmeasured, agg.ci_low is not None)
        (0.5, 1, True)
        >>> with_ci("latency_p95", [0.1, 0.2, 0.3, 4.0], statistic=p95).value
        3.445
    """
    agg = aggregate(name, values)
    if statistic is not mean and agg.value is not None:
        data = np.asarray(measured_values(name, values), dtype=np.float64)
        agg = replace(agg, value=round(float(statistic(data)), 12))
    ci = bootstrap_ci(
        values, statistic=statistic, resamples=resamples, confidence=confidence, seed=seed
    )
    if ci is None:
        return agg
    return replace(agg, ci_low=ci[0], ci_high=ci[1])


def _group_keys(meta: Mapping[str, object], field: str) -> list[str]:
    value = meta.get(field)
    if value is None:
        return [MISSING_GROUP]
    if isinstance(value, list | tuple | set | frozenset):  # e.g. tags: one item, several slices
        keys = sorted({str(v) for v in value})
        return keys or [MISSING_GROUP]
    return [str(value)]


def slice_by(
    values: Sequence[float | None],
    metadata: Sequence[Mapping[str, object]],
    field: str,
    *,
    name: str = "value",
    ci: bool = False,
    resamples: int = 1000,
    seed: int = 0,
    statistic: Statistic = mean,
) -> dict[str, Aggregate]:
    """Aggregates (`statistic`, the mean unless given) of ``values`` per value of
    ``metadata[i][field]``, sorted by group name.

    Items without the field (or with None) go to ``"(missing)"``; a list-valued field such as
    ``tags`` puts the item in every listed group. ``ci=True`` adds bootstrap CIs.

    Example:
        >>> slices = slice_by([1.0, 0.0, None], [{"lang": "en"}, {"lang": "de"}, {}], "lang")
        >>> {k: v.value for k, v in slices.items()}
        {'(missing)': None, 'de': 0.0, 'en': 1.0}
    """
    if len(values) != len(metadata):
        raise ValueError(
            f"slice_by: {len(values)} values but {len(metadata)} metadata rows; "
            "pass one metadata mapping per item, in the same order"
        )
    members: dict[str, list[float | None]] = {}
    for value, meta in zip(values, metadata, strict=True):
        for key in _group_keys(meta, field):
            members.setdefault(key, []).append(value)
    out: dict[str, Aggregate] = {}
    for key in sorted(members):
        label = f"{name}[{field}={key}]"
        group = members[key]
        if ci or statistic is not mean:
            out[key] = with_ci(label, group, resamples=resamples, seed=seed, statistic=statistic)
            if not ci:
                out[key] = replace(out[key], ci_low=None, ci_high=None)
        else:
            out[key] = aggregate(label, group)
    return out


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """Mean difference current - baseline over items measured in both runs, with CI and p-value.

    ``delta`` is None when no item was measured in both; the CI and p-value need at least 2.
    ``unmeasured`` counts items dropped because either run could not measure them.

    Example:
        >>> cmp = paired_bootstrap([0.9, 0.8, 0.7, 1.0], [0.5, 0.4, 0.6, 0.5], resamples=200)
        >>> round(cmp.delta, 3), cmp.n, cmp.p_value < 0.05
        (0.35, 4, True)
    """

    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int
    unmeasured: int


def paired_bootstrap(
    current: Sequence[float | None],
    baseline: Sequence[float | None],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Paired bootstrap of the mean per-item difference between two runs over the same items.

    The p-value (two-sided, H0: mean difference 0) comes from the bootstrap distribution of the
    mean difference shifted to centre on 0 (Efron & Tibshirani 1993, sec. 16.4):
    ``p = (1 + #{|boot_mean - delta| >= |delta|}) / (1 + resamples)``. The +1 counts the observed
    sample as one draw, so p is never 0 and is at least 1 / (resamples + 1). With few items (under
    ~20) the bootstrap understates the spread, so small-n p-values are optimistic.
    """
    _check(resamples, confidence)
    if len(current) != len(baseline):
        raise ValueError(
            f"paired_bootstrap: {len(current)} current values but {len(baseline)} baseline values; "
            "the runs must be aligned item by item"
        )
    measured_values("current", current)  # refuse NaN/inf with a clear message
    measured_values("baseline", baseline)
    diffs = [
        float(c) - float(b)
        for c, b in zip(current, baseline, strict=True)
        if c is not None and b is not None
    ]
    n = len(diffs)
    unmeasured = len(current) - n
    if n == 0:
        return PairedComparison(None, None, None, None, 0, unmeasured)
    delta = math.fsum(diffs) / n
    if n < 2:
        return PairedComparison(delta, None, None, None, n, unmeasured)
    data = np.asarray(diffs, dtype=np.float64)
    boot = _bootstrap(data, mean, resamples, seed)
    low, high = _interval(boot, confidence)
    # a tiny tolerance so that float noise in equal means does not flip a tie to "less extreme"
    extreme = np.abs(boot - delta) >= abs(delta) - 1e-12
    p_value = (1.0 + float(extreme.sum())) / (1.0 + resamples)
    return PairedComparison(delta, low, high, p_value, n, unmeasured)
