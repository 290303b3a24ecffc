"""Anomaly detection in the tabular track: precision@K by hand, the Isolation Forest's score,
threshold and labels, its skops round trip (no pickle), and `train` end to end on a small
hand-made table whose anomalies sit far from the normal rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.tabular.artifacts import PICKLE_SUFFIXES, load_model, save_model
from ragline.mltrack.tabular.config import (
    MetricsSpec,
    ModelSpec,
    TrainConfig,
    TrainConfigError,
    load_train_config,
)
from ragline.mltrack.tabular.evaluate import compare, evaluate, metric_value
from ragline.mltrack.tabular.models import SklearnModel, TrainData, fit_model, predict_labels
from ragline.mltrack.tabular.train import train

pytestmark = pytest.mark.unit
Y = [0, 1, 0, 0, 1, 0, 0, 0, 1, 0]
S = [0.1, 0.9, 0.8, 0.2, 0.7, 0.3, 0.0, 0.4, 0.05, 0.6]


def test_precision_and_recall_at_k_by_hand() -> None:
    # ranked: 0.9 (1), 0.8 (0), 0.7 (1), 0.6 (0), 0.4 (0), ... 0.05 (1)
    assert metric_value("precision_at_k", Y, S) == pytest.approx(2 / 3)  # K = 3 anomalies
    report = evaluate(
        Y,
        S,
        task="anomaly",
        metrics=["precision_at_k", "recall_at_k"],
        spec=MetricsSpec(resamples=50, top_k=2),
    )
    assert report.metrics["precision_at_k"].value == 0.5  # top 2: one anomaly
    assert report.metrics["recall_at_k"].value == pytest.approx(1 / 3)
    assert report.calibration is None  # an anomaly score is not a probability


def test_a_perfect_ranking_beats_a_random_one_at_k() -> None:
    y = [1] * 5 + [0] * 95
    perfect = np.linspace(1, 0, 100)
    flat = np.full(100, 0.5)
    d = compare(y, perfect, flat, metrics=["precision_at_k"], spec=MetricsSpec(resamples=200))
    assert d["precision_at_k"].delta == pytest.approx(0.95)  # flat: the base rate 5%
    assert d["precision_at_k"].improved is True


def _blobs(rows: int = 400, anomalies: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    normal = rng.normal(0, 1, size=(rows - anomalies, 3))
    far = rng.normal(6, 1, size=(anomalies, 3)) * rng.choice([-1, 1], size=(anomalies, 3))
    frame = pd.DataFrame(np.vstack([normal, far]), columns=["a", "b", "c"])
    frame["label"] = [0] * (rows - anomalies) + [1] * anomalies
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_isolation_forest_scores_round_trip_without_pickle(tmp_path: Path) -> None:
    frame = _blobs()
    x, y = frame[["a", "b", "c"]], frame["label"].to_numpy(dtype=float)
    data = TrainData(x, y, x, y, task="anomaly", target="label", classes=(0, 1))
    spec = ModelSpec(kind="isolation-forest", params={"n_estimators": 50}, threads=1)
    model = fit_model(spec, data, metric="roc_auc", seed=0)
    assert isinstance(model, SklearnModel)
    scores = model.predict(x)
    assert ((scores > 0) & (scores <= 1)).all()
    assert scores[y == 1].min() > np.median(scores[y == 0])  # far rows score higher
    model = replace(model, meta=replace(model.meta, threshold=0.6))
    folder = save_model(model, tmp_path / "m")
    assert not [p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES]
    loaded = load_model(folder)
    assert loaded.meta.threshold == 0.6 and loaded.meta.task == "anomaly"
    assert np.allclose(loaded.predict(x), scores)
    labelled, best = predict_labels(loaded, None, x)
    assert best is not None and best.tolist() == (labelled >= 0.6).astype(int).tolist()


def _config(tmp_path: Path, body: str) -> TrainConfig:
    path = tmp_path / "c.yaml"
    path.write_text(body, encoding="utf-8")
    return load_train_config(path)


ANOMALY_YAML = """
data: {path: blobs.csv, target: label, task: anomaly}
split: {kind: stratified, test_size: 0.4, valid_size: 0.2, seed: 0}
features: {numeric: [{columns: [a, b, c]}]}
model: {kind: isolation-forest, params: {n_estimators: 50}, threads: 1}
anomaly: {alert_budget: "50 per 1000"}
metrics: {resamples: 100, seed: 0}
"""


def test_train_fits_the_forest_without_labels_and_saves_the_budget_threshold(
    tmp_path: Path,
) -> None:
    _blobs().to_csv(tmp_path / "blobs.csv", index=False)
    config = _config(tmp_path, ANOMALY_YAML)
    assert config.primary_metric == "pr_auc" and config.baseline.kind == "auto"
    result = train(config, None, tmp_path / "out")
    assert list(result.metrics) == ["pr_auc", "roc_auc", "precision_at_k", "recall_at_k"]
    assert result.baseline.kind == "zscore"
    assert result.metrics["roc_auc"].value is not None and result.metrics["roc_auc"].value > 0.95
    cut = load_model(result.artifact_dir).meta.threshold
    assert cut is not None and cut == result.model.meta.threshold
    valid = result.model.predict(result.prepared.data.x_valid) if result.prepared else None
    assert valid is not None and (valid >= cut).mean() == pytest.approx(0.05, abs=0.02)
    report = result.report_path.read_text()
    assert '"alert.threshold"' in report and '"alert.test_flagged_share"' in report


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("kind: isolation-forest", "model.kind: task anomaly takes isolation-forest"),
        ('alert_budget: "50 per 1000"', "alert_budget"),
    ],
)
def test_anomaly_configs_that_cannot_work_are_refused(
    tmp_path: Path, edit: str, message: str
) -> None:
    broken = {
        "kind: isolation-forest": "kind: lightgbm",
        'alert_budget: "50 per 1000"': "alert_budget: 2.0",
    }[edit]
    with pytest.raises(TrainConfigError, match=message):
        _config(tmp_path, ANOMALY_YAML.replace(edit, broken))
