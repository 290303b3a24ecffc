"""Prediction, label and concept drift on synthetic but realistic served traffic: a churn
classifier's scores and labels, with fixed timestamps (no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import MltrackError
from ragline.mltrack.monitor.alerts import AlertAction, AlertEngine, AlertRule, Fired
from ragline.mltrack.monitor.config import ModelDriftConfig, PredictionLogConfig
from ragline.mltrack.monitor.drift_report import drift_report
from ragline.mltrack.monitor.model_drift import (
    Labelled,
    assess,
    concept_drift,
    label_drift,
    prediction_drift,
    rolling_metric,
)
from ragline.mltrack.monitor.prediction_log import LabelRecord, PredictionLog, PredictionRecord
from ragline.mltrack.tracking.mlflow_store import MlflowStore

CONFIG = ModelDriftConfig()
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
END = NOW.timestamp()
HOUR = 3600.0


def scored_traffic(
    rng: np.random.Generator, n: int, positive_rate: float, separation: float
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and a classifier's scores: logit = separation * (2y - 1) + noise."""
    y = (rng.random(n) < positive_rate).astype(np.float64)
    logit = -1.0 + separation * (2 * y - 1) + rng.normal(0, 1.0, n)
    return y, 1 / (1 + np.exp(-logit))


@pytest.mark.unit
def test_a_shifted_score_distribution_is_prediction_drift() -> None:
    rng = np.random.default_rng(7)
    _, ref = scored_traffic(rng, 3000, 0.2, 1.2)
    _, cur = scored_traffic(rng, 3000, 0.45, 1.2)  # more churners: scores move up
    drift = prediction_drift(ref, cur, CONFIG)
    assert drift.kl is not None and drift.kl > 0.1
    assert drift.severity in ("warning", "critical")
    assert "KL" in drift.reason


@pytest.mark.unit
def test_the_same_score_distribution_is_not_drift() -> None:
    rng = np.random.default_rng(8)
    _, ref = scored_traffic(rng, 3000, 0.2, 1.2)
    _, cur = scored_traffic(rng, 3000, 0.2, 1.2)
    drift = prediction_drift(ref, cur, CONFIG)
    assert drift.kl is not None and drift.kl < 0.02
    assert drift.severity == "ok"


@pytest.mark.unit
def test_too_few_scores_is_insufficient_data_not_an_alarm() -> None:
    drift = prediction_drift(np.linspace(0, 1, 50), np.linspace(0.5, 1, 50), CONFIG)
    assert drift.severity == "insufficient_data" and drift.kl is None
    assert "need 100" in drift.reason


@pytest.mark.unit
def test_a_shifting_label_mix_is_label_drift_and_0_1_are_classes() -> None:
    rng = np.random.default_rng(9)
    ref = (rng.random(2000) < 0.20).astype(int)
    moved = (rng.random(2000) < 0.35).astype(float)  # floats: 1.0 is the class "1"
    drift = label_drift(ref, moved, CONFIG)
    assert drift.chi2_pvalue is not None and drift.chi2_pvalue < 1e-6
    assert drift.severity in ("warning", "critical")
    assert set(drift.shares_ref) == set(drift.shares_cur) == {"0", "1"}
    same = label_drift(ref, (rng.random(2000) < 0.20).astype(int), CONFIG)
    assert same.severity == "ok"


@pytest.mark.unit
def test_drift_report_tests_a_0_1_column_with_chi_square() -> None:
    rng = np.random.default_rng(10)
    ref = pd.DataFrame({"churned": (rng.random(2000) < 0.2).astype(int)})
    cur = pd.DataFrame({"churned": (rng.random(2000) < 0.4).astype(float)})
    cur.loc[:9, "churned"] = np.nan  # a CSV with gaps reads 0/1 as floats
    (feature,) = drift_report(ref, cur).features
    assert feature.kind == "categorical" and feature.ks is None
    assert feature.chi2_pvalue is not None and feature.chi2_pvalue < 1e-6
    assert feature.severity in ("warning", "critical")


def labelled_hours(hours: int, degraded: set[int], seed: int = 11, per_hour: int = 60) -> Labelled:
    """`hours` hours of labelled predictions ending at END; hour h counts back from END
    (0: the last hour); in a degraded hour the model barely separates the classes."""
    rng = np.random.default_rng(seed)
    ts, ys, ss = [], [], []
    for h in range(hours):
        y, s = scored_traffic(rng, per_hour, 0.3, 0.1 if h in degraded else 1.2)
        ts.append(END - (h + 1) * HOUR + np.linspace(1, HOUR - 1, per_hour))
        ys.append(y)
        ss.append(s)
    return Labelled(np.concatenate(ts), np.concatenate(ys), np.concatenate(ss))


@pytest.mark.unit
def test_a_metric_down_for_more_than_24_hours_is_concept_drift() -> None:
    data = labelled_hours(40, degraded=set(range(32)))  # bad for the last 32 h
    points = rolling_metric(data, "roc_auc", END - 24 * HOUR, END, CONFIG)
    assert len(points) == 25 and all(p.n >= CONFIG.min_labels for p in points)
    concept = concept_drift(points, "roc_auc", 0.88, CONFIG)
    assert concept.severity == "critical"
    assert concept.breach_hours == 24 and concept.drop is not None and concept.drop > 0.05


