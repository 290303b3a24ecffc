"""The feature pipeline: fitted on train only, target encoding out-of-fold, every fit traced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.data import leakage
from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import BinOp, CategoricalFeature, FeatureSpec, NumericFeature
from ragline.mltrack.tabular.features import FeaturePipeline, FitRecord, fit_features

pytestmark = pytest.mark.unit

TRAIN = np.arange(0, 80, dtype=np.int64)
TEST = np.arange(80, 100, dtype=np.int64)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    city = rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], size=100)
    x = rng.normal(10.0, 2.0, size=100)
    x[TEST] += 1000.0  # test rows far away: any fit that saw them would show it
    y = ((city == "Oslo") | (rng.random(100) < 0.2)).astype(float)
    return pd.DataFrame({"x": x, "city": city, "y": y})


def to_leakage(records: tuple[FitRecord, ...]) -> list[leakage.FitRecord]:
    """The reconciliation with ragline.mltrack.data.leakage's record is a field-for-field copy."""
    return [
        leakage.FitRecord.of(
            r.step,
            r.columns,
            r.fitted_on_index.tolist(),
            transformed=None if r.transformed_index is None else r.transformed_index.tolist(),
            uses_target=r.uses_target,
            fold=r.fold,
        )
        for r in records
    ]


def test_numeric_ops_are_fitted_on_train_rows_only(frame: pd.DataFrame) -> None:
    spec = FeatureSpec(numeric=[NumericFeature(columns=["x"], ops=["standardize", BinOp(bin=4)])])
    fit = fit_features(frame, TRAIN, frame.loc[TRAIN, "y"], spec)
    standardize = fit.pipeline.numeric[0].ops[0]
    assert standardize.values[0] == pytest.approx(frame.loc[TRAIN, "x"].mean())
    assert sorted(fit.train["x"].unique()) == [0.0, 1.0, 2.0, 3.0]  # 4 quantile bins of train
    test = fit.pipeline.transform(frame.loc[TEST])
    assert (test["x"] == 3.0).all()  # far above every train edge: the last bin
    assert [(r.step, r.fitted_on_index.tolist()) for r in fit.records] == [
        ("numeric:x", TRAIN.tolist())
    ]


def test_target_encoding_is_out_of_fold_on_train_and_full_train_elsewhere(
    frame: pd.DataFrame,
) -> None:
    spec = FeatureSpec(
        categorical=[CategoricalFeature(columns=["city"], encoding="target", folds=4, smoothing=0)]
    )
    y = frame.loc[TRAIN, "y"].to_numpy()
    fit = fit_features(frame, TRAIN, y, spec, seed=7)
    folds = [r for r in fit.records if r.fold is not None]
    full = [r for r in fit.records if r.fold is None]
    assert [r.fold for r in folds] == [0, 1, 2, 3]
    assert all(r.uses_target and r.columns == ("city",) for r in fit.records)
    held_all: list[int] = []
    for r in folds:
        assert r.transformed_index is not None
        held = r.transformed_index
        assert not set(r.fitted_on_index) & set(held)  # a row never sees its own label
        assert set(r.fitted_on_index) | set(held) == set(TRAIN)
        seen = frame.loc[r.fitted_on_index]
        expected = frame.loc[held, "city"].map(seen.groupby("city")["y"].mean())
        np.testing.assert_allclose(
            fit.train.loc[held, "city__te"], expected.fillna(seen["y"].mean())
        )
        held_all += held.tolist()
    assert sorted(held_all) == TRAIN.tolist()
    assert len(full) == 1 and full[0].fitted_on_index.tolist() == TRAIN.tolist()
    test = fit.pipeline.transform(frame.loc[TEST])
    train_rates = frame.loc[TRAIN].groupby("city")["y"].mean()
    np.testing.assert_allclose(test["city__te"], frame.loc[TEST, "city"].map(train_rates))


def test_trace_passes_the_leakage_checks_and_a_leaky_trace_fails(frame: pd.DataFrame) -> None:
    spec = FeatureSpec(
        numeric=[NumericFeature(columns=["x"], ops=["standardize"])],
        categorical=[CategoricalFeature(columns=["city"], encoding="target", folds=5)],
    )
    fit = fit_features(frame, TRAIN, frame.loc[TRAIN, "y"], spec)
    records = to_leakage(fit.records)
    per_fold = sorted((r for r in fit.records if r.fold is not None), key=lambda r: r.fold or 0)
    folds = tuple((r.fitted_on_index, r.transformed_index) for r in per_fold)
    assert leakage.split_after_engineering(records, TRAIN.tolist()).clean
    # the per-fold encoders avoid their fold's held-out rows; the full-train encoder encodes
    # only rows outside train, so it is checked by its transformed rows, without the folds
    assert leakage.target_encoding_outside_folds(to_leakage(tuple(per_fold)), folds).clean
    full = tuple(r for r in fit.records if r.uses_target and r.fold is None)
    assert leakage.target_encoding_outside_folds(to_leakage(full)).clean
    leaky = FitRecord("scaler", ("x",), np.arange(100))  # fitted on every row
    assert not leakage.split_after_engineering(to_leakage((leaky,)), TRAIN.tolist()).clean


