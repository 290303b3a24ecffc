"""The alert budget's threshold and the anomaly config section."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from ragline.mltrack.anomaly.budget import budget_threshold, flagged_share
from ragline.mltrack.anomaly.config import AnomalySpec, anomaly_problems
from ragline.mltrack.errors import DataError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("share", [0.001, 0.01, 0.05, 0.2])
def test_the_threshold_flags_the_budgeted_share_of_rows(share: float) -> None:
    scores = np.random.default_rng(1).uniform(size=2000)
    cut = budget_threshold(scores, share)
    assert flagged_share(scores, cut) == pytest.approx(share, abs=1 / 2000)
    assert flagged_share(scores, cut) >= share  # ceil: at least one row is always flagged


def test_the_threshold_is_the_kth_highest_score() -> None:
    assert budget_threshold([0.9, 0.1, 0.8, 0.3, 0.7], share=0.4) == 0.8
    assert budget_threshold([0.9, 0.1, 0.8, 0.3, 0.7], share=0.01) == 0.9


def test_the_threshold_needs_scores() -> None:
    with pytest.raises(DataError, match="validation rows"):
        budget_threshold([np.nan], 0.1)


@pytest.mark.parametrize(("budget", "share"), [(0.02, 0.02), ("5 per 1000", 0.005)])
def test_a_budget_is_a_fraction_or_per_thousand(budget: float | str, share: float) -> None:
    assert AnomalySpec(alert_budget=budget).budget_share == pytest.approx(share)


@pytest.mark.parametrize("budget", [0, 1.5, "5 per 100", "many per 1000", "2000 per 1000"])
def test_a_budget_outside_zero_and_one_is_refused(budget: float | str) -> None:
    with pytest.raises(ValidationError, match="alert_budget"):
        AnomalySpec(alert_budget=budget)


def test_anomaly_problems_name_the_key_to_fix() -> None:
    assert anomaly_problems("anomaly", "zscore", "isolation-forest", 0, False) == []
    found = anomaly_problems("anomaly", "majority", "lightgbm", 5, True)
    assert [line.split(":")[0] for line in found] == [
        "model.kind",
        "baseline.kind",
        "tune.trials",
        "features.categorical",
    ]
    assert anomaly_problems("regression", "zscore", "isolation-forest", 0, False)[0].startswith(
        "baseline.kind"
    )
