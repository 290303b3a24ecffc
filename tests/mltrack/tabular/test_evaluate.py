"""Evaluation: evals metrics with bootstrap CIs, paired deltas, calibration, fairness."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from ragline.mltrack.tabular.config import MetricsSpec
from ragline.mltrack.tabular.evaluate import compare, evaluate, metric_value

pytestmark = pytest.mark.unit

SPEC = MetricsSpec(resamples=200, seed=0)


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(float)
    score = np.clip(0.3 + 0.35 * (y - 0.3) + rng.normal(0, 0.15, 400), 0.001, 0.999)
    return y, score


def test_metric_values_match_sklearn(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = scored
    assert metric_value("roc_auc", y, s) == pytest.approx(skm.roc_auc_score(y, s))
    assert metric_value("pr_auc", y, s) == pytest.approx(skm.average_precision_score(y, s))
    assert metric_value("log_loss", y, s) == pytest.approx(skm.log_loss(y, s))
    assert metric_value("brier", y, s) == pytest.approx(skm.brier_score_loss(y, s))
    assert metric_value("f1", y, s) == pytest.approx(skm.f1_score(y, s >= 0.5))
    assert metric_value("rmse", y, s) == pytest.approx(skm.root_mean_squared_error(y, s))
    assert metric_value("r2", y, s) == pytest.approx(skm.r2_score(y, s))
    assert metric_value("roc_auc", [1, 1], [0.2, 0.3]) is None  # undefined, not NaN
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        metric_value("auc", y, s)


def test_classification_report_has_cis_calibration_fairness_and_per_row(
    scored: tuple[np.ndarray, np.ndarray],
) -> None:
    y, s = scored
    groups = np.where(np.arange(400) % 2 == 0, "a", "b")
    report = evaluate(
        y, s, task="classification", metrics=["roc_auc", "accuracy"], spec=SPEC, groups=groups
    )
    auc = report.metrics["roc_auc"]
    assert auc.ci_low is not None and auc.ci_high is not None
    assert auc.ci_low < auc.value < auc.ci_high and auc.ci_high - auc.ci_low < 0.15
    assert report.calibration is not None and report.calibration.ece is not None
    assert sum(report.calibration.curve.counts) == 400
    assert report.fairness is not None and [g.group for g in report.fairness.groups] == ["a", "b"]
    assert set(report.per_row) == {"y_true", "score", "log_loss", "brier", "accuracy"}
    assert report.per_row["accuracy"].mean() == pytest.approx(report.metrics["accuracy"].value)


def test_same_seed_same_intervals(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = scored
    one = evaluate(y, s, task="classification", metrics=["pr_auc"], spec=SPEC)
    two = evaluate(y, s, task="classification", metrics=["pr_auc"], spec=SPEC)
    assert one.metrics == two.metrics


def test_regression_report(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = scored
    report = evaluate(y, s, task="regression", metrics=["rmse", "mae", "r2"], spec=SPEC)
    assert report.calibration is None and report.fairness is None
    assert set(report.per_row) == {"y_true", "score", "mae", "squared_error"}
    rmse = report.metrics["rmse"]
    assert rmse.ci_low is not None and rmse.ci_low < rmse.value


def test_paired_deltas_know_which_direction_is_better(
    scored: tuple[np.ndarray, np.ndarray],
) -> None:
    y, s = scored
    prior = np.full_like(s, y.mean())
    deltas = compare(y, s, prior, metrics=["roc_auc", "log_loss", "accuracy"], spec=SPEC)
    assert deltas["roc_auc"].delta is not None and deltas["roc_auc"].delta > 0.2
    assert deltas["roc_auc"].improved is True
    assert deltas["log_loss"].delta is not None and deltas["log_loss"].delta < 0
    assert deltas["log_loss"].improved is True  # lower loss is better
    worse = compare(y, prior, s, metrics=["roc_auc"], spec=SPEC)
    assert worse["roc_auc"].improved is False
    same = compare(y, s, s, metrics=["roc_auc"], spec=SPEC)
    assert same["roc_auc"].delta == 0.0 and same["roc_auc"].improved is None
