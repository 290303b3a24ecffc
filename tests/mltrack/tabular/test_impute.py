"""Imputation in the feature pipeline: train medians and most frequent categories, missing flags
for the columns that had gaps in train, saved with the pipeline and applied by `transform`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import (
    CategoricalFeature,
    FeatureSpec,
    NumericFeature,
    load_train_config,
)
from ragline.mltrack.tabular.features import FeaturePipeline, fit_features
from ragline.mltrack.tabular.train import train

TRAIN = np.arange(0, 6, dtype=np.int64)
TEST = np.arange(6, 9, dtype=np.int64)
SPEC = FeatureSpec(
    numeric=[NumericFeature(columns=["x", "full"], ops=["standardize"])],
    categorical=[CategoricalFeature(columns=["city"])],
)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {  # rows 6..8 are "test": their values must not move the fitted fills
            "x": [1.0, np.nan, 3.0, 5.0, np.nan, 7.0, np.nan, 900.0, 900.0],
            "full": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan, 900.0, 900.0],
            "city": ["Oslo", None, "Lima", "Oslo", "Pune", "Oslo", None, "Lima", "Lima"],
        }
    )


@pytest.mark.unit
def test_numeric_imputation_uses_train_medians_and_flags_columns_with_gaps(
    frame: pd.DataFrame,
) -> None:
    fit = fit_features(frame, TRAIN, np.zeros(6), SPEC, impute="numeric")
    x, full = fit.pipeline.numeric
    assert (x.fill, full.fill) == (4.0, 3.5)  # medians of train rows only
    assert (x.indicator, full.indicator) == ("x__missing", None)  # `full` had no gap in train
    assert fit.pipeline.feature_names[-1] == "x__missing"
    assert fit.train["x__missing"].tolist() == [0, 1, 0, 0, 1, 0]
    assert not fit.train.isna().any().any()
    assert fit.pipeline.onehot[0].categories[0] == "(missing)"  # numeric only: categories as ever
    test = fit.pipeline.transform(frame.loc[TEST])
    mean, std = x.ops[0].values  # standardize was fitted on the imputed train values
    assert test["x"].iloc[0] == pytest.approx((4.0 - mean) / std)
    assert test["x__missing"].tolist() == [1.0, 0.0, 0.0]
    assert test["full"].iloc[0] == pytest.approx(0.0)  # the median 3.5 is also the train mean
    assert not test.isna().any().any()  # a gap that train never had is filled all the same
    assert ("impute:x", TRAIN.tolist()) in [
        (r.step, r.fitted_on_index.tolist()) for r in fit.records
    ]


@pytest.mark.unit
def test_full_imputation_fills_categories_with_the_most_frequent_and_round_trips(
    frame: pd.DataFrame,
) -> None:
    fit = fit_features(frame, TRAIN, np.zeros(6), SPEC, impute="all")
    onehot = fit.pipeline.onehot[0]
    assert (onehot.fill, onehot.indicator) == ("Oslo", "city__missing")
    assert onehot.categories == ("Lima", "Oslo", "Pune")  # no "(missing)" category
    assert fit.train["city=Oslo"].tolist() == [1, 1, 0, 1, 0, 1]
    saved = FeaturePipeline.model_validate_json(fit.pipeline.model_dump_json())
    test = saved.transform(frame.loc[TEST])
    assert test[["city=Oslo", "city__missing"]].to_numpy().tolist()[0] == [1.0, 1.0]
    assert saved.transform(frame).equals(fit.pipeline.transform(frame))


@pytest.mark.unit
def test_imputation_off_keeps_the_old_behaviour(frame: pd.DataFrame) -> None:
    fit = fit_features(frame, TRAIN, np.zeros(6), SPEC)
    assert fit.train["x"].isna().sum() == 2  # NaN passes through to LightGBM and friends
    assert all(s.fill is None and s.indicator is None for s in fit.pipeline.numeric)
    assert "x__missing" not in fit.pipeline.feature_names
    old = FeaturePipeline.model_validate_json(  # features.json saved before imputation existed
        '{"numeric": [{"column": "x", "name": "x", "ops": []}], "onehot": [], "target": []}'
    )
    assert old.transform(frame.loc[TEST])["x"].isna().tolist() == [True, False, False]


@pytest.mark.unit
def test_a_column_without_train_values_cannot_be_imputed(frame: pd.DataFrame) -> None:
    frame["x"] = np.nan
    with pytest.raises(DataError, match="'x' has no values in the train split"):
        fit_features(frame, TRAIN, np.zeros(6), SPEC, impute="numeric")


CONFIG = """
data: {{path: rows.csv, target: y, task: classification}}
split: {{kind: stratified, test_size: 0.25, valid_size: 0.2, seed: 0}}
features:
  numeric: [{{columns: [a, b], ops: [standardize]}}]
  categorical: [{{columns: [c]}}]
  {impute}
model: {{kind: {kind}}}
metrics: {{primary: roc_auc, resamples: 50}}
"""


def _config(tmp_path: Path, kind: str, impute: str = "") -> Path:
    rng = np.random.default_rng(0)
    n = 600
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = (a + 0.5 * b + rng.normal(0, 0.5, n) > 0).astype(int)
    a[rng.random(n) < 0.2] = np.nan  # 20% gaps in the strongest feature
    c = np.where(rng.random(n) < 0.1, None, rng.choice(["u", "v"], n))
    pd.DataFrame({"a": a, "b": b, "c": c, "y": y}).to_csv(tmp_path / "rows.csv", index=False)
    path = tmp_path / "t.yaml"
    path.write_text(CONFIG.format(kind=kind, impute=impute))
    return path


@pytest.mark.integration
def test_logistic_regression_trains_on_a_table_with_missing_values(tmp_path: Path) -> None:
    config = load_train_config(_config(tmp_path, "sklearn-logreg"))
    assert config.impute == "numeric"  # features.impute unset: imputed because logreg needs it
    result = train(config, None, tmp_path / "run")
    assert result.metrics["roc_auc"].value is not None and result.metrics["roc_auc"].value > 0.8
    assert "a__missing" in result.features and "b__missing" not in result.features
    assert result.delta["roc_auc"].improved is True


@pytest.mark.integration
def test_imputation_switched_off_names_the_key_to_set(tmp_path: Path) -> None:
    config = load_train_config(_config(tmp_path, "sklearn-logreg", "impute: false"))
    with pytest.raises(DataError, match=r"cannot take missing values; set features\.impute"):
        train(config, None, tmp_path / "run")


@pytest.mark.unit
def test_boosters_are_not_imputed_unless_asked(tmp_path: Path) -> None:
    assert load_train_config(_config(tmp_path, "lightgbm")).impute == "off"
    assert load_train_config(_config(tmp_path, "lightgbm", "impute: true")).impute == "all"
