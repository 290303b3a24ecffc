"""The ML-system rubric on hand-built evidence: nothing found, everything found, each edge."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from ragline.mltrack.method.score import (
    BANDS,
    DIMENSIONS,
    MAX_POINTS,
    WEIGHTS,
    DimensionScore,
    Evidence,
    band,
    score_system,
)

pytestmark = pytest.mark.unit

FULL = Evidence(
    model="churn",
    hypothesis="deeper trees help",
    primary_metric="roc_auc",
    baseline="majority",
    intended_use="rank accounts for retention calls",
    out_of_scope="pricing decisions",
    limitations=("one country",),
    owner="risk-ml",
    card_fields_on_run=True,
    experiment_hypothesis="deeper trees help",
    quality_total=30,
    quality_forced=False,
    primary_ci=True,
    baseline_delta_ci=True,
    dataset_version="sha256:0f1e2d3c4b5a6978",
    leakage_findings=(),
    experiments=3,
    beats_baseline=True,
    beats_predecessor=True,
    calibration_measured=True,
    fairness_measured=True,
    eval_runs=2,
    eval_passed=True,
    production_version=2,
    staged_before_production=True,
    rollback_ready=True,
    promotions=4,
    forced_promotions=0,
    production_traced=True,
    ledger_events=120,
    recent_ledger_events=10,
    alert_table=True,
    alert_rows=3,
    drift_checks=1,
    docs_present=True,
    cost_usd=Decimal("1.25"),
    budget_usd=Decimal("200"),
    budget_level="ok",
    cost_per_1k=Decimal("0.002"),
)


def dim(evidence: Evidence, name: str) -> DimensionScore:
    found = {d.name: d for d in score_system(evidence).dimensions}
    return found[name]


def test_empty_evidence_scores_zero_and_says_what_to_do() -> None:
    result = score_system(Evidence())
    assert result.total == 0 and result.max == 40
    assert (result.total_100, result.band) == (0, "not ready")
    assert [d.name for d in result.dimensions] == list(DIMENSIONS)
    for d in result.dimensions:
        assert d.score == 0 and d.max == MAX_POINTS and d.rests_on == []
        assert d.to_raise, d.name
    hints = " ".join(h for d in result.dimensions for h in d.to_raise)
    assert "costs.ledger.monthly_budget_usd" in hints and "ragline ml card MODEL" in hints
    assert "experiment.intended_use" in hints and "ragline ml train" in hints


def test_full_evidence_scores_the_maximum_and_cites_it() -> None:
    result = score_system(FULL)
    assert result.total == 40
    assert (result.total_100, result.band) == (100, "production-ready")
    for d in result.dimensions:
        assert d.score == MAX_POINTS and d.to_raise == [], (d.name, d.to_raise)
        assert len(d.rests_on) >= 1
    assert "churn version 2 in production" in dim(FULL, "deployment").rests_on
    assert "$0.002 per 1k predictions" in dim(FULL, "cost efficiency").rests_on


@pytest.mark.parametrize(
    ("change", "name", "hint"),
    [
        ({"hypothesis": None}, "problem framing", "experiment.hypothesis"),
        ({"baseline": None}, "problem framing", "baseline.kind"),
        ({"out_of_scope": ""}, "problem framing", "experiment.out_of_scope"),
        ({"primary_ci": False}, "experiment rigour", "CI"),
        ({"dataset_version": "v1"}, "experiment rigour", "hashes the data"),
        ({"leakage_findings": ("target_derived: leak",)}, "experiment rigour", "fix 1 leakage"),
        ({"leakage_findings": None}, "experiment rigour", "ragline ml leakage"),
        ({"experiments": 1}, "experiment rigour", "second experiment"),
        ({"beats_baseline": False}, "model performance", "delta CI excludes 0"),
        ({"beats_predecessor": False}, "model performance", "previous production"),
        ({"eval_passed": False}, "model performance", "ragline eval"),
        ({"fairness_measured": False}, "model performance", "data.protected"),
        ({"staged_before_production": False}, "deployment", "staging"),
        ({"rollback_ready": False}, "deployment", "roll back"),
        ({"forced_promotions": 1}, "deployment", "without --force"),
        ({"production_traced": False}, "deployment", "ragline ml train"),
        ({"recent_ledger_events": 0}, "monitoring", "7 days"),
        ({"alert_rows": 0}, "monitoring", "alert rules"),
        ({"drift_checks": 0}, "monitoring", "ragline monitor drift"),
        ({"owner": None}, "documentation", "experiment.owner"),
        ({"docs_present": False}, "documentation", "README"),
        ({"card_fields_on_run": False}, "documentation", "ragline ml card churn"),
        ({"budget_level": "warning"}, "cost efficiency", "80%"),
        ({"cost_per_1k": None}, "cost efficiency", "prediction"),
    ],
)
def test_each_point_is_lost_alone_with_its_hint(
    change: dict[str, object], name: str, hint: str
) -> None:
    d = dim(replace(FULL, **change), name)  # type: ignore[arg-type]
    assert d.score == MAX_POINTS - 1
    assert len(d.to_raise) == 1 and hint in d.to_raise[0], d.to_raise
    result = score_system(replace(FULL, **change))  # type: ignore[arg-type]
    assert result.total == 39
    assert result.total_100 == 100 - WEIGHTS[name] // MAX_POINTS  # one point of its weight


def test_no_production_loses_the_points_that_need_one() -> None:
    d = dim(replace(FULL, production_version=None, staged_before_production=False), "deployment")
    assert d.score == 2  # rollback target and lineage rest on other facts
    assert any("--to production" in h for h in d.to_raise)
    assert any("without --force" in h for h in d.to_raise)  # no production: nothing promoted


def test_a_first_production_version_needs_only_to_beat_the_baseline() -> None:
    first = replace(FULL, beats_predecessor=None)
    assert dim(first, "model performance").score == MAX_POINTS
    assert "first production version" in dim(first, "model performance").rests_on[1]
    assert dim(replace(first, beats_baseline=False), "model performance").score == 3
    assert dim(replace(first, production_version=None), "model performance").score == 4


@pytest.mark.parametrize(
    ("total", "forced", "score"),
    [(None, None, 0), (0, False, 1), (7, False, 1), (8, False, 2), (22, True, 2),
     (23, False, 4), (29, False, 4), (30, False, 5), (30, True, 4), (30, None, 4)],
)  # fmt: skip
def test_data_quality_maps_the_recorded_score(
    total: int | None, forced: bool | None, score: int
) -> None:
    d = dim(replace(FULL, quality_total=total, quality_forced=forced), "data quality")
    assert d.score == score
    assert (d.to_raise == []) == (score == MAX_POINTS)
    if forced:
        assert any("--force" in h for h in d.to_raise)


@pytest.mark.parametrize(
    ("budget", "level", "score"),
    [(None, None, 2), (Decimal(100), "critical", 3), (Decimal(100), "warning", 4)],
)
def test_cost_points_need_a_budget_and_spend_within_it(
    budget: Decimal | None, level: str | None, score: int
) -> None:
    d = dim(replace(FULL, budget_usd=budget, budget_level=level), "cost efficiency")
    assert d.score == score
    if budget is None:
        assert "set costs.ledger.monthly_budget_usd" in d.to_raise


def test_costs_need_ledger_events() -> None:
    d = dim(replace(FULL, ledger_events=0, cost_usd=Decimal(0)), "cost efficiency")
    assert d.score == 4 and "record costs" in d.to_raise[0]


def test_scoring_is_pure() -> None:
    assert score_system(FULL) == score_system(FULL)


def test_weights_sum_to_100_and_favour_data_evaluation_monitoring_over_documentation() -> None:
    assert sum(WEIGHTS.values()) == 100 and tuple(WEIGHTS) == DIMENSIONS
    for heavy in ("data quality", "experiment rigour", "model performance", "monitoring"):
        assert WEIGHTS[heavy] > WEIGHTS["documentation"], heavy


def test_losing_data_quality_costs_more_than_losing_documentation() -> None:
    no_docs = replace(FULL, owner=None, limitations=(), docs_present=False)
    no_data = replace(FULL, quality_total=15, quality_forced=True)
    assert dim(no_docs, "documentation").score == dim(no_data, "data quality").score == 2
    assert score_system(no_docs).total == score_system(no_data).total == 37
    assert score_system(no_docs).total_100 == 97  # 3 of documentation's 5
    assert score_system(no_data).total_100 == 88  # 3 x 4 of data quality's 20
    assert score_system(no_data).band == "minor gaps"


@pytest.mark.parametrize(
    ("total", "name"),
    [
        (100, "production-ready"),
        (90, "production-ready"),
        (89, "minor gaps"),
        (75, "minor gaps"),
        (74, "significant gaps"),
        (60, "significant gaps"),
        (59, "not ready"),
        (0, "not ready"),
    ],
)
def test_bands_cover_0_to_100_at_their_edges(total: int, name: str) -> None:
    assert band(total) == name
    assert name in dict((n, lo) for lo, n in BANDS)
