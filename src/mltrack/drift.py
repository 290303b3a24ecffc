"""Drift statistics: pure, vectorised functions over a reference and a current sample, one report.

    report = drift_report(reference_df, current_df, DriftThresholds(psi_critical=0.3))
    report.severity                    # "ok" | "warning" | "critical" | "insufficient_data"

Numeric statistics take 1-D or 2-D arrays (n_rows x n_cols) and return one value per column;
each column is sorted once, the rest is searchsorted, a linear merge and array arithmetic:
``psi`` on the reference's quantile bins (deciles by default; right-closed; open outer bins
(-inf, q1] and (q9, inf); an empty bin's share becomes ``EPSILON`` = 1e-4, so a bin empty on
one side adds a large but finite term and a bin empty on both adds 0); ``ks``, the two-sample
Kolmogorov-Smirnov statistic with Smirnov's asymptotic p-value (scipy's ``ks_2samp(method=
"asymp")``); ``js_divergence`` in bits (within [0, 1]) on PSI's bins. ``kl_divergence`` (nats,
additive smoothing) compares histograms such as prediction distributions; ``chi_square``
tests aligned category counts (homogeneity, 2 x K) and gives Cramér's V.

Severity rules (``DriftThresholds``):

- Fewer than ``min_rows`` non-missing values on either side: ``insufficient_data``, no alarm.
- Numeric: the worse of PSI's and JS's levels, standing only when KS's p-value is under
  ``ks_pvalue``. PSI is biased upwards in small samples (about (bins-1)(1/n_ref + 1/n_cur)
  with no drift: 0.18 at 100 rows a side); KS confirms the shift is not noise. A significant
  KS with PSI and JS under their warning thresholds stays ``ok``: a million rows make trivial
  shifts significant.
- Categorical: PSI over category shares, standing only when the chi-square p-value is under
  ``chi2_pvalue`` and Cramér's V is at least ``min_cramers_v``.
- Overall: the worst feature; ``critical`` when at least ``drifted_share_critical`` of the
  measured features, and at least ``drifted_count_critical`` of them, are at warning or worse
  (many features moving together is a dataset shift). ``insufficient_data`` only when no
  feature could be measured. NaNs are left out of the statistics; the missing shares are
  reported per feature.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import stats

from mltrack.errors import DataError

FloatArray = npt.NDArray[np.float64]
Kind = Literal["numeric", "categorical"]
Severity = Literal["ok", "warning", "critical", "insufficient_data"]
EPSILON = 1e-4  # share given to an empty bin in PSI: ln(1e-4 / 0.1) = -6.9, finite
_RANK: dict[Severity, int] = {"insufficient_data": -1, "ok": 0, "warning": 1, "critical": 2}


class DriftThresholds(BaseModel):
    """When a feature's drift is a warning or critical (playbook: PSI 0.1 / 0.25).

    >>> DriftThresholds(psi_critical=0.3).psi_warning
    0.1
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    psi_warning: float = Field(0.1, gt=0)
    psi_critical: float = Field(0.25, gt=0)
    js_warning: float = Field(0.1, gt=0, le=1, description="JS divergence, bits")
    js_critical: float = Field(0.2, gt=0, le=1)
    ks_pvalue: float = Field(0.01, gt=0, lt=1, description="KS must be significant to alarm")
    chi2_pvalue: float = Field(0.01, gt=0, lt=1)
    min_cramers_v: float = Field(0.1, ge=0, le=1, description="smallest categorical effect")
    min_rows: int = Field(100, ge=1, description="non-missing rows needed on each side")
    bins: int = Field(10, ge=2, le=100, description="reference quantile bins for PSI and JS")
    drifted_share_critical: float = Field(0.5, gt=0, le=1)
    drifted_count_critical: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> DriftThresholds:
        if self.psi_warning > self.psi_critical or self.js_warning > self.js_critical:
            raise ValueError("a warning threshold is above its critical one; swap them")
        return self


class KsResult(NamedTuple):
    """Per-column KS statistics and asymptotic p-values."""

    statistic: FloatArray
    pvalue: FloatArray


class NumericDrift(NamedTuple):
    """PSI, JS, KS and non-missing counts per column, from one sort of each column."""

    psi: FloatArray
    js: FloatArray
    ks: FloatArray
    ks_pvalue: FloatArray
    n_ref: npt.NDArray[np.int64]
    n_cur: npt.NDArray[np.int64]


class ChiSquareResult(NamedTuple):
    """Chi-square homogeneity test of two category samples, and the effect size."""

    statistic: float
    pvalue: float
    dof: int
    cramers_v: float
    psi: float
    categories: tuple[str, ...]


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's statistics, severity and the reason for it (None: not applicable)."""

    name: str
    kind: Kind
    n_ref: int
    n_cur: int
    missing_ref: float
    missing_cur: float
    psi: float | None
    ks: float | None
    ks_pvalue: float | None
    js: float | None
    chi2_pvalue: float | None
    cramers_v: float | None
    severity: Severity
    reason: str