def test_onehot_keeps_train_categories_and_unseen_ones_are_all_zero() -> None:
    frame = pd.DataFrame({"c": ["a", "b", "a", "b(x)", "zzz", None]})
    spec = FeatureSpec(categorical=[CategoricalFeature(columns=["c"])])
    fit = fit_features(frame, np.arange(4), [0, 1, 0, 1], spec)
    assert fit.pipeline.feature_names == ("c=a", "c=b", "c=b_x_")  # names safe for boosters
    test = fit.pipeline.transform(frame.loc[[4, 5]])
    assert test.to_numpy().sum() == 0.0
    assert fit.train["c=a"].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_max_categories_keeps_the_most_frequent() -> None:
    frame = pd.DataFrame({"c": list("aaabbc")})
    spec = FeatureSpec(categorical=[CategoricalFeature(columns=["c"], max_categories=2)])
    fit = fit_features(frame, np.arange(6), [0] * 6, spec)
    assert fit.pipeline.onehot[0].categories == ("a", "b")


def test_pipeline_round_trips_through_json(frame: pd.DataFrame) -> None:
    spec = FeatureSpec(
        numeric=[NumericFeature(columns=["x"], ops=["log", "standardize", BinOp(bin=3)])],
        categorical=[
            CategoricalFeature(columns=["city"]),
            CategoricalFeature(columns=["city"], encoding="target"),
        ],
    )
    with pytest.raises(DataError, match=r"columns \['city'\] are listed twice"):
        fit_features(frame, TRAIN, frame.loc[TRAIN, "y"], spec)
    spec = FeatureSpec(
        numeric=[NumericFeature(columns=["x"], ops=["log", "standardize", BinOp(bin=3)])],
        categorical=[CategoricalFeature(columns=["city"], encoding="target")],
    )
    fit = fit_features(frame, TRAIN, frame.loc[TRAIN, "y"], spec)
    again = FeaturePipeline.model_validate_json(fit.pipeline.model_dump_json())
    pd.testing.assert_frame_equal(again.transform(frame), fit.pipeline.transform(frame))


def test_column_patterns_and_errors(frame: pd.DataFrame) -> None:
    wide = frame.assign(x_a=1.0, x_b=2.0)
    spec = FeatureSpec(numeric=[NumericFeature(columns=["x_*"])])
    assert fit_features(wide, TRAIN, np.zeros(80), spec).pipeline.feature_names == ("x_a", "x_b")
    with pytest.raises(DataError, match=r"no column matches 'q_\*'"):
        fit_features(
            frame, TRAIN, np.zeros(80), FeatureSpec(numeric=[NumericFeature(columns=["q_*"])])
        )
    with pytest.raises(DataError, match=r"list it under features.categorical"):
        fit_features(
            frame, TRAIN, np.zeros(80), FeatureSpec(numeric=[NumericFeature(columns=["city"])])
        )
    empty = FeatureSpec(numeric=[NumericFeature(columns=["x"], ops=["standardize"])])
    with pytest.raises(DataError, match=r"'x' has no values in the train split"):
        fit_features(frame.assign(x=np.nan), TRAIN, np.zeros(80), empty)
    pipeline = fit_features(wide, TRAIN, np.zeros(80), spec).pipeline
    with pytest.raises(DataError, match=r"columns \['x_a', 'x_b'\] are missing"):
        pipeline.transform(frame)


def test_matrix_is_transform_in_the_models_order(frame: pd.DataFrame) -> None:
    spec = FeatureSpec(
        numeric=[NumericFeature(columns=["x"], ops=["log", "standardize", BinOp(bin=3)])],
        categorical=[
            CategoricalFeature(columns=["city"]),
            CategoricalFeature(columns=["y"], encoding="target"),
        ],
    )
    pipeline = fit_features(frame, TRAIN, frame.loc[TRAIN, "y"], spec).pipeline
    rows = frame.iloc[[3, 81, 97]]
    expected = pipeline.transform(rows)
    np.testing.assert_array_equal(pipeline.matrix(rows), expected.to_numpy())
    order = list(reversed(pipeline.feature_names))
    np.testing.assert_array_equal(pipeline.matrix(rows, order), expected[order].to_numpy())
    assert pipeline.matrix(rows.iloc[:1]).shape == (1, len(pipeline.feature_names))
    with pytest.raises(DataError, match=r"features \['nope'\] are not produced"):
        pipeline.matrix(rows, ["nope"])
