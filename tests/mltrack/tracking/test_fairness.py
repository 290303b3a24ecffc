"""The fairness gate: measured on synthetic decisions whose rates are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from ragline.mltrack.tracking.fairness import (
    FAIRNESS,
    FairnessEvidence,
    FairnessLimits,
    fairness_gate,
    measure_fairness,
)
from ragline.mltrack.tracking.gates import GateInputs, GoldenDelta, PrimaryMetric, check_gates

pytestmark = pytest.mark.unit
LIMITS = FairnessLimits(min_count=10)


def table(rate_a: float, rate_b: float, bias_b: float = 0.0) -> FairnessEvidence:
    """100 rows per group; group A selects `rate_a` of its rows, B `rate_b`; scores are the
    labels (calibrated), raised by `bias_b` on group B's negatives (still below 0.5)."""
    y = np.concatenate([np.arange(100) < rate_a * 100, np.arange(100) < rate_b * 100]) * 1.0
    score = np.clip(y + np.r_[np.zeros(100), np.full(100, bias_b)], 0, 1)
    return measure_fairness(y, score, {"sex": ["A"] * 100 + ["B"] * 100}, LIMITS)


def test_disparate_impact_below_the_limit_fails_naming_the_groups_and_ratio() -> None:
    evidence = table(0.5, 0.15)
    [attr] = evidence.attributes
    assert attr.disparate_impact == pytest.approx(0.3)
    assert fairness_gate(evidence) == (
        False,
        "disparate impact 0.30 for sex=B vs A is below 0.8",
    )


def test_equal_rates_pass_and_say_what_was_measured() -> None:
    passed, reason = fairness_gate(table(0.4, 0.4))
    assert passed and reason == "sex: disparate impact 1.00, calibration gap 0.000"


def test_a_group_scored_too_high_fails_on_the_calibration_gap() -> None:
    passed, reason = fairness_gate(table(0.4, 0.4, bias_b=0.15))
    assert not passed
    assert reason == "calibration gap 0.090 between sex=A and B is above 0.05"


def test_an_attribute_that_cannot_be_measured_fails_and_none_configured_passes() -> None:
    too_few = measure_fairness([1, 0], [0.9, 0.1], {"sex": ["A", "B"]}, FairnessLimits())
    assert too_few.attributes[0].disparate_impact is None
    passed, reason = fairness_gate(too_few)
    assert not passed and "sex: not measurable" in reason
    assert fairness_gate(None)[0] and fairness_gate(FairnessEvidence(LIMITS, ()))[0]


def test_evidence_round_trips_through_its_run_tag_and_feeds_check_gates() -> None:
    evidence = table(0.5, 0.15)
    assert FairnessEvidence.from_json(evidence.to_json()) == evidence
    inputs = GateInputs(PrimaryMetric("auc", candidate_ci=(0.9, 0.95)), (), 24, (), True, evidence)
    assert [r.name for r in check_gates(inputs).failed] == [FAIRNESS]


def test_golden_delta_decides_beats_production_on_the_shared_rows() -> None:
    def verdict(low: float, high: float) -> tuple[bool, str]:
        golden = GoldenDelta((low + high) / 2, low, high, rows=800)
        primary = PrimaryMetric("auc", candidate_ci=(0.1, 0.2), golden_delta=golden)
        [result] = check_gates(
            GateInputs(primary, (), 24, (), True), production_exists=True
        ).results[:1]
        return result.passed, result.reason

    assert verdict(0.01, 0.03) == (
        True,
        "auc candidate - production = 0.02 on the same 800 golden rows, 95% CI [0.01, 0.03]; "
        "needs the whole CI > 0",
    )
    assert not verdict(-0.01, 0.03)[0]
