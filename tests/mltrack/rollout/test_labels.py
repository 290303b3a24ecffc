"""The labels signal on a real prediction log (SQLite in tmp): each version's ROC-AUC on its
labelled predictions, None until both versions have labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.mltrack.monitor.config import PredictionLogConfig
from ragline.mltrack.monitor.prediction_log import LabelRecord, PredictionLog, PredictionRecord
from ragline.mltrack.rollout import RolloutState
from ragline.mltrack.rollout.labels import label_metric

pytestmark = pytest.mark.integration

STATE = RolloutState("churn", 2, 1, 25, "running", "", ())
TRUTH = ("1", "0", "1", "0", "1", "0")
GOOD = (0.9, 0.1, 0.8, 0.2, 0.7, 0.3)  # ranks every positive first: AUC 1.0
POOR = (0.9, 0.8, 0.2, 0.1, 0.7, 0.3)  # 6 of 9 positive-negative pairs ranked right


def _record(log: PredictionLog, version: int, scores: tuple[float, ...]) -> None:
    for i, score in enumerate(scores):
        rid = f"v{version}-{i}"
        label = "1" if score >= 0.5 else "0"
        log.record(
            PredictionRecord(1.0e9 + i, rid, "churn", version, "classification", (score,), (label,))
        )


def test_label_metric_per_version(tmp_path: Path) -> None:
    with PredictionLog(PredictionLogConfig(), tmp_path) as log:
        assert label_metric(log, STATE) is None  # nothing logged, no labels table yet
        _record(log, 1, GOOD)
        _record(log, 2, POOR)
        log.add_labels(LabelRecord(f"v1-{i}", t) for i, t in enumerate(TRUTH))
        assert label_metric(log, STATE) is None  # the canary has no labels yet
        log.add_labels(LabelRecord(f"v2-{i}", t) for i, t in enumerate(TRUTH))
        metric = label_metric(log, STATE)
    assert metric is not None
    assert (metric.name, metric.production, metric.n_production, metric.n_canary) == (
        "roc_auc",
        1.0,
        6,
        6,
    )
    assert metric.canary == pytest.approx(6 / 9)
    assert metric.relative_drop == pytest.approx(3 / 9)
