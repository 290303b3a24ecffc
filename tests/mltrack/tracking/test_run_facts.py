"""What a training run records beyond metrics: the features used (the model's real inputs and
their raw columns), the test split's confusion matrix (checked against scikit-learn) and the
training rows' dates, read back through a real Tracker (SQLite) and printed on the model card
with every new section, including the hints that name the config key to fill."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from ragline.mltrack.tabular import load_train_config, train
from ragline.mltrack.tabular.train import TrainResult
from ragline.mltrack.tracking import card_sections, run_facts
from ragline.mltrack.tracking.artifacts import Feature
from ragline.mltrack.tracking.card import CardInputs, CardSpec, render_card
from ragline.mltrack.tracking.experiments import (
    ExperimentPlan,
    ExperimentRecord,
    MetricValue,
    Tracker,
)
from ragline.mltrack.tracking.registry import ModelVersionInfo
from ragline.mltrack.tracking.run_facts import ConfusionMatrix, DataRange, confusion_matrix
from tests.mltrack.conftest import Backend

MLFLOW_WARNINGS = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*")

BINARY = """
data: {{path: {path}, target: churned, task: classification, positive_label: "yes",
        time_column: signup}}
split: {{kind: temporal, test_size: 0.25, valid_size: 0.2}}
features:
  numeric: [{{columns: [tenure, spend]}}]
  categorical: [{{columns: [plan], encoding: onehot}}]
model: {{kind: sklearn-logreg}}
tune: {{trials: 0}}
metrics: {{resamples: 20, seed: 0, threshold: 0.4}}
experiment:
  hypothesis: spend and plan predict churn
  notes: first try; the plan column has three values
"""

MULTICLASS = """
data: {{path: {path}, target: cultivar, task: classification}}
split: {{kind: stratified, test_size: 0.3, valid_size: 0.2, seed: 0}}
features:
  numeric: [{{columns: [alcohol, malic_acid, color_intensity, proline], ops: [standardize]}}]
