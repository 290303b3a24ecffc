"""End to end: train on 5,000 rows of UCI Adult and on a synthetic store-sales series."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.data import leakage
from ragline.mltrack.tabular import load_model, load_pipeline, load_train_config, train
from ragline.mltrack.tabular.train import TrainResult

from .conftest import ADULT_ROWS, MemoryLogger, store_sales
from .test_features import to_leakage

pytestmark = pytest.mark.integration


def _reloaded_scores(result: TrainResult, csv: Path) -> np.ndarray:
    """Score the raw test rows from the CSV with the saved folder alone."""
    pipeline = load_pipeline(result.artifact_dir)
    assert pipeline is not None
    raw = pd.read_csv(csv).loc[result.split.test]
    return load_model(result.artifact_dir).predict(pipeline.transform(raw))


def _assert_clean_trace(result: TrainResult) -> None:
    records = result.fit_records
    train_rows = set(result.split.train.tolist())
    assert all(set(r.fitted_on_index.tolist()) <= train_rows for r in records)
    assert leakage.split_after_engineering(to_leakage(records), train_rows).clean
    full = tuple(r for r in records if r.uses_target and r.fold is None)
    assert leakage.target_encoding_outside_folds(to_leakage(full)).clean


def test_lightgbm_on_adult_tuned_beats_the_baseline_and_reloads(
    adult_config: Callable[..., Path],
    adult_csv: Path,
    memory_logger: MemoryLogger,
    tmp_path: Path,
) -> None:
    config = load_train_config(adult_config("lightgbm", trials=5))
    result = train(config, memory_logger, tmp_path / "run")

    assert sum(result.split.sizes().values()) == ADULT_ROWS
    auc = result.metrics["roc_auc"]
    assert auc.value is not None and auc.value > 0.85
    assert auc.ci_low is not None and auc.ci_high is not None and auc.ci_low < auc.value
    assert result.baseline.kind == "majority" and result.baseline_metrics["roc_auc"].value == 0.5
    assert result.delta["roc_auc"].improved is True and result.delta["log_loss"].improved is True
    calibration, fairness = result.evaluation.calibration, result.evaluation.fairness
    assert calibration is not None and calibration.ece is not None and calibration.ece < 0.1
    assert fairness is not None and [g.group for g in fairness.groups] == ["Female", "Male"]
    assert result.tuning is not None and len(result.tuning.trials) == 5
    assert set(result.tuning.best_params) <= set(result.params)

    # the baseline is logged before the tuning trials and the model's metrics
    first_metrics = memory_logger.order.index("metrics")
    assert memory_logger.order[:first_metrics] == ["tags", "params"]
    baseline_logged, step = memory_logger.metrics[0]
    assert step is None and set(baseline_logged) >= {"baseline.roc_auc", "baseline.roc_auc.ci_low"}
    assert [s for _, s in memory_logger.metrics[1:6]] == [0, 1, 2, 3, 4]
    final, _ = memory_logger.metrics[-1]
    assert {"test.roc_auc", "delta.roc_auc", "calibration.ece", "time.wall_s"} <= set(final)
    assert "fairness.disparate_impact" in final
    assert memory_logger.params["model.kind"] == "lightgbm"
    logged = {p.name for p, _ in memory_logger.artifacts}
    assert logged == {"model.txt", "model.json", "features.json", "report.json"}

    # target encoding: 5 out-of-fold fits + 1 full-train fit per column, all on train rows
    occupation = [r for r in result.fit_records if r.columns == ("occupation",)]
    assert [r.fold for r in occupation] == [0, 1, 2, 3, 4, None]
    assert occupation[-1].transformed_index is not None
    assert set(occupation[-1].transformed_index) == set(result.split.valid) | set(result.split.test)
    _assert_clean_trace(result)

    np.testing.assert_array_equal(
        _reloaded_scores(result, adult_csv), result.evaluation.per_row["score"]
    )
    report = json.loads(result.report_path.read_text())
    assert report["primary"] == "roc_auc" and report["baseline"]["kind"] == "majority"
    assert len(report["calibration"]["curve"]["counts"]) == 10


def test_xgboost_on_adult_with_a_rules_baseline(
    adult_config: Callable[..., Path], adult_csv: Path, tmp_path: Path
) -> None:
    path = adult_config("xgboost")
    path.write_text(
        path.read_text()
        + "baseline: {kind: rules, rules: [{column: relationship, op: '==', value: Husband,"
        + " predict: '>50K'}]}\n"
    )
    result = train(load_train_config(path), None, tmp_path / "run")
    assert result.baseline.kind == "rules"
    assert result.baseline_metrics["accuracy"].value is not None
    assert result.metrics["roc_auc"].value is not None and result.metrics["roc_auc"].value > 0.85
    assert result.delta["roc_auc"].improved is True
    assert (result.artifact_dir / "model.xgb.json").is_file()
    np.testing.assert_array_equal(
        _reloaded_scores(result, adult_csv), result.evaluation.per_row["score"]
    )


def test_sklearn_logreg_on_adult_is_saved_with_skops(
    adult_config: Callable[..., Path], adult_csv: Path, tmp_path: Path
) -> None:
    result = train(load_train_config(adult_config("sklearn-logreg")), None, tmp_path / "run")
    assert json.loads((result.artifact_dir / "model.json").read_text())["format"] == "skops"
    assert result.delta["roc_auc"].improved is True
    np.testing.assert_array_equal(
        _reloaded_scores(result, adult_csv), result.evaluation.per_row["score"]
    )


SALES_YAML = """
data: {{path: sales.csv, target: sales, task: regression, id_column: store, time_column: date}}
split: {{kind: {split}, test_size: 0.2, valid_size: 0.2, seed: 1}}
features:
  categorical: [{{columns: [store], encoding: target, folds: 3}}]
  temporal:
    - {{column: sales, lags: [1, 7], rolling: [{{window: 7, stats: [mean]}}]}}
    - {{column: date, cycles: [dayofweek]}}
model: {{kind: lightgbm, rounds: 200, threads: 1, params: {{min_data_in_leaf: 5}}}}
metrics: {{resamples: 100}}
"""


@pytest.mark.parametrize("split", ["temporal", "grouped"])
def test_store_sales_with_temporal_features(split: str, tmp_path: Path) -> None:
    frame = store_sales(stores=12, days=60)
    frame.to_csv(tmp_path / "sales.csv", index=False)
    (tmp_path / "train.yaml").write_text(SALES_YAML.format(split=split))
    result = train(load_train_config(tmp_path / "train.yaml"), None, tmp_path / "run")
    assert {"sales__lag7", "sales__roll7_mean", "date__dayofweek_sin"} <= set(result.features)
    assert result.baseline.kind == "mean"
    assert result.delta["rmse"].improved is True  # lags and the weekly cycle beat the mean
    stores = [set(frame.loc[rows, "store"]) for rows in (result.split.train, result.split.test)]
    dates = [frame.loc[rows, "date"] for rows in (result.split.train, result.split.test)]
    if split == "grouped":
        assert not stores[0] & stores[1]
        train_rows = frame.index.isin(result.split.train)
        assert leakage.entity_overlap(
            frame[train_rows], frame.loc[result.split.test], "store"
        ).clean
    else:
        assert dates[0].max() < dates[1].min()
    _assert_clean_trace(result)
