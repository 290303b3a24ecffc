"""Promotion gates: hand-computed cases for every gate, passing and refusing, with reasons."""

from __future__ import annotations

import pytest

from ragline.mltrack.tracking.gates import (
    BEATS_PRODUCTION,
    DATA_QUALITY,
    EVAL_SUITE,
    GATES,
    GUARDRAILS,
    LEAKAGE,
    GateDecision,
    GateInputs,
    GateResult,
    Guardrail,
    PrimaryMetric,
    check_gates,
)

pytestmark = pytest.mark.unit

GOOD_PRIMARY = PrimaryMetric("auc", candidate_ci=(0.9, 0.95))


def make(
    p: PrimaryMetric = GOOD_PRIMARY,
    guardrails: tuple[Guardrail, ...] = (),
    quality_score: int | None = 24,
    leakage_findings: tuple[str, ...] | None = (),
    eval_suite_passed: bool | None = True,
) -> GateInputs:
    """Inputs that pass every gate except where a test says otherwise."""
    return GateInputs(p, guardrails, quality_score, leakage_findings, eval_suite_passed)


def gate(
    inputs: GateInputs, name: str, min_quality: int = 18, production_exists: bool | None = None
) -> GateResult:
    decision = check_gates(
        inputs, min_quality=min_quality, production_exists=production_exists, resamples=500
    )
    assert [r.name for r in decision.results] == list(GATES)
    return next(r for r in decision.results if r.name == name)


def primary(p: PrimaryMetric, production_exists: bool | None = None) -> GateResult:
    return gate(make(p), BEATS_PRODUCTION, production_exists=production_exists)


# --- beats-production, paired -----------------------------------------------------------------


def test_paired_constant_improvement_has_a_point_ci_above_zero() -> None:
    # every difference is 0.02, so every resample's mean is 0.02: the CI is [0.02, 0.02]
    result = primary(PrimaryMetric("auc", (0.82, 0.83, 0.84, 0.85), (0.80, 0.81, 0.82, 0.83)))
    assert result.passed
    assert "candidate - production = 0.02" in result.reason
    assert "CI [0.02, 0.02] over 4 paired values" in result.reason


def test_paired_all_positive_differences_pass() -> None:
    # differences 0.01..0.04: a resample's mean is at least the smallest difference, 0.01 > 0
    result = primary(PrimaryMetric("auc", (0.81, 0.82, 0.83, 0.84), (0.80, 0.80, 0.80, 0.80)))
    assert result.passed, result.reason


def test_paired_ci_straddling_zero_refuses() -> None:
    # differences +0.05, -0.05, +0.05, -0.05: mean 0, and the resample with every item drawn
    # from the -0.05 pairs is as likely as the +0.05 one, so the CI's low end is below 0
    result = primary(PrimaryMetric("auc", (0.85, 0.75, 0.85, 0.75), (0.80, 0.80, 0.80, 0.80)))
    assert not result.passed
    assert "candidate - production = 0" in result.reason
    assert "needs the whole CI > 0" in result.reason


def test_paired_worse_candidate_refuses() -> None:
    result = primary(PrimaryMetric("auc", (0.70, 0.71, 0.72), (0.80, 0.81, 0.82)))
    assert not result.passed
    assert "candidate - production = -0.1" in result.reason


def test_paired_min_improvement_is_required() -> None:
    p = PrimaryMetric("auc", (0.81, 0.82), (0.80, 0.81), min_improvement=0.02)  # +0.01 each
    result = primary(p)
    assert not result.passed
    assert "needs the whole CI > 0.02" in result.reason


def test_paired_lower_is_better() -> None:
    faster = PrimaryMetric("rmse", (2.0, 3.0, 4.0), (2.5, 3.5, 4.5), higher_is_better=False)
    slower = PrimaryMetric("rmse", (3.0, 4.0, 5.0), (2.5, 3.5, 4.5), higher_is_better=False)
    assert primary(faster).passed  # differences all -0.5 < 0
    refused = primary(slower)
    assert not refused.passed
    assert "needs the whole CI < 0" in refused.reason


def test_paired_length_mismatch_refuses_with_fix() -> None:
    result = primary(PrimaryMetric("auc", (0.9, 0.9, 0.9), (0.8, 0.8)))
    assert not result.passed
    assert "3 candidate values but 2 production values" in result.reason


def test_paired_needs_two_values() -> None:
    result = primary(PrimaryMetric("auc", (0.9,), (0.8,)))
    assert not result.passed
    assert "need at least 2 paired values, got 1" in result.reason


# --- beats-production, candidate CI against a production value --------------------------------


def test_candidate_ci_above_production_value_passes() -> None:
    result = primary(PrimaryMetric("auc", candidate_ci=(0.81, 0.85), production_value=0.80))
    assert result.passed
    assert "candidate CI [0.81, 0.85] vs production 0.8" in result.reason


def test_candidate_ci_touching_production_value_refuses() -> None:
    result = primary(PrimaryMetric("auc", candidate_ci=(0.79, 0.85), production_value=0.80))
    assert not result.passed
    assert "needs the whole CI > 0.8" in result.reason


def test_candidate_ci_with_min_improvement() -> None:
    p = PrimaryMetric("auc", candidate_ci=(0.81, 0.85), production_value=0.80, min_improvement=0.02)
    result = primary(p)
    assert not result.passed
    assert "needs the whole CI > 0.82" in result.reason


