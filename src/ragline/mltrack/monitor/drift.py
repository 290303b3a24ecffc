"""Drift statistics: pure, vectorised functions over a reference and a current sample, one report.

    psi(reference, current)            # one PSI per column of two (rows x columns) arrays
    numeric_drift(reference, current)  # PSI, JS, KS and its p-value from one sort per column

Numeric statistics take 1-D or 2-D arrays (n_rows x n_cols) and return one value per column;
each column is sorted once, the rest is searchsorted, a linear merge and array arithmetic:
``psi`` on the reference's quantile bins (deciles by default; right-closed; open outer bins
(-inf, q1] and (q9, inf); an empty bin's share becomes ``EPSILON`` = 1e-4, so a bin empty on
one side adds a large but finite term and a bin empty on both adds 0); ``ks``, the two-sample
Kolmogorov-Smirnov statistic with Smirnov's asymptotic p-value (scipy's ``ks_2samp(method=
"asymp")``); ``js_divergence`` in bits (within [0, 1]) on PSI's bins. ``kl_divergence`` (nats,
additive smoothing) compares histograms such as prediction distributions (``quantile_shares``
gives them; `ragline.mltrack.monitor.model_drift` uses both); ``chi_square``
tests aligned category counts (homogeneity, 2 x K) and gives Cramér's V.

The report and its severity rules are in `ragline.mltrack.monitor.drift_report`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from ragline.mltrack.errors import DataError

FloatArray = npt.NDArray[np.float64]
EPSILON = 1e-4  # share given to an empty bin in PSI: ln(1e-4 / 0.1) = -6.9, finite


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


def quantile_shares(
    reference: npt.ArrayLike, current: npt.ArrayLike, bins: int = 10
) -> tuple[FloatArray, FloatArray]:
    """Shares of two 1-D samples in the reference's quantile bins (PSI's bins; NaNs dropped),
    the histograms `kl_divergence` compares (e.g. prediction scores).

    >>> [s.tolist() for s in quantile_shares(np.arange(10.0), np.arange(10.0) + 5, bins=2)]
    [[0.5, 0.5], [0.0, 1.0]]
    """
    a = _sorted_valid(np.asarray(reference, np.float64).ravel())
    b = _sorted_valid(np.asarray(current, np.float64).ravel())
    if a.size == 0 or b.size == 0:
        raise DataError(f"{a.size} reference / {b.size} current values; need some on each side")
    edges = _edges(a, bins)
    return _shares(a, edges), _shares(b, edges)


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