model: {{kind: sklearn-logreg}}
tune: {{trials: 0}}
metrics: {{resamples: 20, seed: 0}}
"""


def _churn(path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 400
    spend = rng.gamma(2.0, 30.0, n)
    plan = rng.choice(["basic", "plus", "pro"], n)
    churn = rng.random(n) < 1 / (1 + np.exp((spend - 60) / 20))
    frame = pd.DataFrame(
        {
            "signup": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "tenure": rng.integers(1, 60, n),
            "spend": spend,
            "plan": plan,
            "unused": rng.random(n),
            "churned": np.where(churn, "yes", "no"),
        }
    )
    frame.to_csv(path, index=False)
    return path


def _train(
    backend: Backend, tmp_path: Path, config_text: str, data: Path
) -> tuple[TrainResult, ExperimentRecord]:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(config_text.format(path=data), "utf-8")
    config = load_train_config(config_path)
    tracker = Tracker(backend.config, backend.data_dir)
    with tracker.start_run(ExperimentPlan("h", "sha256:rows", config.model.kind)) as run:
        result = train(config, run, tmp_path / "out")
        run.finish("iterate", MetricValue(result.primary, 0.5))
    record = tracker.get(run.exp_id)
    tracker.close()
    return result, record


@pytest.mark.integration
@pytest.mark.slow
@MLFLOW_WARNINGS
def test_binary_run_records_features_confusion_and_dates(
    sqlite_backend: Backend, tmp_path: Path
) -> None:
    data = _churn(tmp_path / "churn.csv")
    result, record = _train(sqlite_backend, tmp_path, BINARY, data)

    # features used: the model's inputs after the pipeline (one-hot columns), not []
    features = result.model.meta.features
    assert record.plan.features and record.plan.features == tuple(features)
    assert any(f.startswith("plan=") for f in record.plan.features)
    assert record.plan.raw_columns == ("tenure", "spend", "plan")  # not `unused`
    assert record.plan.notes == "first try; the plan column has three values"

    rows = result.evaluation.per_row
    matrix = record.confusion
    assert matrix is not None and matrix.threshold == 0.4 and matrix.labels == ("no", "yes")
    assert result.prepared is not None
    test_rows = len(result.prepared.split.test)
    assert matrix.total == test_rows == len(rows["y_true"])
    expected = sk_confusion_matrix(rows["y_true"], rows["score"] >= 0.4, labels=[0, 1])
    assert np.array_equal(np.array(matrix.counts), expected)

    # the temporal split trains on the oldest rows: their first and last signup date
    dates = record.data_range
    prep = result.prepared
    assert dates is not None
    train_days = pd.to_datetime(prep.frame.loc[prep.split.train, "signup"])
    assert dates == DataRange(
        len(prep.split.train),
        400,
        "signup",
        train_days.min().isoformat(),
        train_days.max().isoformat(),
    )
    assert dates.start == "2024-01-01T00:00:00"


@pytest.mark.integration
@pytest.mark.slow
@MLFLOW_WARNINGS
def test_multiclass_run_records_an_argmax_confusion_matrix(
    sqlite_backend: Backend, tmp_path: Path
) -> None:
    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"od280/od315_of_diluted_wines": "od280"})
    frame["cultivar"] = np.array(["barolo", "grignolino", "barbera"])[wine.target]
    data = tmp_path / "wine.csv"
    frame.to_csv(data, index=False)
    result, record = _train(sqlite_backend, tmp_path, MULTICLASS, data)

    assert record.plan.features == tuple(result.model.meta.features)
    matrix = record.confusion
    assert matrix is not None and matrix.threshold is None
    assert matrix.labels == ("barbera", "barolo", "grignolino")  # the sorted class labels
    rows = result.evaluation.per_row
    expected = sk_confusion_matrix(rows["y_true"], rows["predicted"], labels=[0, 1, 2])
    assert np.array_equal(np.array(matrix.counts), expected)
    assert result.prepared is not None
    assert matrix.total == len(result.prepared.split.test) == 54
    # no time column: the range says how many rows and nothing about dates
    assert record.data_range == DataRange(len(result.prepared.split.train), 178)


@pytest.mark.unit
@pytest.mark.parametrize("k", [2, 3, 5])
def test_confusion_matrix_matches_sklearn(k: int) -> None:
    rng = np.random.default_rng(k)
    y, p = rng.integers(0, k, 300), rng.integers(0, k, 300)
    labels = [f"c{i}" for i in range(k)]
    matrix = confusion_matrix(y, p, labels)
    assert np.array_equal(np.array(matrix.counts), sk_confusion_matrix(y, p, labels=range(k)))
    assert matrix.total == 300
    assert run_facts.confusion_of({run_facts.CONFUSION: matrix.to_json()}) == matrix
    with pytest.raises(ValueError, match="pass one label per class"):
        confusion_matrix(y, p, labels[:-1])


def _version() -> ModelVersionInfo:
    signature = (Feature("tenure", "float64"),)
    return ModelVersionInfo("churn", 2, "staging", "r1", "file:///m", "lightgbm-text", signature)


def _record(
    confusion: ConfusionMatrix | None = None, dates: DataRange | None = None
) -> ExperimentRecord:
    plan = ExperimentPlan(
        "h",
        "sha256:0123456789abcdef",
        "lightgbm",
        features=("tenure", "plan=pro", "plan=basic"),
        notes="second try",
        raw_columns=("tenure", "plan"),
    )
    started = pd.Timestamp("2026-11-20", tz="UTC").to_pydatetime()
    return ExperimentRecord(
        "EXP-2026-11-20-001", "r1", plan, None, 1.0, (), "FINISHED", started, None, confusion, dates
    )


@pytest.mark.unit
def test_card_renders_every_new_section() -> None:
    matrix = ConfusionMatrix(("no", "yes"), ((50, 5), (10, 35)), 0.4)
    dates = DataRange(700, 1000, "signup", "2024-01-01T00:00:00", "2024-09-30T00:00:00")
    spec = CardSpec(
        owner="growth-ml",
        retraining="monthly, or when monitor check flags drift",
        monitoring="daily drift check with alerts",
        ethical_considerations=("plan correlates with income",),
        contact="growth-ml@example.com",
    )
    text = render_card(CardInputs(_version(), _record(matrix, dates), {}, (), spec))

    assert "## Features used\n3 model input(s) after the feature pipeline, made from 2 raw" in text
    assert "- raw columns: `tenure`, `plan`" in text
    assert "- model inputs: `tenure`, `plan=pro`, `plan=basic`" in text
    assert "- notes: second try" in text
    assert "`yes` is predicted when its score >= 0.4." in text
    assert "| actual \\ predicted | no | yes | total |" in text
    assert "| no | 50 | 5 | 55 |" in text and "| yes | 10 | 35 | 45 |" in text
    assert "100 test rows counted." in text
    dates_line = "2024-01-01T00:00:00 to 2024-09-30T00:00:00 (`signup`, 700 train rows)"
    assert f"- training data dates: {dates_line}" in text
    assert "## Ethical considerations\n- plan correlates with income" in text
    assert "## Maintenance\n- owner: growth-ml" in text
    assert "- retraining (cadence or trigger): monthly, or when monitor check flags" in text
    assert "- monitoring in place: daily drift check with alerts" in text
    assert text.endswith("## Contact\ngrowth-ml@example.com\n")


@pytest.mark.unit
def test_card_hints_name_the_config_key_to_fill() -> None:
    multiclass = ConfusionMatrix(("a", "b", "c"), ((3, 0, 0), (1, 2, 0), (0, 0, 4)))
    record = _record(multiclass, DataRange(700, 1000))
    text = render_card(CardInputs(_version(), record, {}, ()))

    assert "the most probable class is predicted" in text and "| c | 0 | 0 | 4 | 4 |" in text
    no_dates = "not recorded (no `data.time_column` in the config); dataset sha256:0123456789"
    assert f"- training data dates: {no_dates}abcdef, 1,000 rows (700 in the train split)" in text
    hint = "not stated: add `experiment.{}` to the training config"
    assert f"## Ethical considerations\n- {hint.format('ethical_considerations')}" in text
    assert f"- owner: {hint.format('owner')}" in text
    assert f"- retraining (cadence or trigger): {hint.format('retraining')}" in text
    assert f"- monitoring in place: {hint.format('monitoring')}" in text
    assert f"## Contact\n{hint.format('contact').capitalize()}." in text

    bare = render_card(CardInputs(_version(), None, {}, ()))
    assert "## Features used\nNot recorded (no experiment record;" in bare
    assert "## Confusion matrix (test split)\nNot recorded (`ragline ml train` records" in bare
    assert "- training data dates: not recorded; dataset not recorded" in bare


@pytest.mark.unit
def test_card_spec_reads_the_new_experiment_params() -> None:
    params = {
        "experiment.ethical_considerations": '["a", "b"]',
        "experiment.contact": "ops@example.com",
        "experiment.retraining": "weekly",
        "experiment.monitoring": None,
    }
    spec = CardSpec.from_params(params)
    assert spec == CardSpec(
        ethical_considerations=("a", "b"), contact="ops@example.com", retraining="weekly"
    )
    assert doctest.testmod(card_sections).failed == 0
    assert doctest.testmod(run_facts).failed == 0
