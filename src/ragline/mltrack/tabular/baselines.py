"""Baselines, always trained before the model: majority class, train mean, or hand rules.

    base = fit_baseline(BaselineSpec(kind="auto"), "classification", y_train)
    scores = base.predict(test_frame)     # positive-class probability, or the predicted value

A model is only worth shipping if it beats these. ``majority`` scores every row with the train
positive rate (so its label is the majority class and its ROC-AUC is 0.5); ``mean`` predicts the
train mean; ``rules`` applies ``column op value -> predict`` rules in order (first match wins) and
falls back to the majority/mean for rows no rule matches. Rule predictions are hard decisions:
for classification a matched row scores 1.0 or 0.0, so compare rules on accuracy or F1. For a
multiclass target (``classes`` of more than two) scores are (n, K) matrices: ``majority`` gives
every row the train class shares, a matched rule all of the probability to its class.
``seasonal_naive`` (forecasting) predicts the value ``season`` rows back, which training computes
past-only (`ragline.mltrack.forecast.seasonal`); anomaly detection's ``zscore`` baseline lives in
`ragline.mltrack.anomaly.zscore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import BaselineSpec, Rule, Task

FloatArray = npt.NDArray[np.float64]


def _numeric_hits(values: FloatArray, op: str, value: float) -> npt.NDArray[np.bool_]:
    if op == ">":
        return values > value
    if op == ">=":
        return values >= value
    if op == "<":
        return values < value
    if op == "<=":
        return values <= value
    equal: npt.NDArray[np.bool_] = values == value
    return equal if op == "==" else ~equal


@dataclass(frozen=True, slots=True)
class Baseline:
    """A fitted baseline; ``predict`` returns positive-class scores or regression values.

    Example:
        >>> base = fit_baseline(BaselineSpec(), "classification", [0, 0, 1, 0])
        >>> base.kind, base.predict(pd.DataFrame({"x": [1, 2]})).tolist()
        ('majority', [0.25, 0.25])
    """

    kind: str
    task: Task
    default: float
    rules: tuple[Rule, ...] = ()
    rule_values: tuple[float, ...] = ()
    shares: tuple[float, ...] = ()  # multiclass: the train share of each class
    column: str | None = None  # seasonal_naive: the forecast column training added

    def predict(self, frame: pd.DataFrame) -> FloatArray:
        """One score per row of ``frame`` (multiclass: one row of class probabilities)."""
        out = np.full(len(frame), self.default, dtype=np.float64)
        if self.column is not None:  # an entity's first row has no past: the train mean
            forecast = frame[self.column].to_numpy(dtype=np.float64, na_value=np.nan)
            return np.asarray(np.where(np.isnan(forecast), out, forecast), dtype=np.float64)
        if self.shares:
            out = np.tile(np.asarray(self.shares, dtype=np.float64), (len(frame), 1))
        free = np.ones(len(frame), dtype=bool)
        for i, (rule, value) in enumerate(zip(self.rules, self.rule_values, strict=True)):
            hit = free & _matches(frame, rule, i)
            out[hit] = value if not self.shares else np.eye(len(self.shares))[int(value)]
            free &= ~hit
        return out


def _matches(frame: pd.DataFrame, rule: Rule, i: int) -> npt.NDArray[np.bool_]:
    where = f"baseline.rules[{i}]"
    if rule.column not in frame.columns:
        raise DataError(f"{where}.column: {rule.column!r} is not in the data")
    series = frame[rule.column]
    if pd.api.types.is_numeric_dtype(series):
        try:
            value = float(rule.value)
        except ValueError as exc:
            raise DataError(f"{where}.value: {rule.column!r} is numeric; use a number") from exc
        hit = _numeric_hits(series.to_numpy(dtype=np.float64, na_value=np.nan), rule.op, value)
    elif rule.op in ("==", "!="):
        hit = series.astype(str).to_numpy(dtype=str) == str(rule.value)
        hit = hit if rule.op == "==" else ~hit
    else:
        raise DataError(f"{where}.op: {rule.op!r} needs a numeric column; use == or !=")
    return np.asarray(hit, dtype=bool)


def _rule_value(rule: Rule, i: int, task: Task, classes: Sequence[object]) -> float:
    if task == "regression":
        try:
            return float(rule.predict)
        except ValueError as exc:
            raise DataError(f"baseline.rules[{i}].predict: use a number for regression") from exc
    names = [str(c) for c in classes]
    if str(rule.predict) not in names:
        raise DataError(f"baseline.rules[{i}].predict: {rule.predict!r} is not one of {names}")
    if len(names) > 2:
        return float(names.index(str(rule.predict)))
    return 1.0 if names.index(str(rule.predict)) == len(names) - 1 else 0.0


def fit_baseline(
    spec: BaselineSpec,
    task: Task,
    y_train: npt.ArrayLike,
    *,
    classes: Sequence[object] = (0, 1),
    column: str | None = None,
) -> Baseline:
    """Fit the baseline on the train targets (0/1 with ``classes`` = [negative, positive] for
    classification, positions 0..K-1 for K > 2 classes, numbers for regression);
    ``seasonal_naive`` reads its forecasts from ``column`` (`ragline.mltrack.forecast`).

    Example:
        >>> from ragline.mltrack.tabular.config import Rule
        >>> spec = BaselineSpec(kind="rules", rules=[Rule(column="x", op=">", value=1, predict=1)])
        >>> fit_baseline(spec, "classification", [0, 1]).predict(pd.DataFrame({"x": [0, 5]}))
        array([0.5, 1. ])
    """
    y = np.asarray(y_train, dtype=np.float64)
    if y.size == 0:
        raise DataError("the baseline needs at least one train row")
    default = float(y.mean())
    kind = spec.kind
    if kind == "auto":
        kind = "majority" if task == "classification" else "mean"
    shares: tuple[float, ...] = ()
    if task == "classification" and len(classes) > 2:
        counts = np.bincount(y.astype(np.int64), minlength=len(classes))
        shares = tuple(float(c) for c in counts / counts.sum())
    if kind == "seasonal_naive":
        if column is None:
            raise DataError("baseline: seasonal_naive needs the forecast column; see train.py")
        return Baseline(kind=kind, task=task, default=default, column=column)
    if kind != "rules":
        return Baseline(kind=kind, task=task, default=default, shares=shares)
    values = tuple(_rule_value(r, i, task, classes) for i, r in enumerate(spec.rules))
    return Baseline("rules", task, default, tuple(spec.rules), values, shares)
