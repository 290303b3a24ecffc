"""Optuna tuning: seeded TPE, per-round / per-fold pruning, one log call per trial."""

from __future__ import annotations

import pytest

from ragline.mltrack.tabular.config import ModelSpec, ParamRange, TuneSpec
from ragline.mltrack.tabular.tuning import tune
from ragline.mltrack.tracking.protocols import RunLogger

from .conftest import MemoryLogger
from .test_models import make_data

pytestmark = pytest.mark.unit


def test_booster_trials_report_every_round_and_log_once_each(memory_logger: MemoryLogger) -> None:
    assert isinstance(memory_logger, RunLogger)
    data = make_data(n=800)
    spec = ModelSpec(kind="lightgbm", rounds=60, early_stopping=10, threads=1)
    result = tune(spec, data, TuneSpec(trials=8, seed=3), metric="roc_auc", logger=memory_logger)
    assert len(result.trials) == 8 and result.direction == "maximize"
    assert result.pruned >= 1  # the median pruner stopped some trials early
    complete = [t for t in result.trials if t.state == "COMPLETE"]
    assert result.best_score == max(t.score for t in complete if t.score is not None)
    assert all(t.steps > 10 for t in complete)  # one intermediate score per boosting round
    # cheap logging: exactly one log_metrics call per trial, indexed by the trial number
    assert memory_logger.order == ["metrics"] * 8
    assert [step for _, step in memory_logger.metrics] == list(range(8))
    first, _ = memory_logger.metrics[0]
    assert {"tune.score", "tune.pruned", "tune.learning_rate", "tune.num_leaves"} <= set(first)
    pruned = [m for m, _ in memory_logger.metrics if m["tune.pruned"] == 1.0]
    assert pruned and all("tune.score" not in m and "tune.last_score" in m for m in pruned)


def test_same_seed_same_search() -> None:
    data = make_data(n=400)
    spec = ModelSpec(kind="xgboost", rounds=20, threads=1)
    one = tune(spec, data, TuneSpec(trials=3, seed=5), metric="log_loss")
    two = tune(spec, data, TuneSpec(trials=3, seed=5), metric="log_loss")
    assert one.direction == "minimize"
    assert [t.params for t in one.trials] == [t.params for t in two.trials]
    assert one.best_params == two.best_params


def test_sklearn_trials_report_per_cv_fold_and_space_overrides() -> None:
    data = make_data(n=300)
    config = TuneSpec(
        trials=3, cv_folds=3, pruning=False, space={"C": ParamRange(low=0.5, high=2.0)}
    )
    result = tune(ModelSpec(kind="sklearn-logreg"), data, config, metric="pr_auc")
    assert [t.steps for t in result.trials] == [3, 3, 3]
    assert all(0.5 <= float(t.params["C"] or 0) <= 2.0 for t in result.trials)
