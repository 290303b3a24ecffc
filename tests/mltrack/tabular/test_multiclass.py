"""Multiclass end to end on UCI Wine (three cultivars, bundled with scikit-learn): metrics that
agree with scikit-learn, every model kind trained against the class-share baseline, the saved
model reloaded, and configs that ask for binary-only things refused by key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from ragline.mltrack.data.datasets import load_wine
from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.artifacts import load_model, load_pipeline
from ragline.mltrack.tabular.config import MetricsSpec, TrainConfigError, load_train_config
from ragline.mltrack.tabular.evaluate import compare, evaluate, metric_value
from ragline.mltrack.tabular.models import predict_labels, score_frame
from ragline.mltrack.tabular.train import train

SPEC = MetricsSpec(resamples=200, seed=0)
WINE_YAML = Path(__file__).parents[3] / "configs" / "ml" / "wine.yaml"


@pytest.fixture
def probabilities() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4)) + 1.5 * np.eye(4)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y.astype(float), p


@pytest.mark.unit
def test_multiclass_metrics_match_sklearn(probabilities: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = probabilities
    pred = p.argmax(axis=1)
    assert metric_value("macro_f1", y, p) == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert metric_value("accuracy", y, p) == pytest.approx(skm.accuracy_score(y, pred))
    assert metric_value("log_loss", y, p) == pytest.approx(skm.log_loss(y, p))
    assert metric_value("roc_auc", y, p) == pytest.approx(
        skm.roc_auc_score(y, p, multi_class="ovr", average="macro")
    )
    with pytest.raises(ValueError, match="'brier' is not a multiclass metric"):
        metric_value("brier", y, p)
    binary = (y > 1).astype(float)  # macro_f1 is defined for two classes too
    assert metric_value("macro_f1", binary, p[:, 3]) == pytest.approx(
        skm.f1_score(binary, p[:, 3] >= 0.5, average="macro")
    )


@pytest.mark.unit
def test_multiclass_report_has_cis_per_class_rows_and_paired_deltas(
    probabilities: tuple[np.ndarray, np.ndarray],
) -> None:
    y, p = probabilities
    names = ["macro_f1", "accuracy", "log_loss", "roc_auc"]
    report = evaluate(y, p, task="classification", metrics=names, spec=SPEC, classes="abcd")
    f1 = report.metrics["macro_f1"]
    assert f1.ci_low is not None and f1.ci_high is not None
    assert f1.ci_low < f1.value < f1.ci_high
    precision, recall, f1s, support = skm.precision_recall_fscore_support(y, p.argmax(axis=1))
    assert [c.label for c in report.per_class] == ["a", "b", "c", "d"]
    assert [c.support for c in report.per_class] == support.tolist()
    assert [c.precision for c in report.per_class] == pytest.approx(precision.tolist())
    assert [c.recall for c in report.per_class] == pytest.approx(recall.tolist())
    assert [c.f1 for c in report.per_class] == pytest.approx(f1s.tolist())
    assert report.per_row["score"].tolist() == p.max(axis=1).tolist()
    assert report.calibration is not None and report.fairness is None
    shares = np.tile(np.bincount(y.astype(int)) / len(y), (len(y), 1))
    delta = compare(y, p, shares, metrics=["macro_f1", "log_loss"], spec=SPEC)
    assert delta["macro_f1"].improved is True and delta["log_loss"].improved is True


def _wine(tmp_path: Path, **changes: str) -> Path:
    """configs/ml/wine.yaml with the data next to it and `changes` (YAML lines) applied."""
    load_wine().to_csv(tmp_path / "wine.csv", index=False)
    text = WINE_YAML.read_text().replace("../../.ragline/datasets/wine.csv", "wine.csv")
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "wine.yaml"
    path.write_text(text)
    return path


@pytest.mark.integration
@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("sklearn-logreg", "{C: 1.0}"),
        ("lightgbm", "{min_data_in_leaf: 5, learning_rate: 0.1}"),
        ("xgboost", "{eta: 0.2}"),
        ("sklearn-rf", "{n_estimators: 50}"),
    ],
)
def test_every_model_kind_learns_the_three_cultivars(
    tmp_path: Path, kind: str, params: str
) -> None:
    path = _wine(
        tmp_path,
        **{"kind: sklearn-logreg": f"kind: {kind}\n  threads: 1", "{C: 1.0}": params},
    )
    result = train(load_train_config(path), None, tmp_path / "run")

    assert result.primary == "macro_f1"
    assert list(result.metrics) == ["macro_f1", "accuracy", "log_loss", "roc_auc"]
    assert result.metrics["macro_f1"].value is not None and result.metrics["macro_f1"].value > 0.9
    assert result.baseline_metrics["macro_f1"].value == pytest.approx(0.56 / 3, abs=0.01)
    assert result.delta["macro_f1"].improved is True
    assert [c.label for c in result.evaluation.per_class] == ["class_0", "class_1", "class_2"]
    report = json.loads(result.report_path.read_text())
    assert [c["support"] for c in report["per_class"]] == [12, 14, 10]

    model, pipeline = load_model(result.artifact_dir), load_pipeline(result.artifact_dir)
    rows = pd.read_csv(tmp_path / "wine.csv").loc[result.split.test]
    probs = model.predict(pipeline.transform(rows)) if pipeline else None
    assert probs is not None and probs.shape == (36, 3)
    assert result.prepared is not None
    assert np.allclose(probs, result.model.predict(result.prepared.x_test))
    scores, best = predict_labels(model, pipeline, rows)
    assert best is not None and scores.tolist() == probs.max(axis=1).tolist()
    assert score_frame(model, pipeline, rows).tolist() == scores.tolist()
    classes = model.meta.classes
    assert classes is not None
    labels = [classes[i] for i in best]
    assert np.mean(np.array(labels) == rows["cultivar"].to_numpy()) > 0.9


@pytest.mark.integration
def test_binary_only_choices_are_refused_by_key(tmp_path: Path) -> None:
    asked = _wine(tmp_path, **{"primary: macro_f1": "primary: pr_auc"})
    with pytest.raises(TrainConfigError, match=r"metrics: data\.target: 'cultivar' has 3 classes"):
        train(load_train_config(asked), None, tmp_path / "a")
    band = "  categorical: [{columns: [hue_band], encoding: target}]"
    encoded = _wine(tmp_path, **{"  impute: true": f"  impute: true\n{band}"})
    frame = load_wine().assign(hue_band=lambda f: np.where(f["hue"] > 1, "high", "low"))
    frame.to_csv(tmp_path / "wine.csv", index=False)
    with pytest.raises(TrainConfigError, match=r"features\.categorical: .* use encoding: onehot"):
        train(load_train_config(encoded), None, tmp_path / "b")
    positive = _wine(
        tmp_path, **{"task: classification": "task: classification\n  positive_label: class_1"}
    )
    with pytest.raises(DataError, match="remove positive_label to train a multiclass model"):
        train(load_train_config(positive), None, tmp_path / "c")


@pytest.mark.integration
def test_tuning_a_multiclass_booster_minimises_log_loss(tmp_path: Path) -> None:
    path = _wine(
        tmp_path,
        **{
            "kind: sklearn-logreg": "kind: lightgbm\n  threads: 1\n  rounds: 40",
            "{C: 1.0}": "{min_data_in_leaf: 5}",
            "trials: 0": "trials: 3",
        },
    )
    result = train(load_train_config(path), None, tmp_path / "run")
    assert result.tuning is not None and len(result.tuning.trials) == 3
    assert (result.tuning.metric, result.tuning.direction) == ("log_loss", "minimize")
    assert 0 < result.tuning.best_score < 0.5  # log loss on validation: well below ln 3