@pytest.mark.unit
def test_a_dip_shorter_than_24_hours_is_not_concept_drift() -> None:
    ongoing = labelled_hours(40, degraded=set(range(10)))  # bad for the last 10 h only
    points = rolling_metric(ongoing, "roc_auc", END - 24 * HOUR, END, CONFIG)
    concept = concept_drift(points, "roc_auc", 0.88, CONFIG)
    assert concept.severity == "warning" and 0 < concept.breach_hours < 24  # 6 h windows lag
    over = labelled_hours(40, degraded=set(range(10, 22)))  # a 12 h dip that has passed
    points = rolling_metric(over, "roc_auc", END - 24 * HOUR, END, CONFIG)
    concept = concept_drift(points, "roc_auc", 0.88, CONFIG)
    assert concept.severity == "ok" and concept.breach_hours == 0


@pytest.mark.unit
def test_an_error_metric_going_up_is_a_drop() -> None:
    cfg = ModelDriftConfig(concept_for="2h", min_labels=2)
    ts = np.arange(0.0, 4 * HOUR, 60.0)
    data = Labelled(ts, np.zeros(ts.size), np.full(ts.size, 1.2))  # rmse 1.2 vs baseline 1.0
    points = rolling_metric(data, "rmse", 2 * HOUR, 4 * HOUR, cfg)
    concept = concept_drift(points, "rmse", 1.0, cfg)
    assert concept.severity == "critical" and concept.drop == pytest.approx(0.2)


def write_log(folder: Path, degraded: bool) -> None:
    """Two days of a churn model's served predictions, and labels for them."""
    rng = np.random.default_rng(12)
    with PredictionLog(PredictionLogConfig(), folder) as log:
        labels = []
        for h in range(48):
            bad = degraded and h < 30
            y, s = scored_traffic(rng, 60, 0.3, 0.1 if bad else 1.2)
            rid = f"r{h}"
            ts = END - (h + 1) * HOUR + 30
            predicted = tuple("1" if v >= 0.5 else "0" for v in s)
            log.record(PredictionRecord(ts, rid, "churn", 3, "classification", s, predicted))
            labels += [LabelRecord(rid, str(int(v)), row) for row, v in enumerate(y)]
        log.add_labels(labels)


@pytest.mark.integration
def test_assess_reads_the_prediction_log(tmp_path: Path) -> None:
    write_log(tmp_path, degraded=True)
    with PredictionLog(PredictionLogConfig(), tmp_path) as log:
        assert log.models(NOW - timedelta(days=1), NOW) == ["churn"]
        window = log.window("churn", NOW - timedelta(days=2), NOW)
        assert window.labelled.all() and window.score.size == 48 * 60
        assert log.add_labels([LabelRecord("r0", "1")]) == 1  # a correction replaces
        assert log.window("churn", NOW - timedelta(hours=1), NOW).truth[0] == "1"
    start = NOW - timedelta(days=2)
    drift = assess(window, start.timestamp(), END - 24 * HOUR, END, CONFIG)
    assert drift.concept.severity == "critical" and drift.concept.metric == "roc_auc"
    assert drift.concept.baseline is not None and drift.concept.baseline > 0.8
    kinds = {o.metric: o.value for o in drift.observations()}
    assert kinds["concept_drift"] == 2.0 and kinds["concept_breach_hours"] == 24


@pytest.mark.integration
def test_a_rollback_action_calls_the_rollback_hook(tmp_path: Path) -> None:
    rule = AlertRule(
        name="concept",
        metric="concept_drift",
        op=">=",
        threshold=2,
        severity="critical",
        actions=(AlertAction(kind="rollback", model="churn"),),
    )
    calls: list[tuple[str, str]] = []

    def roll_back(model: str, fired: Fired) -> str:
        calls.append((model, fired.rule))
        if len(calls) > 1:
            raise MltrackError("churn has no earlier production version")
        return "churn: production is version 2 again"

    engine = AlertEngine([rule], MlflowStore(MltrackConfig(), tmp_path), on_rollback=roll_back)
    write_log(tmp_path, degraded=True)
    with PredictionLog(PredictionLogConfig(), tmp_path) as log:
        window = log.window("churn", NOW - timedelta(days=2), NOW)
    drift = assess(window, END - 48 * HOUR, END - 24 * HOUR, END, CONFIG)
    (fired,) = engine.evaluate(drift.observations(), NOW)
    assert [(o.kind, o.ok) for o in fired.outcomes] == [("rollback", True)]
    assert calls == [("churn", "concept")]
    later = engine.evaluate(drift.observations(), NOW + timedelta(hours=2))
    assert [(o.kind, o.ok) for o in later[0].outcomes] == [("rollback", False)]
    assert "no earlier production version" in later[0].outcomes[0].detail
    with pytest.raises(ValueError, match="names the registered model"):
        AlertAction(kind="rollback")
