"""Test-set evaluation: metrics with bootstrap CIs, calibration, fairness, deltas vs baseline.

    report = evaluate(y_test, scores, task="classification", metrics=["roc_auc", "f1"],
                      spec=MetricsSpec(), groups=test["sex"])
    report.metrics["roc_auc"]           # evals Aggregate: value, ci_low, ci_high
    deltas = compare(y_test, scores, baseline_scores, metrics=["roc_auc"], spec=MetricsSpec())

CIs are percentile bootstraps over test rows via `ragline.evals.stats.bootstrap_ci`: the resampled
values are row indices, and each metric is computed on the resampled (label, score) pairs, so
ROC-AUC and F1 get honest intervals too. Deltas resample the same rows for model and baseline
(paired). A resample where a metric is undefined (one class only) counts at the full-sample value.
Scores are positive-class probabilities (labels 0/1) or regression predictions; for a multiclass
model they are an (n, K) matrix of class probabilities (labels 0..K-1), scored with macro_f1,
accuracy, log_loss and one-vs-rest roc_auc (the mean over classes, skipping a class a resample
lacks), a per-class precision/recall/F1 report and top-label calibration (the predicted class's
probability against being right); fairness is binary-only. ``per_row`` keeps each row's label,
score and losses, for later paired comparisons between runs. Anomaly scores (``task: anomaly``)
get pr_auc, roc_auc and precision/recall at K (``MetricsSpec.top_k``); `relative_mae` gives a
forecast's MASE against the seasonal-naive baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from ragline.evals.metrics import classical
from ragline.evals.metrics.fairness import FairnessReport, fairness_report
from ragline.evals.result import Aggregate
from ragline.evals.stats import bootstrap_ci
from ragline.mltrack.tabular.config import MAXIMISED, MULTICLASS_METRICS, MetricsSpec, Task

FloatArray = npt.NDArray[np.float64]
Batch = Callable[[FloatArray, FloatArray, float], FloatArray]  # (R, n) resamples -> (R,)
IntArray = npt.NDArray[np.intp]
AtRows = Callable[[IntArray], FloatArray]  # (R, n) row indices -> one value per resample
_EPS = 1e-15


def _log_loss_rows(y: FloatArray, s: FloatArray) -> FloatArray:
    p = np.clip(s, _EPS, 1.0 - _EPS)
    return np.asarray(-(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)), dtype=np.float64)


def _auc_batch(y: FloatArray, s: FloatArray, _t: float) -> FloatArray:
    ranks = rankdata(s, axis=-1)
    pos = y.sum(axis=-1)
    neg = y.shape[-1] - pos
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = ((ranks * y).sum(axis=-1) - pos * (pos + 1) / 2.0) / (pos * neg)
    return np.asarray(np.where((pos > 0) & (neg > 0), auc, np.nan), dtype=np.float64)


def _pr_auc_batch(y: FloatArray, s: FloatArray, _t: float) -> FloatArray:
    values = [classical.pr_auc(yy, ss) for yy, ss in zip(y, s, strict=True)]
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _f1_batch(y: FloatArray, s: FloatArray, t: float) -> FloatArray:
    pred, true = s >= t, y > 0.5
    tp = (pred & true).sum(axis=-1)
    wrong = (pred != true).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(2.0 * tp / (2.0 * tp + wrong), dtype=np.float64)


def _macro_f1_batch(y: FloatArray, s: FloatArray, t: float) -> FloatArray:
    negatives = _f1_batch(1.0 - y, (s < t).astype(np.float64), 0.5)
    return np.asarray((_f1_batch(y, s, t) + negatives) / 2.0, dtype=np.float64)


def _r2_batch(y: FloatArray, s: FloatArray, _t: float) -> FloatArray:
    sse = ((y - s) ** 2).sum(axis=-1)
    sst = ((y - y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(sst > 0, 1.0 - sse / sst, np.nan), dtype=np.float64)


def _at_k(y: FloatArray, s: FloatArray, k: int | None, recall: bool) -> FloatArray:
    """Precision (or recall) among each resample's ``k`` highest scores; rows tied with the
    k-th score share the slots left (the expectation over random tie-breaking), so a constant
    score gets the base rate, not whatever order the rows came in."""
    top = min(k or 1, y.shape[-1])
    kth = np.sort(s, axis=-1)[..., ::-1][..., top - 1 : top]
    above, tied = s > kth, s == kth
    positive = y > 0.5
    slots = top - above.sum(axis=-1)
    hits = (above & positive).sum(axis=-1) + (tied & positive).sum(axis=-1) * slots / tied.sum(
        axis=-1
    )
    if not recall:
        return np.asarray(hits / top, dtype=np.float64)
    positives = positive.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(positives > 0, hits / positives, np.nan), dtype=np.float64)


def _mean_of(rows: Callable[[FloatArray, FloatArray, float], FloatArray]) -> Batch:
    def batch(y: FloatArray, s: FloatArray, t: float) -> FloatArray:
        return np.asarray(rows(y, s, t).mean(axis=-1), dtype=np.float64)

    return batch


_ROWS: dict[str, Callable[[FloatArray, FloatArray, float], FloatArray]] = {
    "log_loss": lambda y, s, _t: _log_loss_rows(y, s),
    "brier": lambda y, s, _t: (s - y) ** 2,
    "accuracy": lambda y, s, t: ((s >= t) == (y > 0.5)).astype(np.float64),
    "mae": lambda y, s, _t: np.abs(y - s),
    "squared_error": lambda y, s, _t: (y - s) ** 2,
}
_BATCH: dict[str, Batch] = {
    "roc_auc": _auc_batch,
    "pr_auc": _pr_auc_batch,
    "f1": _f1_batch,
    "macro_f1": lambda y, s, t: _macro_f1_batch(y, s, t),
    "r2": _r2_batch,
    "rmse": lambda y, s, t: np.sqrt(_mean_of(_ROWS["squared_error"])(y, s, t)),
    **{name: _mean_of(_ROWS[name]) for name in ("log_loss", "brier", "accuracy", "mae")},
}


def _nanmean(stack: FloatArray) -> FloatArray:
    """The mean over axis 0 of the values that are not NaN (NaN where none is), silently."""
    kept = ~np.isnan(stack)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(kept, stack, 0.0).sum(axis=0) / kept.sum(axis=0))


def _macro_f1(y: IntArray, p: FloatArray) -> AtRows:
    pred = p.argmax(axis=1)

    def at(idx: IntArray) -> FloatArray:
        t, q, per_class = y[idx], pred[idx], []
        for c in range(p.shape[1]):  # a class neither present nor predicted is skipped
            tp, wrong = ((q == c) & (t == c)).sum(-1), ((q == c) != (t == c)).sum(-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                per_class.append(np.where(tp + wrong > 0, 2.0 * tp / (2.0 * tp + wrong), np.nan))
        return _nanmean(np.stack(per_class))

    return at


def _ovr_auc(y: IntArray, p: FloatArray) -> AtRows:
    def at(idx: IntArray) -> FloatArray:
        hits = [(y[idx] == c).astype(np.float64) for c in range(p.shape[1])]
        return _nanmean(np.stack([_auc_batch(h, p[:, c][idx], 0.5) for c, h in enumerate(hits)]))

    return at


def _row_mean(rows: FloatArray) -> AtRows:
    return lambda idx: np.asarray(rows[idx].mean(axis=-1), dtype=np.float64)


def _multi_rows(y: IntArray, p: FloatArray) -> dict[str, FloatArray]:
    top = p[np.arange(len(y)), y]
    loss = -np.log(np.clip(top, _EPS, 1.0))
    return {"log_loss": loss, "accuracy": (p.argmax(axis=1) == y).astype(np.float64)}


def _at_rows(name: str, y: FloatArray, s: FloatArray, t: float, k: int | None = None) -> AtRows:
    """`name` over resampled row indices; `s` is a score per row, or (multiclass) a matrix;
    ``k``: the K of precision_at_k / recall_at_k (null: the rows' positives)."""
    if name in ("precision_at_k", "recall_at_k"):
        k = k or max(1, int(y.sum()))
        return lambda idx: _at_k(y[idx], s[idx], k, name == "recall_at_k")
    if s.ndim == 1:
        batch = _BATCH[name]
        return lambda idx: batch(y[idx], s[idx], t)
    labels = y.astype(np.intp)
    if name == "macro_f1":
        return _macro_f1(labels, s)
    if name == "roc_auc":
        return _ovr_auc(labels, s)
    rows = _multi_rows(labels, s)
    if name not in rows:
        raise ValueError(f"{name!r} is not a multiclass metric; choose from {MULTICLASS_METRICS}")
    return _row_mean(rows[name])


def _point(stat: AtRows, n: int) -> float | None:
    value = float(stat(np.arange(n, dtype=np.intp)[None, :])[0]) if n else float("nan")
    return None if np.isnan(value) else value


_PER_ROW = {
    "classification": ("log_loss", "brier", "accuracy"),
    "regression": ("mae", "squared_error"),
    "anomaly": (),
}
AT_K = ("precision_at_k", "recall_at_k")


def metric_value(
    name: str, y_true: npt.ArrayLike, score: npt.ArrayLike, threshold: float = 0.5
) -> float | None:
    """One metric on the whole sample; None where it is undefined.

    Example:
        >>> metric_value("roc_auc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    if name not in _BATCH and name not in AT_K:
        raise ValueError(f"unknown metric {name!r}; choose from {sorted(_BATCH)}")
    y, s = np.asarray(y_true, dtype=np.float64), np.asarray(score, dtype=np.float64)
    return _point(_at_rows(name, y, s, threshold), len(y))


@dataclass(frozen=True, slots=True)
class Calibration:
    """Expected calibration error and the reliability curve behind it."""

    ece: float | None
    curve: classical.ReliabilityCurve


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Metrics (with CIs), calibration and fairness on one set of rows, plus per-row values.

    Usage::

        report.metrics["roc_auc"].ci_low report.calibration.curve.fraction_positive      #
        classification only report.fairness.disparate_impact                # when groups were given
        paired_bootstrap(run_a.per_row["log_loss"], run_b.per_row["log_loss"])  #
        ragline.evals.stats
    """

    metrics: dict[str, Aggregate]
    per_row: dict[str, FloatArray]
    calibration: Calibration | None = None
    fairness: FairnessReport | None = None
    per_class: tuple[ClassReport, ...] = ()  # multiclass only


@dataclass(frozen=True, slots=True)
class ClassReport:
    """One class of a multiclass evaluation: precision, recall, F1 (None when undefined) and
    support (its rows)."""

    label: str
    precision: float | None
    recall: float | None
    f1: float | None
    support: int


@dataclass(frozen=True, slots=True)
class MetricDelta:
    """model - baseline on the same rows; ``improved`` is True/False when the CI excludes 0
    on the better/worse side, None when it does not (or there is no CI)."""

    name: str
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    improved: bool | None


def _resampled_ci(
    n: int,
    statistic: Callable[[npt.NDArray[np.intp]], FloatArray],
    fallback: float,
    spec: MetricsSpec,
) -> tuple[float, float] | None:
    def over_indices(sample: FloatArray) -> FloatArray:
        values = statistic(sample.astype(np.intp))
        return np.where(np.isnan(values), fallback, values)

    return bootstrap_ci(
        np.arange(n, dtype=np.float64).tolist(),
        statistic=over_indices,
        resamples=spec.resamples,
        confidence=spec.confidence,
        seed=spec.seed,
    )


def _aggregate(name: str, y: FloatArray, s: FloatArray, spec: MetricsSpec) -> Aggregate:
    stat = _at_rows(name, y, s, spec.threshold, spec.top_k)
    value = _point(stat, len(y))
    if value is None:
        return Aggregate(name, None, 0, len(y))
    ci = _resampled_ci(len(y), stat, value, spec)
    low, high = ci if ci is not None else (None, None)
    return Aggregate(name, value, len(y), 0, low, high)


def _calibration(y: FloatArray, s: FloatArray, bins: int) -> Calibration:
    labels = y.astype(np.int64)
    return Calibration(classical.ece(labels, s, bins), classical.reliability_curve(labels, s, bins))


def evaluate(
    y_true: npt.ArrayLike,
    score: npt.ArrayLike,
    *,
    task: Task,
    metrics: Sequence[str],
    spec: MetricsSpec,
    groups: npt.ArrayLike | None = None,
    classes: Sequence[object] = (),
) -> EvalReport:
    """Metrics with CIs; for classification also calibration, and fairness when ``groups``
    (the protected attribute per row) is given; multiclass (``score`` an (n, K) matrix) also
    the per-class report, its rows named by ``classes`` (default: their positions).

    Example:
        >>> r = evaluate([0, 1, 0, 1], [0.2, 0.9, 0.4, 0.6], task="classification",
        ...              metrics=["accuracy"], spec=MetricsSpec(resamples=50))
        >>> r.metrics["accuracy"].value, r.calibration is not None
        (1.0, True)
    """
    y, s = np.asarray(y_true, dtype=np.float64), np.asarray(score, dtype=np.float64)
    if y.shape != s.shape[:1] or y.ndim != 1 or s.ndim > 2:
        raise ValueError(
            f"expected 1-D labels and scores (or an (n, K) matrix) of equal length, "
            f"got {y.shape} and {s.shape}"
        )
    out = {name: _aggregate(name, y, s, spec) for name in metrics}
    if s.ndim == 2:
        return _multiclass_report(out, y.astype(np.intp), s, spec, classes)
    per_row = {"y_true": y, "score": s}
    per_row |= {name: _ROWS[name](y, s, spec.threshold) for name in _PER_ROW[task]}
    if task != "classification":
        return EvalReport(out, per_row)
    fairness = None
    if groups is not None:
        decisions = (s >= spec.threshold).astype(np.int64)
        fairness = fairness_report(
            y.astype(np.int64), decisions, np.asarray(groups), min_count=spec.fairness_min_count
        )
    return EvalReport(out, per_row, _calibration(y, s, spec.calibration_bins), fairness)


def _multiclass_report(
    metrics: dict[str, Aggregate],
    y: IntArray,
    p: FloatArray,
    spec: MetricsSpec,
    classes: Sequence[object],
) -> EvalReport:
    rows = _multi_rows(y, p)
    pred, top = p.argmax(axis=1), p.max(axis=1)
    per_row = {"y_true": y.astype(np.float64), "score": top, "predicted": pred.astype(np.float64)}
    calibration = _calibration(rows["accuracy"], top, spec.calibration_bins)
    names = [str(c) for c in classes] or [str(c) for c in range(p.shape[1])]
    report = tuple(_class_report(names[c], y == c, pred == c) for c in range(p.shape[1]))
    return EvalReport(metrics, per_row | rows, calibration, None, report)


def _class_report(
    label: str, true: npt.NDArray[np.bool_], pred: npt.NDArray[np.bool_]
) -> ClassReport:
    tp, predicted, support = int((true & pred).sum()), int(pred.sum()), int(true.sum())
    precision = tp / predicted if predicted else None
    recall = tp / support if support else None
    f1 = 2 * tp / (predicted + support) if predicted + support else None
    return ClassReport(label, precision, recall, f1, support)


def compare(
    y_true: npt.ArrayLike,
    score: npt.ArrayLike,
    baseline_score: npt.ArrayLike,
    *,
    metrics: Sequence[str],
    spec: MetricsSpec,
) -> dict[str, MetricDelta]:
    """Paired bootstrap deltas model - baseline per metric, over the same resampled rows.

    Example:
        >>> d = compare([0, 1, 0, 1] * 10, [0.1, 0.9, 0.2, 0.8] * 10, [0.5] * 40,
        ...             metrics=["roc_auc"], spec=MetricsSpec(resamples=50))
        >>> d["roc_auc"].delta, d["roc_auc"].improved
        (0.5, True)
    """
    y = np.asarray(y_true, dtype=np.float64)
    s, b = np.asarray(score, dtype=np.float64), np.asarray(baseline_score, dtype=np.float64)
    return {name: _delta(name, y, s, b, spec) for name in metrics}


def _delta(
    name: str, y: FloatArray, s: FloatArray, b: FloatArray, spec: MetricsSpec
) -> MetricDelta:
    model = _at_rows(name, y, s, spec.threshold, spec.top_k)
    base = _at_rows(name, y, b, spec.threshold, spec.top_k)
    model_value, base_value = _point(model, len(y)), _point(base, len(y))
    if model_value is None or base_value is None:
        return MetricDelta(name, None, None, None, None)
    delta = model_value - base_value
    ci = _resampled_ci(len(y), lambda idx: model(idx) - base(idx), delta, spec)
    if ci is None:
        return MetricDelta(name, delta, None, None, None)
    improved = None
    if ci[0] > 0 or ci[1] < 0:
        improved = (ci[0] > 0) == (name in MAXIMISED)
    return MetricDelta(name, delta, ci[0], ci[1], improved)


def relative_mae(
    y_true: npt.ArrayLike, score: npt.ArrayLike, baseline_score: npt.ArrayLike, spec: MetricsSpec
) -> Aggregate:
    """``mase``: the model's MAE over the baseline's on the same rows, with a paired bootstrap
    CI; under 1 the model beats it. With the seasonal-naive baseline it is the MASE of Hyndman &
    Koehler (2006), scaled on the test rows rather than in-sample.

    Example:
        >>> relative_mae([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5], [2.0, 3.0, 4.0, 5.0],
        ...              MetricsSpec(resamples=20)).value
        0.5
    """
    y = np.asarray(y_true, dtype=np.float64)
    mae = _BATCH["mae"]
    s, b = np.asarray(score, dtype=np.float64), np.asarray(baseline_score, dtype=np.float64)

    def ratio(idx: IntArray) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(mae(y[idx], s[idx], 0.0) / mae(y[idx], b[idx], 0.0))

    value = _point(ratio, len(y))
    if value is None or not np.isfinite(value):
        return Aggregate("mase", None, 0, len(y))
    ci = _resampled_ci(len(y), ratio, value, spec)
    low, high = ci if ci is not None else (None, None)
    return Aggregate("mase", value, len(y), 0, low, high)
