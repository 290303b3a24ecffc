"""Model drift, pure: prediction drift (the score distribution), label drift (the class mix)
and concept drift (a rolling primary metric against a baseline), judged by `ModelDriftConfig`.

    config = ModelDriftConfig()
    scores = prediction_drift(ref_scores, cur_scores, config)   # PSI and KL on score bins
    labels = label_drift(ref_labels, cur_labels, config)        # chi-square on class counts
    points = rolling_metric(labelled, "roc_auc", start, end, config)
    concept = concept_drift(points, baseline=0.91, higher_is_better=True, config=config)
    ModelDrift("churn", scores, labels, concept).observations()   # for the alert engine
    assess(prediction_window, ref_start, cur_start, now, config)   # all three from the log

Prediction drift bins both score samples on the reference's quantiles (deciles by default) and
reports PSI and KL(current || reference) in nats (`ragline.mltrack.monitor.drift`); the worse
of their levels (KL 0.1 / 0.25, PSI 0.1 / 0.25) stands only when the two-sample KS p-value is
under ``ks_pvalue``: with 100 scores a side, noise alone gives KL near 0.05.
Label drift treats labels as categories (a 0/1 label is two classes, never a number): a
chi-square p-value under ``chi2_pvalue`` with Cramér's V at least ``min_cramers_v`` is a
warning, critical when the class shares' PSI also reaches ``psi_critical``.
Concept drift evaluates the metric at points ``concept_step`` apart, each over the labelled
predictions of the trailing ``concept_window``; a point breaches when the metric is more than
``concept_drop`` (relative) worse than the baseline. The breach lasts from the first point of
the run of breaching points that ends at the newest point; it is critical once it lasts
``concept_for`` (24 h), a warning before. A point with fewer than ``min_labels`` labels (or one
class only, for ROC-AUC) is not measured and ends a run: no alarm without evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ragline.mltrack.errors import DataError
from ragline.mltrack.monitor.alerts import Observation
from ragline.mltrack.monitor.config import ModelDriftConfig
from ragline.mltrack.monitor.drift import (
    EPSILON,
    chi_square,
    kl_divergence,
    ks,
    psi,
    quantile_shares,
)
from ragline.mltrack.monitor.health import parse_window
from ragline.mltrack.tabular.evaluate import metric_value

if TYPE_CHECKING:
    from ragline.mltrack.monitor.prediction_log import PredictionWindow

Severity = Literal["ok", "warning", "critical", "insufficient_data"]
SEVERITY_CODE: dict[Severity, float] = {"ok": 0.0, "warning": 1.0, "critical": 2.0}
LOWER_IS_BETTER = frozenset({"rmse", "mae"})
FloatArray = npt.NDArray[np.float64]


def _level(value: float, warning: float, critical: float) -> Severity:
    return "critical" if value >= critical else "warning" if value >= warning else "ok"


def _short(n_ref: int, n_cur: int, need: int, what: str) -> str:
    return f"{n_ref} reference / {n_cur} current {what}; need {need} a side"


@dataclass(frozen=True, slots=True)
class PredictionDrift:
    """How the score distribution moved: PSI, KL (nats) and KS's p-value on the score bins.

    Example:
        >>> s = np.linspace(0, 1, 500)
        >>> prediction_drift(s, s**3, ModelDriftConfig()).severity
        'critical'
    """

    n_ref: int
    n_cur: int
    psi: float | None
    kl: float | None
    ks_pvalue: float | None
    severity: Severity
    reason: str


def prediction_drift(
    reference: npt.ArrayLike, current: npt.ArrayLike, config: ModelDriftConfig
) -> PredictionDrift:
    """PSI and KL(current || reference) of two score samples; severity per the module rules."""
    ref = np.asarray(reference, np.float64).ravel()
    cur = np.asarray(current, np.float64).ravel()
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if min(ref.size, cur.size) < config.min_rows:
        reason = _short(ref.size, cur.size, config.min_rows, "scores")
        return PredictionDrift(ref.size, cur.size, None, None, None, "insufficient_data", reason)
    p, q = quantile_shares(ref, cur, config.bins)
    kl = float(kl_divergence(q, p, smoothing=EPSILON))
    psi_v = float(psi(ref, cur, config.bins)[0])
    pvalue = float(ks(ref, cur).pvalue[0])
    effect = max(
        _level(kl, config.kl_warning, config.kl_critical),
        _level(psi_v, config.psi_warning, config.psi_critical),
        key=SEVERITY_CODE.__getitem__,
    )
    numbers = f"KL {kl:.3f}, PSI {psi_v:.3f}, KS p {pvalue:.2g}"
    severity: Severity
    if effect == "ok":
        severity, reason = effect, f"{numbers}: under the warning thresholds"
    elif not pvalue < config.ks_pvalue:
        severity, reason = "ok", f"{numbers}: KS p >= {config.ks_pvalue}, sampling noise"
    else:
        limits = f"KL {config.kl_warning}/{config.kl_critical}"
        severity, reason = effect, f"{numbers}: {effect} ({limits})"
    return PredictionDrift(ref.size, cur.size, psi_v, kl, pvalue, severity, reason)


@dataclass(frozen=True, slots=True)
class LabelDrift:
    """How the class mix of the true labels moved (chi-square homogeneity test).

    Example:
        >>> ref, cur = [0] * 800 + [1] * 200, [0] * 600 + [1] * 400
        >>> label_drift(ref, cur, ModelDriftConfig()).severity
        'warning'
    """

    n_ref: int
    n_cur: int
    chi2_pvalue: float | None
    cramers_v: float | None
    psi: float | None
    shares_ref: dict[str, float]
    shares_cur: dict[str, float]
    severity: Severity
    reason: str


def _shares(values: pd.Series) -> dict[str, float]:
    return {str(k): float(v) for k, v in values.value_counts(normalize=True).sort_index().items()}


def _as_classes(values: Sequence[object] | npt.ArrayLike) -> pd.Series:
    """Labels as category strings; numbers as floats first, so 1 and 1.0 are one class."""
    series = pd.Series(values).dropna()
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        series = series.astype(np.float64).map("{:g}".format)
    return series.astype(str)


def label_drift(
    reference: Sequence[object] | npt.ArrayLike,
    current: Sequence[object] | npt.ArrayLike,
    config: ModelDriftConfig,
) -> LabelDrift:
    """Chi-square test of the class counts of two label samples, always as categories."""
    ref, cur = _as_classes(reference), _as_classes(current)
    shares = _shares(ref), _shares(cur)
    if min(ref.size, cur.size) < config.min_rows:
        reason = _short(ref.size, cur.size, config.min_rows, "labels")
        return LabelDrift(
            ref.size, cur.size, None, None, None, *shares, "insufficient_data", reason
        )
    result = chi_square(ref, cur)
    numbers = f"chi2 p {result.pvalue:.2g}, V {result.cramers_v:.3f}, PSI {result.psi:.3f}"
    if not (result.pvalue < config.chi2_pvalue and result.cramers_v >= config.min_cramers_v):
        severity: Severity = "ok"
        reason = f"{numbers}: not significant, or V < {config.min_cramers_v}"
    else:
        severity = "critical" if result.psi >= config.psi_critical else "warning"
        reason = f"{numbers}: the class mix moved ({severity} at PSI {config.psi_critical})"
    return LabelDrift(
        ref.size, cur.size, result.pvalue, result.cramers_v, result.psi, *shares, severity, reason
    )


@dataclass(frozen=True, slots=True)
class Labelled:
    """Labelled predictions in time order: when served (epoch s), the truth (0/1 for a
    classifier's positive class, the target for a regressor) and the score."""

    ts: FloatArray
    y_true: FloatArray
    score: FloatArray


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """The metric over the labelled predictions of (end - window, end]; None: not measured."""

    end: float
    value: float | None
    n: int


def rolling_metric(
    data: Labelled, metric: str, start: float, end: float, config: ModelDriftConfig
) -> tuple[MetricPoint, ...]:
    """The metric at end, end - step, ... down to start (oldest first), each over the trailing
    ``concept_window``.

    >>> d = Labelled(np.arange(4.0), np.array([0.0, 1, 0, 1]), np.array([.1, .9, .2, .8]))
    >>> cfg = ModelDriftConfig(concept_window="1h", concept_step="1h", min_labels=2)
    >>> rolling_metric(d, "roc_auc", 0.0, 3600.0, cfg)[-1]
    MetricPoint(end=3600.0, value=1.0, n=3)
    """
    window = parse_window(config.concept_window).total_seconds()
    step = parse_window(config.concept_step).total_seconds()
    count = int(np.floor((end - start) / step + 1e-9)) + 1
    ends = end - step * np.arange(count)[::-1]
    order = np.argsort(data.ts, kind="stable")
    ts, y, s = data.ts[order], data.y_true[order], data.score[order]
    lows = np.searchsorted(ts, ends - window, side="right")
    highs = np.searchsorted(ts, ends, side="right")
    points = []
    for point_end, lo, hi in zip(ends.tolist(), lows.tolist(), highs.tolist(), strict=True):
        n = hi - lo
        value = metric_value(metric, y[lo:hi], s[lo:hi]) if n >= config.min_labels else None
        points.append(MetricPoint(point_end, value, n))
    return tuple(points)


@dataclass(frozen=True, slots=True)
class ConceptDrift:
    """The rolling metric against the baseline, and how long it has been down.

    Example:
        >>> cfg = ModelDriftConfig(concept_for="2h")
        >>> pts = [MetricPoint(h * 3600.0, 0.80, 500) for h in range(4)]
        >>> concept_drift(pts, "roc_auc", 0.90, cfg).severity
        'critical'
    """

    metric: str
    baseline: float | None
    latest: float | None
    drop: float | None
    breach_hours: float
    points: tuple[MetricPoint, ...]
    severity: Severity
    reason: str


def _drop(value: float, baseline: float, metric: str) -> float:
    """Relative worsening: positive when the metric got worse."""
    change = (value - baseline) / max(abs(baseline), 1e-12)
    return change if metric in LOWER_IS_BETTER else -change


def concept_drift(
    points: Sequence[MetricPoint], metric: str, baseline: float | None, config: ModelDriftConfig
) -> ConceptDrift:
    """Judge the newest run of breaching points against ``concept_drop`` and ``concept_for``."""
    points = tuple(points)
    latest = points[-1].value if points else None
    if baseline is None or latest is None:
        missing = "no baseline" if baseline is None else "the newest point is not measured"
        reason = f"{missing}: need {config.min_labels} labels per {config.concept_window}"
        return ConceptDrift(
            metric, baseline, latest, None, 0.0, points, "insufficient_data", reason
        )
    first = len(points)
    for i in range(len(points) - 1, -1, -1):
        value = points[i].value
        if value is None or _drop(value, baseline, metric) <= config.concept_drop:
            break
        first = i
    hours = (points[-1].end - points[first].end) / 3600 if first < len(points) else 0.0
    drop = _drop(latest, baseline, metric)
    need = parse_window(config.concept_for).total_seconds() / 3600
    numbers = f"{metric} {latest:.4f} vs baseline {baseline:.4f} ({drop:+.1%} worse)"
    if first == len(points):
        severity: Severity = "ok"
        reason = f"{numbers}: within {config.concept_drop:.0%}"
    elif hours >= need:
        severity, reason = "critical", f"{numbers}: down for {hours:g} h (>= {need:g} h)"
    else:
        severity, reason = "warning", f"{numbers}: down for {hours:g} h, not yet {need:g} h"
    return ConceptDrift(metric, baseline, latest, drop, hours, points, severity, reason)


@dataclass(frozen=True, slots=True)
class ModelDrift:
    """One served model's prediction, label and concept drift."""

    model: str
    prediction: PredictionDrift
    labels: LabelDrift
    concept: ConceptDrift

    @property
    def severity(self) -> Severity:
        levels = (self.prediction.severity, self.labels.severity, self.concept.severity)
        measured = [s for s in levels if s != "insufficient_data"]
        return max(measured, key=SEVERITY_CODE.__getitem__) if measured else "insufficient_data"

    def observations(self) -> list[Observation]:
        """What alert rules can watch, keyed by the model: ``prediction_drift``, ``label_drift``
        and ``concept_drift`` (0 ok, 1 warning, 2 critical), ``prediction_kl``,
        ``prediction_psi``, ``label_chi2_pvalue``, ``concept_drop`` and
        ``concept_breach_hours``; unmeasured figures are left out."""
        figures: dict[str, float | None] = {
            "prediction_kl": self.prediction.kl,
            "prediction_psi": self.prediction.psi,
            "label_chi2_pvalue": self.labels.chi2_pvalue,
            "concept_drop": self.concept.drop,
        }
        if self.concept.drop is not None:
            figures["concept_breach_hours"] = self.concept.breach_hours
        for name, part in (
            ("prediction_drift", self.prediction),
            ("label_drift", self.labels),
            ("concept_drift", self.concept),
        ):
            figures[name] = SEVERITY_CODE.get(part.severity)
        return [Observation(k, v, key=self.model) for k, v in figures.items() if v is not None]


def _truth(window: PredictionWindow, mask: npt.NDArray[np.bool_]) -> FloatArray:
    """The labels as numbers: 1/0 for the positive class (the class the model predicts at a
    score >= 0.5, as the predict route does; else the last in sorted order), or the target."""
    truth = [t for t, m in zip(window.truth, mask.tolist(), strict=True) if m]
    if window.task == "regression":
        try:
            return np.array(truth, dtype=np.float64)
        except ValueError:
            raise DataError(
                f"{window.model}: a regression label is not a number; fix the labels file"
            ) from None
    above = {p for p, s in zip(window.predicted, window.score.tolist(), strict=True) if s >= 0.5}
    classes = sorted({t for t in truth if t is not None} | {p for p in above if p is not None})
    positive = next(iter(above - {None}), classes[-1] if classes else "1")
    return np.array([t == positive for t in truth], dtype=np.float64)


def assess(
    window: PredictionWindow,
    ref_start: float,
    cur_start: float,
    now: float,
    config: ModelDriftConfig,
) -> ModelDrift:
    """Prediction and label drift of [ref_start, cur_start) against [cur_start, now), and
    concept drift over the ``concept_for`` before `now`, the reference window's metric as the
    baseline (epoch seconds throughout)."""
    ref = (window.ts >= ref_start) & (window.ts < cur_start)
    cur = (window.ts >= cur_start) & (window.ts < now)
    labelled = window.labelled
    truth = np.array(window.truth, dtype=object)
    metric = config.concept_metric
    if metric == "auto":
        metric = "rmse" if window.task == "regression" else "roc_auc"
    y = _truth(window, labelled)
    data = Labelled(window.ts[labelled], y, window.score[labelled])
    in_ref = ref[labelled]
    baseline = None
    if int(in_ref.sum()) >= config.min_labels:
        baseline = metric_value(metric, data.y_true[in_ref], data.score[in_ref])
    start = now - parse_window(config.concept_for).total_seconds()
    points = rolling_metric(data, metric, start, now, config)
    ref_labels, cur_labels = truth[ref & labelled], truth[cur & labelled]
    if window.task == "regression":
        ref_labels, cur_labels = np.array([], object), np.array([], object)
    return ModelDrift(
        window.model,
        prediction_drift(window.score[ref], window.score[cur], config),
        label_drift(ref_labels.tolist(), cur_labels.tolist(), config),
        concept_drift(points, metric, baseline, config),
    )
