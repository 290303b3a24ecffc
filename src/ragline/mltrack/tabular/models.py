"""Learners behind one small interface: LightGBM, XGBoost and scikit-learn.

    data = TrainData(x_train, y_train, x_valid, y_valid, task="classification", target="y")
    model = fit_model(ModelSpec(kind="lightgbm"), data, metric="roc_auc")
    scores = model.predict(x_test)       # positive-class probability, or the predicted value
    probs = model.predict(x_test)        # multiclass: one column per class, rows sum to 1

Boosters train on the train split and stop early on the validation split; the kept model is cut
to its best iteration, so the model in memory is exactly the one `save_model` writes. ``on_round``
receives the validation score after every boosting round (tuning reports it to Optuna's pruner).
Targets are 0/1 for classification (``classes`` = [negative, positive]), class positions 0..K-1
for multiclass (``classes`` holds K > 2 labels: softmax objectives, (n, K) probabilities), or
numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
import xgboost as xgb
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import ModelKind, ModelSpec, ParamValue, Task, TrainConfigError

if TYPE_CHECKING:  # features.py does not need models.py; keep the import one way at run time
    from ragline.mltrack.tabular.features import FeaturePipeline

FloatArray = npt.NDArray[np.float64]
Label = str | int | float | bool
RoundHook = Callable[[int, float], None]
LGB_METRICS = {
    "roc_auc": "auc",
    "pr_auc": "average_precision",
    "log_loss": "binary_logloss",
    "rmse": "rmse",
    "mae": "l1",
}
MULTI_METRICS = {"lightgbm": "multi_logloss", "xgboost": "mlogloss"}  # multiclass: log_loss only
XGB_METRICS = {
    "roc_auc": "auc",
    "pr_auc": "aucpr",
    "log_loss": "logloss",
    "rmse": "rmse",
    "mae": "mae",
}


@dataclass(frozen=True, slots=True)
class ModelMeta:
    """What a fitted model is: kind, task, input features, target, classes, params and (anomaly
    models) the alert threshold on the score."""

    kind: ModelKind
    task: Task
    features: tuple[str, ...]
    target: str
    classes: tuple[Label, ...] | None = None
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    best_iteration: int | None = None
    threshold: float | None = None  # the score at or above which a row is labelled classes[-1]

    @property
    def multiclass(self) -> bool:
        """A classifier of more than two classes: `predict` gives one column per class."""
        return self.task == "classification" and len(self.classes or ()) > 2


class TabularModel(Protocol):
    """A fitted model: ``predict`` gives positive-class probabilities or regression values."""

    @property
    def meta(self) -> ModelMeta: ...

    def predict(self, x: pd.DataFrame) -> FloatArray: ...

    def predict_matrix(self, matrix: FloatArray) -> FloatArray: ...


def _matrix(x: pd.DataFrame, features: tuple[str, ...]) -> FloatArray:
    missing = [f for f in features if f not in x.columns]
    if missing:
        raise DataError(f"feature columns {missing[:10]} are missing; transform the rows first")
    return np.asarray(x[list(features)].to_numpy(dtype=np.float64, na_value=np.nan))


def model_output(
    model: TabularModel, pipeline: FeaturePipeline | None, frame: pd.DataFrame
) -> FloatArray:
    """The model's output for raw rows, through the saved feature pipeline when there is one:
    straight into the model's matrix, with no intermediate DataFrame (it dominates a one-row
    request). One score per row, or (multiclass) an (n, K) matrix of class probabilities."""
    if pipeline is None:
        return model.predict(frame)
    return model.predict_matrix(pipeline.matrix(frame, model.meta.features))


def score_frame(
    model: TabularModel, pipeline: FeaturePipeline | None, frame: pd.DataFrame
) -> FloatArray:
    """One score per raw row: the positive-class probability, the regression value, or
    (multiclass) the probability of the predicted class. Serving and `deploy plan`'s latency
    probe score rows this way; `predict_labels` adds the labels."""
    out = model_output(model, pipeline, frame)
    return out if out.ndim == 1 else np.asarray(out.max(axis=1), dtype=np.float64)


def predict_labels(
    model: TabularModel, pipeline: FeaturePipeline | None, frame: pd.DataFrame
) -> tuple[FloatArray, npt.NDArray[np.intp] | None]:
    """`score_frame`'s scores and each row's predicted class as a position in
    ``meta.classes`` (None for regression): `class_labels`' rule for two classes (at
    ``meta.threshold`` when set: an anomaly model's alert threshold, 1 = flagged), the most
    probable class for more. ``POST /v1/predict``, ``ragline ml score`` and pyfunc use it."""
    out, meta = model_output(model, pipeline, frame), model.meta
    if out.ndim == 2:
        best = np.asarray(out.argmax(axis=1), dtype=np.intp)
        return np.asarray(out[np.arange(len(out)), best], dtype=np.float64), best
    if meta.task == "regression" or not meta.classes:
        return out, None
    cut = 0.5 if meta.threshold is None else meta.threshold
    return out, np.where(out >= cut, len(meta.classes) - 1, 0).astype(np.intp)


def class_labels(
    scores: FloatArray, classes: Sequence[Label], threshold: float = 0.5
) -> list[Label]:
    """The predicted class of each score: ``classes[-1]`` (positive) at or above `threshold`,
    else ``classes[0]``; the labels ``POST /v1/predict`` and the MLflow pyfunc model return.

    Example:
        >>> class_labels(np.array([0.2, 0.5, 0.9]), ("<=50K", ">50K"))
        ['<=50K', '>50K', '>50K']
    """
    negative, positive = classes[0], classes[-1]
    return [positive if s >= threshold else negative for s in scores]


@dataclass(frozen=True, slots=True)
class LightGBMModel:
    """A LightGBM booster (saved as LightGBM's text format)."""

    meta: ModelMeta
    booster: lgb.Booster

    def predict(self, x: pd.DataFrame) -> FloatArray:
        """Scores of the rows of ``x``."""
        return self.predict_matrix(_matrix(x, self.meta.features))

    def predict_matrix(self, matrix: FloatArray) -> FloatArray:
        """Scores of a float64 matrix whose columns are ``meta.features``, in order."""
        return np.asarray(self.booster.predict(matrix), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class XGBoostModel:
    """An XGBoost booster (saved as XGBoost's JSON format)."""

    meta: ModelMeta
    booster: xgb.Booster

    def predict(self, x: pd.DataFrame) -> FloatArray:
        """Scores of the rows of ``x``."""
        return self.predict_matrix(_matrix(x, self.meta.features))

    def predict_matrix(self, matrix: FloatArray) -> FloatArray:
        """Scores of a float64 matrix whose columns are ``meta.features``, in order."""
        dmatrix = xgb.DMatrix(matrix, feature_names=list(self.meta.features))
        return np.asarray(self.booster.predict(dmatrix), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SklearnModel:
    """A scikit-learn estimator (saved with skops, loaded with an explicit trusted-types list)."""

    meta: ModelMeta
    estimator: Any  # sklearn ships no type information

    def predict(self, x: pd.DataFrame) -> FloatArray:
        """Scores of the rows of ``x``."""
        return self.predict_matrix(_matrix(x, self.meta.features))

    def predict_matrix(self, matrix: FloatArray) -> FloatArray:
        """Scores of a float64 matrix whose columns are ``meta.features``, in order; an
        Isolation Forest's is the anomaly score s(x) = 2^(-E[h(x)]/c(n)) of Liu et al. (2008),
        in (0, 1], higher = more anomalous (scikit-learn's ``score_samples`` is -s(x))."""
        if self.meta.task == "anomaly":
            return np.asarray(-self.estimator.score_samples(matrix), dtype=np.float64)
        if self.meta.multiclass:
            return np.asarray(self.estimator.predict_proba(matrix), dtype=np.float64)
        if self.meta.task == "classification":
            return np.asarray(self.estimator.predict_proba(matrix)[:, 1], dtype=np.float64)
        return np.asarray(self.estimator.predict(matrix), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class TrainData:
    """Train and validation features with 0/1 (classification) or numeric targets.

    Usage::

        TrainData(x_train, y_train, x_valid, y_valid, "classification", "income", ("no", "yes"))
    """

    x_train: pd.DataFrame
    y_train: FloatArray
    x_valid: pd.DataFrame
    y_valid: FloatArray
    task: Task
    target: str
    classes: tuple[Label, ...] | None = None

    @property
    def features(self) -> tuple[str, ...]:
        """The feature names, in column order."""
        return tuple(str(c) for c in self.x_train.columns)

    @property
    def multiclass(self) -> bool:
        """More than two classes: targets are class positions 0..K-1."""
        return self.task == "classification" and len(self.classes or ()) > 2


def _metric_name(library: str, multiclass: bool) -> Callable[[str], str]:
    """A metric's native name; multiclass boosters watch their log loss whatever is asked
    (`TrainConfig.for_classes` only lets log_loss through)."""
    names = LGB_METRICS if library == "lightgbm" else XGB_METRICS
    return lambda metric: MULTI_METRICS[library] if multiclass else names[metric]


def _loss(task: Task) -> str:
    """Early stopping watches the task's loss: AUC plateaus while probabilities still improve."""
    return "log_loss" if task == "classification" else "rmse"


def _lgb_hook(on_round: RoundHook, metric: str) -> Callable[[lgb.callback.CallbackEnv], None]:
    def report(env: lgb.callback.CallbackEnv) -> None:
        for item in env.evaluation_result_list or []:
            if item[0] == "valid" and item[1] == metric:
                on_round(env.iteration, float(item[2]))

    return report


def _fit_lightgbm(
    spec: ModelSpec, data: TrainData, params: dict[str, ParamValue], metric: str, hook: RoundHook
) -> LightGBMModel:
    objective = "binary" if data.task == "classification" else "regression"
    name = _metric_name("lightgbm", data.multiclass)
    watched = dict.fromkeys([name(_loss(data.task)), name(metric)])
    native: dict[str, Any] = {"objective": objective, "metric": ",".join(watched)}
    if data.multiclass:
        native |= {"objective": "multiclass", "num_class": len(data.classes or ())}
    native |= {"verbosity": -1, "deterministic": True, "force_col_wise": True} | params
    names = list(data.features)
    train = lgb.Dataset(_matrix(data.x_train, data.features), data.y_train, feature_name=names)
    valid = lgb.Dataset(_matrix(data.x_valid, data.features), data.y_valid, reference=train)
    callbacks = [_lgb_hook(hook, name(metric))]
    if spec.early_stopping:  # on the first metric: the loss
        callbacks.append(lgb.early_stopping(spec.early_stopping, True, verbose=False))
    booster = lgb.train(
        native, train, spec.rounds, valid_sets=[valid], valid_names=["valid"], callbacks=callbacks
    )
    best = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
    kept = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    meta = ModelMeta("lightgbm", data.task, data.features, data.target, data.classes, native, best)
    return LightGBMModel(meta, kept)


class _XgbHook(xgb.callback.TrainingCallback):
    def __init__(self, hook: RoundHook, metric: str) -> None:
        super().__init__()
        self.hook, self.metric = hook, metric

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, Any]]) -> bool:
        self.hook(epoch, float(evals_log["valid"][self.metric][-1]))
        return False


def _fit_xgboost(
    spec: ModelSpec, data: TrainData, params: dict[str, ParamValue], metric: str, hook: RoundHook
) -> XGBoostModel:
    objective = "binary:logistic" if data.task == "classification" else "reg:squarederror"
    native: dict[str, Any] = {"objective": objective, "tree_method": "hist", "verbosity": 0}
    if data.multiclass:
        native |= {"objective": "multi:softprob", "num_class": len(data.classes or ())}
    native |= params
    # early stopping follows the last metric: the loss
    name = _metric_name("xgboost", data.multiclass)
    watched = list(dict.fromkeys([name(metric), name(_loss(data.task))]))
    names = list(data.features)
    train = xgb.DMatrix(_matrix(data.x_train, data.features), data.y_train, feature_names=names)
    valid = xgb.DMatrix(_matrix(data.x_valid, data.features), data.y_valid, feature_names=names)
    booster = xgb.train(
        native | {"eval_metric": watched},
        train,
        spec.rounds,
        evals=[(valid, "valid")],
        early_stopping_rounds=spec.early_stopping or None,
        verbose_eval=False,
        callbacks=[_XgbHook(hook, name(metric))],
    )
    rounds = booster.num_boosted_rounds()
    best = int(booster.best_iteration) + 1 if spec.early_stopping else rounds
    kept = booster[:best] if best < rounds else booster
    native["eval_metric"] = ",".join(watched)
    meta = ModelMeta("xgboost", data.task, data.features, data.target, data.classes, native, best)
    return XGBoostModel(meta, kept)


def _sklearn_estimator(kind: ModelKind, task: Task, params: dict[str, ParamValue]) -> Any:
    classification = task == "classification"
    if kind == "isolation-forest":  # unsupervised: fitted on the features alone
        return IsolationForest(**({"n_estimators": 200} | params))
    if kind == "sklearn-logreg":
        if not classification:
            raise TrainConfigError("model.kind: sklearn-logreg is for classification tasks")
        return LogisticRegression(**({"max_iter": 1000} | params))
    if kind == "sklearn-rf":
        cls = RandomForestClassifier if classification else RandomForestRegressor
        return cls(**({"n_estimators": 200} | params))
    cls = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
    return cls(**params)


def fit_sklearn(kind: ModelKind, data: TrainData, params: Mapping[str, ParamValue]) -> SklearnModel:
    """Fit a scikit-learn model on the train split (no validation-based early stopping)."""
    x = _matrix(data.x_train, data.features)
    if kind == "sklearn-logreg" and np.isnan(x).any():
        raise DataError(
            "sklearn-logreg cannot take missing values; set features.impute to true or null "
            "(the default), or use lightgbm"
        )
    try:
        estimator = _sklearn_estimator(kind, data.task, dict(params))
    except TypeError as exc:
        raise TrainConfigError(f"model.params: {exc}; see the estimator's documentation") from exc
    target = data.y_train.astype(np.int64) if data.task != "regression" else data.y_train
    if data.multiclass and len(np.unique(target)) < len(data.classes or ()):
        raise DataError(
            f"the train split lacks some of the classes {list(data.classes or ())[:10]}; "
            "add rows of the rare classes or use a stratified split"
        )
    estimator.fit(x) if kind == "isolation-forest" else estimator.fit(x, target)
    meta = ModelMeta(kind, data.task, data.features, data.target, data.classes, dict(params))
    return SklearnModel(meta, estimator)


def effective_params(
    spec: ModelSpec, params: Mapping[str, ParamValue] | None = None, seed: int = 0
) -> dict[str, ParamValue]:
    """The seed, threads, ``spec.params`` and then ``params``, later ones winning."""
    seeded: dict[str, ParamValue] = {"random_state": seed}
    if spec.kind in ("lightgbm", "xgboost"):
        seeded = {"seed": seed}
    return seeded | _threads(spec) | dict(spec.params) | dict(params or {})


def _threads(spec: ModelSpec) -> dict[str, ParamValue]:
    # on a busy machine, OpenMP spinning over every core can make boosting 10x slower
    if spec.threads is None:
        return {}
    forests = {"sklearn-rf": "n_jobs", "isolation-forest": "n_jobs"}
    key = ({"lightgbm": "num_threads", "xgboost": "nthread"} | forests).get(spec.kind)
    return {} if key is None else {key: spec.threads}


def _ignore(_round: int, _score: float) -> None:
    return None


def fit_model(
    spec: ModelSpec,
    data: TrainData,
    *,
    metric: str,
    params: Mapping[str, ParamValue] | None = None,
    seed: int = 0,
    on_round: RoundHook | None = None,
) -> TabularModel:
    """Fit ``spec.kind`` with ``spec.params`` updated by ``params`` (e.g. tuned ones).

    ``metric`` (roc_auc, pr_auc, log_loss, rmse or mae) is what boosters track on the validation
    split for early stopping and ``on_round``.

    Example:
        >>> x = pd.DataFrame({"a": np.arange(40.0)})
        >>> y = (x["a"] > 20).to_numpy(dtype=float)
        >>> data = TrainData(x, y, x, y, task="classification", target="y")
        >>> model = fit_model(ModelSpec(kind="lightgbm", rounds=5, threads=1,
        ...                   params={"min_data_in_leaf": 2}), data, metric="roc_auc")
        >>> bool(model.predict(x.iloc[[39]])[0] > model.predict(x.iloc[[0]])[0])
        True
    """
    merged = effective_params(spec, params, seed)
    hook = on_round or _ignore
    if spec.kind == "lightgbm":
        return _fit_lightgbm(spec, data, merged, metric, hook)
    if spec.kind == "xgboost":
        return _fit_xgboost(spec, data, merged, metric, hook)
    return fit_sklearn(spec.kind, data, merged)
