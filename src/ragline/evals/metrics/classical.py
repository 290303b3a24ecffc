"""Classical-ML metrics: classification, regression, ranking and calibration.

Thin, typed wrappers over `sklearn.metrics` that follow the evals rule: where a metric is undefined
(empty input, ROC-AUC or PR-AUC with one class present, F1 with no positives anywhere) the result
is None (unmeasured), never NaN, and no sklearn warning escapes, because the undefined cases are
detected before sklearn is called.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from sklearn import metrics as skm

from ragline.evals.result import Aggregate, aggregate

Strategy = Literal["uniform", "quantile"]


def _arrays(a: npt.ArrayLike, b: npt.ArrayLike, what: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a), np.asarray(b)
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ValueError(
            f"{what}: expected two 1-D arrays of equal length, got shapes {x.shape} and {y.shape}"
        )
    return x, y


def _finite(x: np.ndarray, what: str) -> np.ndarray:
    f = x.astype(np.float64)
    if not np.isfinite(f).all():
        raise ValueError(f"{what}: input has NaN or infinite values; drop or impute them first")
    return f


def accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float | None:
    """Share of exact label matches; None on empty input."""
    t, p = _arrays(y_true, y_pred, "accuracy")
    return float(skm.accuracy_score(t, p)) if t.size else None


def f1(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, pos_label: Hashable = 1) -> float | None:
    """F1 of ``pos_label`` against every other label; None when it appears in neither input."""
    t, p = _arrays(y_true, y_pred, "f1")
    t_pos, p_pos = t == pos_label, p == pos_label
    if not (t_pos.any() or p_pos.any()):
        return None  # 2TP + FP + FN = 0: F1 is 0/0
    return float(skm.f1_score(t_pos, p_pos, zero_division=0.0))


def macro_f1(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, labels: Sequence[Hashable] | None = None
) -> float | None:
    """Unweighted mean of per-label F1 over ``labels`` (default: every label seen).

    A label absent from both inputs has no F1 and is left out of the mean; None when none remain.
    """
    t, p = _arrays(y_true, y_pred, "macro_f1")
    chosen = list(labels) if labels is not None else list(np.union1d(t, p))
    scores = [f1(t, p, pos_label=label) for label in chosen]
    return aggregate("macro_f1", scores).value


def _binary_scores(
    y_true: npt.ArrayLike, score: npt.ArrayLike, pos_label: Hashable, what: str
) -> tuple[np.ndarray, np.ndarray] | None:
    t, s = _arrays(y_true, score, what)
    positive = t == pos_label
    if positive.all() or not positive.any():  # includes empty input
        return None
    return positive, _finite(s, what)


def pr_auc(y_true: npt.ArrayLike, score: npt.ArrayLike, pos_label: Hashable = 1) -> float | None:
    """Area under the precision-recall curve as average precision; None with one class present."""
    pair = _binary_scores(y_true, score, pos_label, "pr_auc")
    return None if pair is None else float(skm.average_precision_score(*pair))


def roc_auc(y_true: npt.ArrayLike, score: npt.ArrayLike, pos_label: Hashable = 1) -> float | None:
    """Area under the ROC curve; None with one class present."""
    pair = _binary_scores(y_true, score, pos_label, "roc_auc")
    return None if pair is None else float(skm.roc_auc_score(*pair))


def mae(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float | None:
    """Mean absolute error; None on empty input."""
    t, p = _arrays(y_true, y_pred, "mae")
    if not t.size:
        return None
    return float(skm.mean_absolute_error(_finite(t, "mae"), _finite(p, "mae")))


def rmse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float | None:
    """Root mean squared error; None on empty input."""
    t, p = _arrays(y_true, y_pred, "rmse")
    if not t.size:
        return None
    return float(skm.root_mean_squared_error(_finite(t, "rmse"), _finite(p, "rmse")))


def _ranking_arrays(
    relevance: npt.ArrayLike, score: npt.ArrayLike, k: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{what}: k must be a positive integer, got {k!r}")
    r, s = _arrays(relevance, score, what)
    r, s = _finite(r, what), _finite(s, what)
    if (r < 0).any():
        raise ValueError(f"{what}: relevance must be >= 0 (0 = not relevant)")
    return r, s


def ranking_ndcg(relevance: npt.ArrayLike, score: npt.ArrayLike, k: int) -> float | None:
    """NDCG@k of one ranked list (one query/group): gain = relevance, discount log2(rank + 1).

    Tied scores get the average gain of their tie group (sklearn's ``ndcg_score``); None when
    nothing in the list is relevant.
    """
    r, s = _ranking_arrays(relevance, score, k, "ranking_ndcg")
    if not (r > 0).any():
        return None
    if r.size == 1:  # sklearn refuses one-item lists; a lone relevant item is a perfect ranking
        return 1.0
    return float(skm.ndcg_score(r[None, :], s[None, :], k=k))


def ranking_precision(
    relevance: npt.ArrayLike, score: npt.ArrayLike, k: int, threshold: float = 1.0
) -> float | None:
    """Share of the k highest-scored items with relevance >= threshold, divided by k.

    sklearn has no precision@k for ranking. Tied scores keep their input order (a stable sort);
    None on an empty list.
    """
    r, s = _ranking_arrays(relevance, score, k, "ranking_precision")
    if not r.size:
        return None
    order = np.argsort(-s, kind="stable")[:k]
    return float((r[order] >= threshold).sum() / k)


def ranking_by_group(
    relevance: npt.ArrayLike, score: npt.ArrayLike, groups: npt.ArrayLike, k: int
) -> dict[str, Aggregate]:
    """NDCG@k and precision@k per group (e.g. per query or per user), averaged over groups.

    Example:
        >>> aggs = ranking_by_group([1, 0, 0, 1], [0.9, 0.1, 0.8, 0.2], ["a", "a", "b", "b"], k=1)
        >>> aggs["precision@1"].value
        0.5
    """
    r, s = _arrays(relevance, score, "ranking_by_group")
    g = np.asarray(groups)
    if g.shape != r.shape:
        raise ValueError(f"ranking_by_group: groups has shape {g.shape}, expected {r.shape}")
    ndcgs: list[float | None] = []
    precisions: list[float | None] = []
    for group in np.unique(g):
        mask = g == group
        ndcgs.append(ranking_ndcg(r[mask], s[mask], k))
        precisions.append(ranking_precision(r[mask], s[mask], k))
    return {
        f"ndcg@{k}": aggregate(f"ndcg@{k}", ndcgs),
        f"precision@{k}": aggregate(f"precision@{k}", precisions),
    }


@dataclass(frozen=True, slots=True)
class ReliabilityCurve:
    """Calibration per probability bin; empty bins have None means and count 0.

    Bin i holds probabilities in (edge[i], edge[i+1]]; the first bin also holds edge[0]
    (the same binning as sklearn's ``calibration_curve``).

    Example:
        >>> curve = reliability_curve([0, 1, 1], [0.2, 0.7, 0.9], bins=2)
        >>> curve.counts, curve.fraction_positive
        ((1, 2), (0.0, 1.0))
    """

    bin_edges: tuple[float, ...]
    mean_predicted: tuple[float | None, ...]
    fraction_positive: tuple[float | None, ...]
    counts: tuple[int, ...]


def _bin_stats(
    y_true: npt.ArrayLike, prob: npt.ArrayLike, bins: int, strategy: Strategy
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    t, p = _arrays(y_true, prob, "calibration")
    p = _finite(p, "calibration")
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("calibration: probabilities must lie in [0, 1]")
    if not np.isin(t, [0, 1]).all():
        raise ValueError("calibration: y_true must be 0/1 (or bool); map labels to 0/1 first")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    elif strategy == "quantile":
        # equal-count bins; with no data there are no quantiles, so fall back to uniform edges
        quantiles = np.linspace(0.0, 100.0, bins + 1)
        edges = np.percentile(p, quantiles) if p.size else quantiles / 100.0
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    ids = np.searchsorted(edges[1:-1], p)
    counts = np.bincount(ids, minlength=bins)
    sum_prob = np.bincount(ids, weights=p, minlength=bins)
    sum_true = np.bincount(ids, weights=t.astype(np.float64), minlength=bins)
    return edges, counts, sum_prob, sum_true


def _per_bin(sums: np.ndarray, counts: np.ndarray) -> tuple[float | None, ...]:
    return tuple(float(s / c) if c else None for s, c in zip(sums, counts, strict=True))


def reliability_curve(
    y_true: npt.ArrayLike, prob: npt.ArrayLike, bins: int = 10, strategy: Strategy = "uniform"
) -> ReliabilityCurve:
    """Mean predicted probability and observed positive rate per bin (``strategy``: equal-width
    bins on [0, 1], or equal-count bins from the probabilities' quantiles)."""
    edges, counts, sum_prob, sum_true = _bin_stats(y_true, prob, bins, strategy)
    return ReliabilityCurve(
        bin_edges=tuple(float(e) for e in edges),
        mean_predicted=_per_bin(sum_prob, counts),
        fraction_positive=_per_bin(sum_true, counts),
        counts=tuple(int(c) for c in counts),
    )


def ece(
    y_true: npt.ArrayLike, prob: npt.ArrayLike, bins: int = 10, strategy: Strategy = "uniform"
) -> float | None:
    """Expected calibration error: sum over bins of (n_bin / n) * |mean prob - positive rate|.

    None on empty input.
    """
    _, counts, sum_prob, sum_true = _bin_stats(y_true, prob, bins, strategy)
    n = counts.sum()
    if n == 0:
        return None
    # n_b/n * |sum_prob/n_b - sum_true/n_b| = |sum_prob - sum_true| / n, no division by empty bins
    return float(np.abs(sum_prob - sum_true).sum() / n)
