"""Hyper-parameter search with Optuna: seeded TPE, median pruning, one log call per trial.

    result = tune(ModelSpec(kind="lightgbm"), data, TuneSpec(trials=20), metric="roc_auc",
                  logger=run)
    model = fit_model(spec, data, metric="roc_auc", params=result.best_params)

Boosters report the validation score after every boosting round; scikit-learn models report the
running mean over ``cv_folds`` folds of the train split. Optuna's `MedianPruner` stops a trial
whose intermediate score is worse than the median of earlier trials at the same step. Each
finished or pruned trial sends its score and numeric params to the `RunLogger` as metrics at
``step = trial number`` in a single ``log_metrics`` call; per-round scores stay in Optuna's
in-memory study, so logging costs one call per trial whatever the number of rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import optuna
from sklearn.model_selection import KFold, StratifiedKFold

from ragline.mltrack.tabular.config import (
    MAXIMISED,
    ModelKind,
    ModelSpec,
    ParamRange,
    ParamValue,
    TrainConfigError,
    TuneSpec,
)
from ragline.mltrack.tabular.evaluate import metric_value
from ragline.mltrack.tabular.models import (
    FloatArray,
    TrainData,
    effective_params,
    fit_model,
    fit_sklearn,
)
from ragline.mltrack.tracking.protocols import RunLogger


def _r(low: float, high: float, *, log: bool = False, integer: bool = False) -> ParamRange:
    return ParamRange(low=low, high=high, log=log, integer=integer)


DEFAULT_SPACES: dict[ModelKind, dict[str, ParamRange]] = {
    "lightgbm": {
        "learning_rate": _r(0.01, 0.3, log=True),
        "num_leaves": _r(8, 128, log=True, integer=True),
        "min_data_in_leaf": _r(5, 100, log=True, integer=True),
        "feature_fraction": _r(0.5, 1.0),
        "bagging_fraction": _r(0.5, 1.0),
        "bagging_freq": ParamRange(choices=[1]),
        "lambda_l2": _r(1e-3, 10.0, log=True),
    },
    "xgboost": {
        "eta": _r(0.01, 0.3, log=True),
        "max_depth": _r(3, 10, integer=True),
        "min_child_weight": _r(1.0, 20.0, log=True),
        "subsample": _r(0.5, 1.0),
        "colsample_bytree": _r(0.5, 1.0),
        "lambda": _r(1e-3, 10.0, log=True),
    },
    "sklearn-logreg": {"C": _r(1e-3, 100.0, log=True)},
    "sklearn-rf": {
        "max_depth": _r(3, 20, integer=True),
        "min_samples_leaf": _r(1, 20, integer=True),
        "max_features": _r(0.2, 1.0),
    },
    "sklearn-hgb": {
        "learning_rate": _r(0.01, 0.3, log=True),
        "max_leaf_nodes": _r(8, 128, log=True, integer=True),
        "l2_regularization": _r(1e-3, 10.0, log=True),
    },
}


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """One trial: its params, state, score (for a pruned trial the last intermediate one; None
    when it failed) and how many intermediate scores it reported."""

    number: int
    state: str
    score: float | None
    params: dict[str, ParamValue]
    steps: int


@dataclass(frozen=True, slots=True)
class TuneResult:
    """The best params and every trial, in order.

    Usage::

        result = tune(spec, data, TuneSpec(trials=20), metric="roc_auc")
        result.best_params, result.best_score, result.pruned
    """

    metric: str
    direction: str
    best_params: dict[str, ParamValue]
    best_score: float
    trials: tuple[TrialRecord, ...]
    wall_s: float

    @property
    def pruned(self) -> int:
        """How many trials the pruner stopped."""
        return sum(t.state == "PRUNED" for t in self.trials)


def _suggest(trial: optuna.Trial, name: str, r: ParamRange) -> ParamValue:
    if r.choices is not None:
        return trial.suggest_categorical(name, r.choices)
    assert r.low is not None and r.high is not None  # ParamRange validates this
    if r.integer:
        return trial.suggest_int(name, int(r.low), int(r.high), log=r.log)
    return trial.suggest_float(name, r.low, r.high, log=r.log)


def _score(metric: str, y: FloatArray, s: FloatArray) -> float:
    value = metric_value(metric, y, s)
    if value is None:
        raise optuna.TrialPruned(f"{metric} is undefined on this validation split")
    return value


class _Objective:
    """Fits one model per trial, reporting intermediate scores to the pruner."""

    def __init__(self, spec: ModelSpec, data: TrainData, tune: TuneSpec, metric: str):
        self.spec, self.data, self.tune, self.metric = spec, data, tune, metric
        self.space = DEFAULT_SPACES[spec.kind] | tune.space

    def __call__(self, trial: optuna.Trial) -> float:
        params = {name: _suggest(trial, name, r) for name, r in self.space.items()}
        if self.spec.kind in ("lightgbm", "xgboost"):
            return self._booster(trial, params)
        return self._folds(trial, params)

    def _report(self, trial: optuna.Trial, step: int, score: float) -> None:
        trial.report(score, step)
        if self.tune.pruning and trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step}")

    def _booster(self, trial: optuna.Trial, params: dict[str, ParamValue]) -> float:
        model = fit_model(
            self.spec,
            self.data,
            metric=self.metric,
            params=params,
            seed=self.tune.seed,
            on_round=lambda step, score: self._report(trial, step, score),
        )
        return _score(self.metric, self.data.y_valid, model.predict(self.data.x_valid))

    def _folds(self, trial: optuna.Trial, params: dict[str, ParamValue]) -> float:
        data, seed = self.data, self.tune.seed
        splitter: KFold | StratifiedKFold = KFold(
            self.tune.cv_folds, shuffle=True, random_state=seed
        )
        if data.task == "classification":
            splitter = StratifiedKFold(self.tune.cv_folds, shuffle=True, random_state=seed)
        scores: list[float] = []
        params = effective_params(self.spec, params, seed)
        for k, (fit_pos, held_pos) in enumerate(splitter.split(data.x_train, data.y_train)):
            x, y = data.x_train.iloc[fit_pos], data.y_train[fit_pos]
            x_held, y_held = data.x_train.iloc[held_pos], data.y_train[held_pos]
            fold = TrainData(x, y, x_held, y_held, data.task, data.target, data.classes)
            model = fit_sklearn(self.spec.kind, fold, params)
            scores.append(_score(self.metric, y_held, model.predict(x_held)))
            self._report(trial, k, float(np.mean(scores)))
        return float(np.mean(scores))


TrialCallback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


def _trial_logger(logger: RunLogger) -> TrialCallback:
    def log(_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        metrics = {f"tune.{k}": float(v) for k, v in trial.params.items() if _numeric(v)}
        pruned = trial.state == optuna.trial.TrialState.PRUNED
        metrics["tune.pruned"] = float(pruned)
        if trial.value is not None:  # a pruned trial's value is its last intermediate score
            metrics["tune.last_score" if pruned else "tune.score"] = float(trial.value)
        logger.log_metrics(metrics, step=trial.number)

    return log


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _record(trial: optuna.trial.FrozenTrial) -> TrialRecord:
    steps = max(trial.intermediate_values, default=-1) + 1
    return TrialRecord(trial.number, trial.state.name, trial.value, dict(trial.params), steps)


def tune(
    spec: ModelSpec,
    data: TrainData,
    config: TuneSpec,
    *,
    metric: str,
    logger: RunLogger | None = None,
) -> TuneResult:
    """Search ``spec.kind``'s space (defaults updated by ``config.space``) for ``config.trials``
    trials or ``config.timeout_s`` seconds; raises `TrainConfigError` when no trial finishes."""
    direction: Literal["maximize", "minimize"] = "maximize" if metric in MAXIMISED else "minimize"
    startup = max(1, min(5, config.trials // 3))
    warmup = min(10, max(0, spec.rounds // 5))
    study = optuna.create_study(
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=config.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup),
    )
    callbacks: list[TrialCallback] = [_trial_logger(logger)] if logger is not None else []
    started = time.perf_counter()
    study.optimize(
        _Objective(spec, data, config, metric),
        n_trials=config.trials,
        timeout=config.timeout_s,
        callbacks=callbacks,
    )
    wall = time.perf_counter() - started
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise TrainConfigError(
            "tune: no trial finished; raise tune.trials or tune.timeout_s, or set pruning: false"
        )
    best = study.best_trial
    return TuneResult(
        metric=metric,
        direction=direction,
        best_params=dict(best.params),
        best_score=float(best.value if best.value is not None else np.nan),
        trials=tuple(_record(t) for t in study.trials),
        wall_s=wall,
    )
