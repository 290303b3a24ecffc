"""Leakage checks: each catches a planted leak and passes the clean setup beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.data.leakage import (
    FitRecord,
    LeakageInputs,
    LeakageReport,
    Statistic,
    entity_overlap,
    fit_record_from_statistics,
    future_features,
    require_clean,
    run_all,
    split_after_engineering,
    target_derived_features,
    target_encoding_outside_folds,
    univariate_score,
)
from ragline.mltrack.errors import DataError, LeakageFound

pytestmark = pytest.mark.unit

NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult()


@pytest.fixture(scope="module")
def split(adult: pd.DataFrame) -> tuple[pd.Index, pd.Index]:
    train, test = train_test_split(adult.index, test_size=0.25, random_state=0)
    return pd.Index(train), pd.Index(test)


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "predicted_at": ["2024-03-01", "2024-03-01", "2024-03-05"],
            "last_login": ["2024-02-28", "2024-02-27", "2024-03-04 23:00"],
            "refund_at": ["2024-02-01", "2024-03-09", None],
        },
        index=["a", "b", "c"],
    )


def test_future_features_flags_a_timestamp_after_the_prediction_time() -> None:
    report = future_features(_events(), "predicted_at", ["last_login", "refund_at"])
    assert not report.clean
    [finding] = report.findings
    assert (finding.check, finding.column, finding.severity) == (
        "future_features",
        "refund_at",
        "error",
    )
    assert "1 of 3 rows" in finding.evidence and "8 days" in finding.evidence
    assert "['b']" in finding.evidence
    assert future_features(_events(), "predicted_at", ["last_login"]).clean


def test_future_features_refuses_unparseable_times_and_missing_columns() -> None:
    bad = _events().assign(last_login=["yesterday", "2024-01-01", "2024-01-01"])
    with pytest.raises(DataError, match=r"'yesterday'.*fix the column's format"):
        future_features(bad, "predicted_at", ["last_login"])
    with pytest.raises(DataError, match="not in the data"):
        future_features(_events(), "predicted_at", ["signup_at"])


def test_split_after_engineering_flags_a_step_fitted_beyond_train(
    adult: pd.DataFrame, split: tuple[pd.Index, pd.Index]
) -> None:
    train, _ = split
    trace = [
        FitRecord.of("imputer", NUMERIC, train),
        FitRecord.of("scaler", NUMERIC, adult.index),  # fitted before the split
    ]
    report = split_after_engineering(trace, train)
    [finding] = report.findings
    assert finding.column == ", ".join(NUMERIC)
    assert "'scaler' was fitted on 11306 rows outside the training split (25%" in finding.evidence
    assert split_after_engineering(trace[:1], train).clean


@pytest.mark.parametrize(("attribute", "statistic"), [("mean_", "mean"), ("scale_", "std")])
def test_fit_rows_are_rebuilt_from_a_fitted_scalers_statistics(
    adult: pd.DataFrame, split: tuple[pd.Index, pd.Index], attribute: str, statistic: Statistic
) -> None:
    train, _ = split
    data = adult[NUMERIC].astype("float64")
    for rows, leaky in ((data, True), (data.loc[train], False)):
        fitted = dict(zip(NUMERIC, getattr(StandardScaler().fit(rows), attribute), strict=True))
        record = fit_record_from_statistics("scaler", fitted, data, train, statistic)
        assert split_after_engineering([record], train).clean is not leaky


def test_min_max_statistics_tell_only_when_the_extremes_lie_outside_train() -> None:
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0, 50.0]})
    train = [0, 1, 2]
    seen_all = dict(zip(["x"], MinMaxScaler().fit(data).data_max_, strict=True))
    record = fit_record_from_statistics("minmax", seen_all, data, train, "max")
    assert not split_after_engineering([record], train).clean
    seen_train = {"x": 3.0}
    assert split_after_engineering(
        [fit_record_from_statistics("minmax", seen_train, data, train, "max")], train
    ).clean


def test_target_encoding_fitted_on_the_rows_it_encodes_is_flagged() -> None:
    rows = range(100)
    in_fold = FitRecord.of("te", ["city"], rows, transformed=rows, uses_target=True)
    [finding] = target_encoding_outside_folds([in_fold]).findings
    assert "fitted on 100 rows it then transformed" in finding.evidence
    assert "TargetEncoder" in finding.fix
    scaler = FitRecord.of("scaler", ["age"], rows, transformed=rows)  # no target: not this check
    assert target_encoding_outside_folds([scaler]).clean


def test_target_encoding_per_fold_passes_and_a_shared_encoder_fails() -> None:
    folds = [(set(fit), set(held)) for fit, held in KFold(4).split(np.zeros(40))]
    per_fold = [
        FitRecord.of("te", ["city"], fit, transformed=held, uses_target=True, fold=k)
        for k, (fit, held) in enumerate(folds)
    ]
    assert target_encoding_outside_folds(per_fold, folds).clean
    shared = FitRecord.of("te", ["city"], range(40), uses_target=True)
    report = target_encoding_outside_folds([shared], folds)
    assert len(report.findings) == 4  # it saw every fold's validation rows
    assert "10 validation rows of fold 0" in report.findings[0].evidence
    wrong_fold = FitRecord.of("te", ["city"], folds[0][0], uses_target=True, fold=1)
    assert not target_encoding_outside_folds([wrong_fold], folds).clean
    with pytest.raises(DataError, match="fold 7"):
        target_encoding_outside_folds([FitRecord.of("te", [], [], uses_target=True, fold=7)], folds)


def test_real_adult_features_are_not_target_derived(adult: pd.DataFrame) -> None:
    report = target_derived_features(adult.drop(columns="income"), adult["income"])
    assert report.findings == () and report.checks == ("target_derived_features",)


def test_a_noisy_copy_of_income_planted_in_adult_is_caught(adult: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    income = adult["income"].to_numpy()
    flipped = np.where(rng.random(len(adult)) < 0.005, 1 - income, income)  # 0.5% label noise
    X = adult[["age", "relationship"]].assign(
        refund_flag=flipped, bracket=np.where(flipped == 1, "high", "low")
    )
    report = target_derived_features(X, adult["income"])
    assert {f.column for f in report.findings} == {"refund_flag", "bracket"}
    assert all(f.severity == "error" for f in report.findings)
    assert "AUC 0.99" in report.findings[0].evidence  # 1 - 0.5% flips
    with pytest.raises(LeakageFound, match="refund_flag"):
        require_clean(report)


def test_target_derived_regression_and_the_warning_band() -> None:
    rng = np.random.default_rng(1)
    y = pd.Series(rng.normal(size=600))
    X = pd.DataFrame({"copy": y * 3 + rng.normal(0, 0.05, 600), "noise": rng.normal(size=600)})
    [finding] = target_derived_features(X, y).findings
    assert (finding.column, finding.severity) == ("copy", "error")
    assert "R² 0.99" in finding.evidence
    labels = pd.Series(rng.integers(0, 2, 2000))
    near = pd.DataFrame({"near": labels + rng.normal(0, 0.4, 2000)})  # AUC about 0.96
    assert 0.95 <= univariate_score(near["near"], labels) < 0.99
    report = target_derived_features(near, labels)
    assert report.clean and report.findings[0].severity == "warning"


def test_entity_overlap_counts_shared_entities_and_passes_a_group_split() -> None:
    train = pd.DataFrame({"customer": ["c1", "c2", "c3", "c3"]})
    test = pd.DataFrame({"customer": ["c3", "c3", "c4", "c2"]})
    [finding] = entity_overlap(train, test, "customer").findings
    assert finding.evidence.startswith("2 entities of 3 in test (66.7%)")
    assert "(3 test rows), e.g. ['c2', 'c3']" in finding.evidence
    assert "GroupKFold" in finding.fix
    assert entity_overlap(train, pd.DataFrame({"customer": ["c9"]}), "customer").clean


def test_run_all_runs_the_checks_its_inputs_allow() -> None:
    rng = np.random.default_rng(2)
    data = pd.DataFrame(
        {
            "customer": np.arange(200) % 150,  # 50 customers have two rows
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(200), unit="D"),
            "x": rng.normal(size=200),
            "y": rng.integers(0, 2, 200),
        }
    )
    data["seen"] = data["at"] - pd.Timedelta(days=1)
    train = data.index[:100]
    clean = run_all(
        LeakageInputs(
            data=data.iloc[:150], target="y", prediction_time="at", feature_times=("seen",),
            entity="customer", train_index=train, fit_records=(FitRecord.of("s", ["x"], train),),
        )
    )  # fmt: skip
    assert clean.clean and clean.findings == ()
    assert set(clean.checks) == {
        "future_features", "split_after_engineering", "target_derived_features", "entity_overlap",
    }  # fmt: skip
    leaky = run_all(
        LeakageInputs(data=data, target="y", entity="customer", train_index=data.index[:175])
    )
    assert [f.check for f in leaky.findings] == ["entity_overlap"]
    assert run_all(LeakageInputs()) == LeakageReport()


def test_require_clean_lists_every_finding_with_its_fix() -> None:
    train, test = pd.DataFrame({"id": [1]}), pd.DataFrame({"id": [1]})
    report = entity_overlap(train, test, "id") + split_after_engineering(
        [FitRecord.of("scaler", ["x"], [1, 2])], [1]
    )
    with pytest.raises(LeakageFound, match=r"2 leakage finding\(s\)") as caught:
        require_clean(report)
    assert "Fix: split by entity" in str(caught.value)
    assert "Fix: split first" in str(caught.value)
    assert require_clean(LeakageReport()) == LeakageReport()


def test_a_copy_of_income_with_8_percent_flips_is_caught(adult: pd.DataFrame) -> None:
    # issue 21 (B7): 8% flips take the copy's AUC to ~0.9, under both AUC bars
    rng = np.random.default_rng(0)
    income = adult["income"].to_numpy()
    flipped = np.where(rng.random(len(adult)) < 0.08, 1 - income, income)
    X = adult[["age", "sex", "relationship"]].assign(
        churn_flag=np.where(flipped == 1, "no", "yes")  # relabelled, so no value is shared
    )
    assert univariate_score(X["churn_flag"], adult["income"]) < 0.95
    report = target_derived_features(X, adult["income"])
    [finding] = report.findings
    assert (finding.column, finding.severity) == ("churn_flag", "error")
    assert "copy of the label with 8.1% of it flipped (agreement 91.9%" in finding.evidence
    assert not report.clean


def test_two_columns_that_sum_to_the_target_are_caught() -> None:
    # issue 21 (B7): each column explains half the target, together all of it
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(3000, 3)), columns=["net", "tax", "noise"])
    frame.loc[rng.random(3000) < 0.05, "noise"] = np.nan
    y = frame["net"] + frame["tax"] + 7.0
    report = target_derived_features(frame, y)
    [finding] = report.findings
    assert (finding.column, finding.severity) == ("net, tax", "error")
    assert "target ≈ 1·net + 1·tax + 7 (R² 1.0000" in finding.evidence


def test_pairs_of_real_regression_features_are_not_flagged() -> None:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    assert target_derived_features(data.data, data.target).findings == ()


def test_the_pair_check_stays_bounded_on_a_wide_table() -> None:
    import time

    rng = np.random.default_rng(3)
    wide = pd.DataFrame(rng.normal(size=(5000, 1200)), columns=[f"c{i}" for i in range(1200)])
    wide["a"] = rng.normal(size=5000)
    wide["b"] = rng.normal(size=5000)
    from ragline.mltrack.data.copies import linear_pairs

    started = time.perf_counter()
    [fit] = linear_pairs(wide, wide["a"] - 2 * wide["b"], 0.96)  # 1,202 columns, 722k pairs
    elapsed = time.perf_counter() - started
    assert (fit.a, fit.b) == ("a", "b") and fit.coef_b == pytest.approx(-2)
    assert elapsed < 10, f"{elapsed:.1f} s"
