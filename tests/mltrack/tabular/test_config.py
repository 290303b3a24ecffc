"""The training config: YAML loading, defaults, and errors that name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.mltrack.tabular.config import BinOp, TrainConfig, TrainConfigError, load_train_config

pytestmark = pytest.mark.unit

MINIMAL = """
data: {path: rows.csv, target: y, task: classification}
features: {numeric: [{columns: [x]}]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config_fills_defaults_and_resolves_data_next_to_the_file(tmp_path: Path) -> None:
    config = load_train_config(write(tmp_path, MINIMAL))
    assert config.data.path == tmp_path / "rows.csv"
    assert config.data.file_format == "csv"
    assert (config.split.kind, config.model.kind, config.tune.trials) == (
        "stratified",
        "lightgbm",
        0,
    )
    assert config.primary_metric == "roc_auc"
    assert config.tune_metric == "roc_auc"


def test_full_config_parses_every_section(tmp_path: Path) -> None:
    text = """
data: {path: /abs/rows.parquet, target: sales, task: regression, id_column: store,
       time_column: date, protected: region}
split: {kind: temporal, test_size: 0.15, valid_size: 0.15}
features:
  numeric: [{columns: [price, "promo_*"], ops: [log, standardize, {bin: 5}]}]
  categorical: [{columns: [region], encoding: target, folds: 3}]
  temporal:
    - {column: sales, lags: [1, 7], rolling: [{window: 7, stats: [mean, std]}]}
    - {column: date, cycles: [dayofweek, month]}
baseline: {kind: rules, rules: [{column: promo_a, op: ">", value: 0, predict: 120.5}]}
model: {kind: xgboost, params: {max_depth: 4}, rounds: 50}
tune: {trials: 10, metric: mae, direction: minimize, space: {eta: {low: 0.05, high: 0.2}}}
metrics: {primary: mae, secondary: [rmse], resamples: 100}
"""
    config = load_train_config(write(tmp_path, text))
    assert config.data.path == Path("/abs/rows.parquet")
    assert config.data.file_format == "parquet"
    assert config.features.numeric[0].ops == ["log", "standardize", BinOp(bin=5)]
    assert config.features.temporal[0].rolling[0].stats == ["mean", "std"]
    assert config.tune.space["eta"].high == 0.2
    assert config.primary_metric == "mae"


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ("model: {kindd: lightgbm}", "model.kindd: Extra inputs are not permitted"),
        ("split: {kind: grouped}", "split.group_column: a grouped split needs it"),
        ("split: {kind: temporal}", "data.time_column: a temporal split needs"),
        ("split: {test_size: 1.5}", "split.test_size: Input should be less than 1"),
        ("tune: {metric: roc_auc, direction: minimize}", "tune.direction: roc_auc must maximize"),
        ("tune: {metric: rmse}", "tune.metric: 'rmse' is not a classification metric"),
        ("metrics: {primary: mae}", "metrics: 'mae' is not a classification metric"),
        ("baseline: {kind: mean}", "baseline.kind: 'mean' does not fit a classification task"),
        ("baseline: {kind: rules}", "baseline.rules: a rules baseline needs at least one rule"),
    ],
)
def test_errors_name_the_key_path_and_the_fix(tmp_path: Path, patch: str, expected: str) -> None:
    with pytest.raises(TrainConfigError) as err:
        load_train_config(write(tmp_path, MINIMAL + patch + "\n"))
    assert expected in str(err.value)


def test_unknown_suffix_asks_for_data_format(tmp_path: Path) -> None:
    text = MINIMAL.replace("rows.csv", "rows.feather")
    with pytest.raises(TrainConfigError, match=r"data.format: cannot tell .*set data.format"):
        load_train_config(write(tmp_path, text))


def test_temporal_features_need_a_time_column() -> None:
    raw = {
        "data": {"path": "x.csv", "target": "y", "task": "regression"},
        "features": {"temporal": [{"column": "y", "lags": [1]}]},
    }
    with pytest.raises(ValueError, match=r"data.time_column: temporal features"):
        TrainConfig.model_validate(raw)


def test_missing_file_and_bad_yaml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(TrainConfigError, match=r"no such file"):
        load_train_config(tmp_path / "absent.yaml")
    with pytest.raises(TrainConfigError, match=r"not valid YAML"):
        load_train_config(write(tmp_path, "data: [unclosed"))
    with pytest.raises(TrainConfigError, match=r"expected a mapping"):
        load_train_config(write(tmp_path, "- a list"))