@dataclass(frozen=True)
class DriftReport:
    """Per-feature drift and the overall severity.

    >>> ref = pd.DataFrame({"x": np.arange(200.0)})
    >>> drift_report(ref, ref + 1000.0, DriftThresholds()).severity
    'critical'
    """

    features: tuple[FeatureDrift, ...]
    severity: Severity
    reason: str
    n_ref: int
    n_cur: int


def _sorted_valid(column: FloatArray) -> FloatArray:
    ordered = np.sort(column)  # NaNs sort last
    if ordered.size and np.isnan(ordered[-1]):
        ordered = ordered[: ordered.size - int(np.count_nonzero(np.isnan(ordered)))]
    return ordered


def _edges(ref: FloatArray, bins: int) -> FloatArray:
    """Interior quantile edges of a sorted sample (numpy's linear interpolation)."""
    h = (ref.size - 1) * np.arange(1, bins) / bins
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, ref.size - 1)
    return ref[lo] + (h - lo) * (ref[hi] - ref[lo])


def _shares(ordered: FloatArray, edges: FloatArray) -> FloatArray:
    below = np.searchsorted(ordered, edges, side="right")
    counts = np.diff(np.concatenate(([0], below, [ordered.size])))
    return counts / ordered.size


def _psi_js(p: FloatArray, q: FloatArray) -> tuple[float, float]:
    pe, qe = np.maximum(p, EPSILON), np.maximum(q, EPSILON)
    psi_value = float(np.sum((qe - pe) * np.log(qe / pe)))
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / m), 0.0) + np.where(q > 0, q * np.log2(q / m), 0.0)
    return psi_value, float(np.sum(terms) / 2)


def _ks_sorted(a: FloatArray, b: FloatArray) -> float:
    """sup |F_a - F_b| in exact integers: n * m * (F_a - F_b) along the merged order."""
    n, m = a.size, b.size
    both = np.concatenate((a, b))
    order = np.argsort(both, kind="stable")  # two sorted runs: timsort merges them in O(n)
    merged = both[order]
    last = np.empty(n + m, dtype=bool)  # ECDFs are read after the last of a run of ties
    np.not_equal(merged[1:], merged[:-1], out=last[:-1])
    last[-1] = True
    steps = np.where(order < n, m, -n)
    np.cumsum(steps, out=steps)
    return float(np.max(np.abs(steps[last]))) / (n * m)


def _column(ref: FloatArray, cur: FloatArray, bins: int) -> tuple[float, float, float, int, int]:
    a, b = _sorted_valid(ref), _sorted_valid(cur)
    if a.size == 0 or b.size == 0:
        return np.nan, np.nan, np.nan, a.size, b.size
    edges = _edges(a, bins)
    psi_value, js_value = _psi_js(_shares(a, edges), _shares(b, edges))
    return psi_value, js_value, _ks_sorted(a, b), a.size, b.size


def numeric_drift(reference: npt.ArrayLike, current: npt.ArrayLike, bins: int = 10) -> NumericDrift:
    """PSI, JS and KS of every column at once (columns run on a small thread pool).

    >>> out = numeric_drift(np.arange(10.0), np.arange(10.0) + 5, bins=2)
    >>> round(float(out.ks[0]), 2), int(out.n_ref[0])
    (0.5, 10)
    """
    ref, cur = np.asarray(reference, np.float64), np.asarray(current, np.float64)
    ref, cur = ref.reshape(len(ref), -1), cur.reshape(len(cur), -1)  # 1-D: one column
    if ref.shape[1] != cur.shape[1]:
        raise DataError(f"{ref.shape[1]} reference columns but {cur.shape[1]} current ones")
    cols = range(ref.shape[1])
    workers = min(len(cols), os.cpu_count() or 1)
    if workers <= 1 or ref.shape[0] < 50_000:
        rows = [_column(ref[:, j], cur[:, j], bins) for j in cols]
    else:
        with ThreadPoolExecutor(workers) as pool:  # numpy's sort and searchsorted free the GIL
            rows = list(pool.map(lambda j: _column(ref[:, j], cur[:, j], bins), cols))
    psi_v, js_v, ks_v, n_ref, n_cur = (np.array(x) for x in zip(*rows, strict=True))
    size = np.round(n_ref * n_cur / np.maximum(n_ref + n_cur, 1))
    with np.errstate(invalid="ignore"):
        pvalue = np.where(size > 0, stats.kstwo.sf(ks_v, np.maximum(size, 1)), np.nan)
    return NumericDrift(psi_v, js_v, ks_v, pvalue, n_ref.astype(np.int64), n_cur.astype(np.int64))