def test_candidate_ci_lower_is_better() -> None:
    ok = PrimaryMetric(
        "mae", candidate_ci=(0.1, 0.2), production_value=0.25, higher_is_better=False
    )
    bad = PrimaryMetric(
        "mae", candidate_ci=(0.1, 0.3), production_value=0.25, higher_is_better=False
    )
    assert primary(ok).passed
    assert not primary(bad).passed


def test_candidate_ci_is_bootstrapped_from_values() -> None:
    # identical candidate values: the bootstrap CI is [0.9, 0.9]
    result = primary(PrimaryMetric("auc", candidate=(0.9, 0.9, 0.9), production_value=0.85))
    assert result.passed
    assert "candidate CI [0.9, 0.9]" in result.reason


def test_production_value_without_candidate_evidence_refuses() -> None:
    result = primary(PrimaryMetric("auc", candidate=(0.9,), production_value=0.85))
    assert not result.passed
    assert "pass candidate_ci or at least 2" in result.reason


# --- beats-production, first promotion ---------------------------------------------------------


def test_first_promotion_passes_with_its_reason() -> None:
    result = primary(PrimaryMetric("auc", candidate_ci=(0.7, 0.8)))
    assert result.passed
    assert result.reason == "no production version yet: first promotion"


def test_missing_production_evidence_refuses_when_production_exists() -> None:
    result = primary(PrimaryMetric("auc", candidate_ci=(0.7, 0.8)), production_exists=True)
    assert not result.passed
    assert "a production version exists but no production auc was given" in result.reason


# --- guardrails --------------------------------------------------------------------------------


def guard(*guards: Guardrail) -> GateResult:
    return gate(make(guardrails=guards), GUARDRAILS)


def test_guardrail_regression_within_allowance_passes() -> None:
    # 0.72 -> 0.70 regresses by exactly the allowed 0.02 (float noise must not refuse it)
    result = guard(Guardrail("recall", 0.70, 0.72, max_regression=0.02))
    assert result.passed
    assert "regression 0.02 (allowed 0.02)" in result.reason


def test_guardrail_regression_over_allowance_refuses() -> None:
    result = guard(
        Guardrail("recall", 0.70, 0.72, max_regression=0.01),
        Guardrail("precision", 0.90, 0.80),  # improved: fine
    )
    assert not result.passed
    assert result.reason == "regressed: recall 0.7 vs 0.72: regression 0.02 (allowed 0.01)"


def test_guardrail_lower_is_better() -> None:
    latency_ok = Guardrail("p95_ms", 48.0, 45.0, max_regression=5.0, higher_is_better=False)
    latency_bad = Guardrail("p95_ms", 48.0, 45.0, max_regression=2.0, higher_is_better=False)
    assert guard(latency_ok).passed
    refused = guard(latency_bad)
    assert not refused.passed
    assert "p95_ms 48 vs 45: regression 3 (allowed 2)" in refused.reason


def test_guardrail_without_production_value_and_none_declared() -> None:
    assert guard(Guardrail("recall", 0.5, None)).passed
    assert guard().reason == "no guardrail metrics declared"


# --- data quality, leakage, eval suite ----------------------------------------------------------


def test_quality_boundary_and_refusal() -> None:
    assert gate(make(quality_score=18), DATA_QUALITY).passed  # 18 >= 18
    refused = gate(make(quality_score=17), DATA_QUALITY)
    assert not refused.passed
    assert "score 17/30 is under the minimum 18" in refused.reason
    assert not gate(make(quality_score=None), DATA_QUALITY).passed


def test_quality_threshold_comes_from_the_caller() -> None:
    assert not gate(make(), DATA_QUALITY, min_quality=25).passed  # 24 < 25


def test_leakage_findings_refuse_and_are_listed() -> None:
    assert gate(make(), LEAKAGE).reason == "leakage checks clean"
    found = ("target proxy: 'refund_issued'", "row overlap 3%")
    refused = gate(make(leakage_findings=found), LEAKAGE)
    assert not refused.passed
    assert refused.reason == "2 leakage finding(s): target proxy: 'refund_issued'; row overlap 3%"
    unchecked = gate(make(leakage_findings=None), LEAKAGE)
    assert not unchecked.passed
    assert "not run" in unchecked.reason


def test_eval_suite() -> None:
    assert gate(make(), EVAL_SUITE).passed
    assert gate(make(eval_suite_passed=False), EVAL_SUITE).reason == "eval suite failed"
    assert not gate(make(eval_suite_passed=None), EVAL_SUITE).passed


# --- the decision ------------------------------------------------------------------------------


def test_decision_passes_only_when_every_gate_passes() -> None:
    assert check_gates(make(PrimaryMetric("auc", (0.9, 0.91), (0.8, 0.81)))).passed
    bad = GateInputs(
        PrimaryMetric("auc", (0.9, 0.91), (0.8, 0.81)),
        quality_score=10,
        leakage_findings=("x",),
        eval_suite_passed=True,
    )
    decision = check_gates(bad)
    assert not decision.passed
    assert [r.name for r in decision.failed] == [DATA_QUALITY, LEAKAGE]
    assert decision.summary().splitlines()[2].startswith("FAILED data-quality: score 10/30")


def test_summary_format() -> None:
    decision = GateDecision((GateResult("a", True, "fine"), GateResult("b", False, "broken")))
    assert decision.summary() == "ok a: fine\nFAILED b: broken"
