"""Forecasting in the tabular track: regression over a temporal split with the target's own
lags, against the seasonal-naive baseline, reporting MASE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.tabular.config import MetricsSpec, TrainConfigError, load_train_config
from ragline.mltrack.tabular.evaluate import relative_mae
from ragline.mltrack.tabular.train import train

pytestmark = pytest.mark.unit

FORECAST_YAML = """
data: {path: series.csv, target: y, task: regression, time_column: day}
split: {kind: temporal, test_size: 0.2, valid_size: 0.2, seed: 0}
features:
  temporal: [{column: y, lags: [1, 7, 8]}]
baseline: {kind: seasonal_naive, season: 7}
model:
  kind: lightgbm
  rounds: 200
  early_stopping: 20
  threads: 1
  params: {min_data_in_leaf: 20, num_leaves: 4, linear_tree: true}
metrics: {primary: mae, resamples: 100, seed: 0}
"""


def test_mase_is_the_mae_ratio() -> None:
    agg = relative_mae([0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0], MetricsSpec(resamples=20))
    assert agg.name == "mase" and agg.value == 0.5


def test_a_forecast_is_scored_against_seasonal_naive_with_mase(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=300, freq="D")
    weekly = 10 * np.sin(2 * np.pi * np.arange(300) / 7)
    level = np.zeros(300)  # a slow AR(1) level: yesterday knows it, last week's value less
    for t in range(1, 300):
        level[t] = 0.95 * level[t - 1] + rng.normal(0, 2.0)
    frame = pd.DataFrame({"day": days.strftime("%Y-%m-%d"), "y": 100 + weekly + level})
    frame.to_csv(tmp_path / "series.csv", index=False)
    path = tmp_path / "c.yaml"
    path.write_text(FORECAST_YAML, encoding="utf-8")
    result = train(load_train_config(path), None, tmp_path / "out")
    assert result.baseline.kind == "seasonal_naive"
    assert result.split.test.min() > result.split.train.max()  # rows are in time order
    assert {"mae", "rmse", "r2", "mase"} <= set(result.metrics)
    assert result.features == ("y__lag1", "y__lag7", "y__lag8")
    # y(t) - y(t-7) is about y(t-1) - y(t-8): a model with both beats the seasonal-naive
    mase = result.metrics["mase"].value
    assert mase is not None and mase < 1.0
    assert result.delta["mae"].improved is True


def test_seasonal_naive_needs_a_time_column_and_a_numeric_target(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(FORECAST_YAML.replace("task: regression", "task: classification"))
    with pytest.raises(TrainConfigError, match="seasonal_naive needs task: regression"):
        load_train_config(path)