def psi(reference: npt.ArrayLike, current: npt.ArrayLike, bins: int = 10) -> FloatArray:
    """Population stability index per column, on the reference's quantile bins.

    >>> psi(np.arange(10.0), np.arange(10.0), bins=2).tolist()
    [0.0]
    """
    return numeric_drift(reference, current, bins).psi


def ks(reference: npt.ArrayLike, current: npt.ArrayLike) -> KsResult:
    """Two-sample KS statistic and asymptotic p-value per column.

    >>> ks([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0]).statistic.tolist()
    [0.5]
    """
    out = numeric_drift(reference, current, bins=2)
    return KsResult(out.ks, out.ks_pvalue)


def js_divergence(reference: npt.ArrayLike, current: npt.ArrayLike, bins: int = 10) -> FloatArray:
    """Jensen-Shannon divergence (bits) per column, on PSI's bins.

    >>> js_divergence([1.0, 2.0], [8.0, 9.0], bins=2).round(4).tolist()
    [0.3113]
    """
    return numeric_drift(reference, current, bins).js


def kl_divergence(p: npt.ArrayLike, q: npt.ArrayLike, smoothing: float = 1e-6) -> FloatArray:
    """KL(p || q) in nats along the last axis; p and q are counts or shares (normalised here).

    Each share becomes (share + smoothing) / (1 + k * smoothing) for k classes.

    >>> round(float(kl_divergence([1, 1], [1, 3], smoothing=0.0)), 6)
    0.143841
    """
    pa, qa = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    k = pa.shape[-1]
    ps = (pa / pa.sum(axis=-1, keepdims=True) + smoothing) / (1 + k * smoothing)
    qs = (qa / qa.sum(axis=-1, keepdims=True) + smoothing) / (1 + k * smoothing)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(ps > 0, ps * np.log(ps / qs), 0.0)
    return np.asarray(np.sum(terms, axis=-1), dtype=np.float64)


def chi_square(
    reference: Sequence[object] | pd.Series, current: Sequence[object] | pd.Series
) -> ChiSquareResult:
    """Chi-square homogeneity test on the union of categories (missing values dropped).

    >>> round(chi_square(["a"] * 30 + ["b"] * 20, ["a"] * 20 + ["b"] * 30).statistic, 6)
    4.0
    """
    ref = pd.Series(reference).dropna().astype(str).value_counts()
    cur = pd.Series(current).dropna().astype(str).value_counts()
    categories = sorted(set(ref.index) | set(cur.index))
    table = np.vstack(
        [ref.reindex(categories, fill_value=0), cur.reindex(categories, fill_value=0)]
    )
    if len(categories) < 2 or table.sum(axis=1).min() == 0:
        return ChiSquareResult(0.0, 1.0, 0, 0.0, 0.0, tuple(categories))
    chi2, pvalue, dof, _ = stats.chi2_contingency(table, correction=False)
    shares = table / table.sum(axis=1, keepdims=True)
    psi_value, _ = _psi_js(shares[0], shares[1])
    cramers_v = float(np.sqrt(chi2 / table.sum()))  # min(rows, cols) - 1 = 1 for two samples
    return ChiSquareResult(
        float(chi2), float(pvalue), int(dof), cramers_v, psi_value, tuple(categories)
    )


def _level(value: float, warning: float, critical: float) -> Severity:
    return "critical" if value >= critical else "warning" if value >= warning else "ok"


def _worst(*levels: Severity) -> Severity:
    return max(levels, key=_RANK.__getitem__)


def _judge_numeric(psi_v: float, js_v: float, p: float, t: DriftThresholds) -> tuple[Severity, str]:
    effect = _worst(
        _level(psi_v, t.psi_warning, t.psi_critical), _level(js_v, t.js_warning, t.js_critical)
    )
    numbers = f"PSI {psi_v:.3f}, JS {js_v:.3f}, KS p {p:.2g}"
    if effect == "ok":
        return "ok", f"{numbers}: under the warning thresholds"
    if not p < t.ks_pvalue:
        return "ok", f"{numbers}: KS p >= {t.ks_pvalue}, not told apart from sampling noise"
    limits = f"PSI {t.psi_warning}/{t.psi_critical}, JS {t.js_warning}/{t.js_critical}"
    return effect, f"{numbers}: {effect} ({limits})"


def _numeric_features(
    ref: pd.DataFrame, cur: pd.DataFrame, names: list[str], t: DriftThresholds
) -> list[FeatureDrift]:
    ref_values = ref[names].to_numpy(dtype=np.float64, na_value=np.nan)
    cur_values = cur[names].to_numpy(dtype=np.float64, na_value=np.nan)
    out = numeric_drift(ref_values, cur_values, t.bins)
    features = []
    for j, name in enumerate(names):
        n_ref, n_cur = int(out.n_ref[j]), int(out.n_cur[j])
        values = (float(out.psi[j]), float(out.ks[j]), float(out.ks_pvalue[j]), float(out.js[j]))
        if min(n_ref, n_cur) < t.min_rows:
            severity: Severity = "insufficient_data"
            reason = f"{n_ref} reference / {n_cur} current values; need {t.min_rows} a side"
        else:
            severity, reason = _judge_numeric(values[0], values[3], values[2], t)
            if np.nanmin(ref_values[:, j]) == np.nanmax(ref_values[:, j]):
                reason += "; constant in the reference"
        features.append(
            FeatureDrift(
                name, "numeric", n_ref, n_cur, 1 - n_ref / max(len(ref), 1),
                1 - n_cur / max(len(cur), 1), *values[:2], values[2], values[3], None, None,
                severity, reason,
            )
        )  # fmt: skip
    return features


def _categorical_feature(ref: pd.Series, cur: pd.Series, t: DriftThresholds) -> FeatureDrift:
    n_ref, n_cur = int(ref.notna().sum()), int(cur.notna().sum())
    result = chi_square(ref, cur)
    severity: Severity = "insufficient_data"
    reason = f"{n_ref} reference / {n_cur} current values; need {t.min_rows} a side"
    if min(n_ref, n_cur) >= t.min_rows:
        numbers = f"PSI {result.psi:.3f}, chi2 p {result.pvalue:.2g}, V {result.cramers_v:.3f}"
        severity = _level(result.psi, t.psi_warning, t.psi_critical)
        if severity == "ok":
            reason = f"{numbers}: under the warning thresholds"
        elif not (result.pvalue < t.chi2_pvalue and result.cramers_v >= t.min_cramers_v):
            severity, reason = "ok", f"{numbers}: not significant, or V < {t.min_cramers_v}"
        else:
            reason = f"{numbers}: {severity} (PSI {t.psi_warning}/{t.psi_critical})"
    return FeatureDrift(
        str(ref.name), "categorical", n_ref, n_cur, 1 - n_ref / max(len(ref), 1),
        1 - n_cur / max(len(cur), 1), result.psi, None, None, None, result.pvalue,
        result.cramers_v, severity, reason,
    )  # fmt: skip


def _select(ref: pd.DataFrame, cur: pd.DataFrame, columns: Sequence[str] | None) -> list[str]:
    wanted = list(columns) if columns is not None else list(dict.fromkeys([*ref, *cur]))
    missing_ref = [c for c in wanted if c not in ref.columns]
    missing_cur = [c for c in wanted if c not in cur.columns]
    if missing_ref or missing_cur:
        raise DataError(
            f"columns missing from the reference: {missing_ref or 'none'}; from the current: "
            f"{missing_cur or 'none'}. Compare only shared columns (columns=...) or fix the files"
        )
    if not wanted:
        raise DataError("no columns to compare; give tables with at least one shared column")
    return wanted


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def _overall(features: list[FeatureDrift], t: DriftThresholds) -> tuple[Severity, str]:
    measured = [f for f in features if f.severity != "insufficient_data"]
    if not measured:
        return "insufficient_data", f"no feature has {t.min_rows} values on both sides"
    drifted = sum(f.severity in ("warning", "critical") for f in measured)
    worst = _worst(*(f.severity for f in measured))
    share = drifted / len(measured)
    reason = f"{drifted} of {len(measured)} measured features drifted ({share:.0%})"
    dataset_shift = share >= t.drifted_share_critical and drifted >= t.drifted_count_critical
    if worst == "warning" and dataset_shift:
        return "critical", f"{reason}: {t.drifted_share_critical:.0%} or more, a dataset shift"
    return worst, reason


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    thresholds: DriftThresholds | None = None,
    columns: Sequence[str] | None = None,
) -> DriftReport:
    """Compare every (or each named) column of two tables; numeric and categorical by dtype.

    >>> ref = pd.DataFrame({"x": np.arange(50.0)})
    >>> drift_report(ref, ref).features[0].severity
    'insufficient_data'
    """
    t = thresholds or DriftThresholds()
    names = _select(reference, current, columns)
    numeric = [c for c in names if _is_numeric(reference[c])]
    wrong = [c for c in numeric if not _is_numeric(current[c]) and current[c].notna().any()]
    if wrong:
        raise DataError(f"columns numeric in the reference but not in the current: {wrong}")
    found = (
        {f.name: f for f in _numeric_features(reference, current, numeric, t)} if numeric else {}
    )
    for name in names:
        if name not in found:
            found[name] = _categorical_feature(reference[name], current[name], t)
    features = [found[name] for name in names]
    severity, reason = _overall(features, t)
    return DriftReport(tuple(features), severity, reason, len(reference), len(current))
