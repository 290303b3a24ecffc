"""The fairness gate: disparate impact and per-group calibration gap on protected attributes.

    evidence = measure_fairness(y, scores, {"sex": sex_column}, FairnessLimits(), threshold=0.5)
    run.set_tags({FAIRNESS_TAG: evidence.to_json()})        # at train time, on the test split
    fairness_gate(FairnessEvidence.from_json(tags.get(FAIRNESS_TAG)))  # at promotion

Per attribute, over the groups with at least ``min_count`` rows: disparate impact is the lowest
selection rate (score >= threshold) over the highest, and must be at least
``min_disparate_impact`` (the 80% rule by default); the calibration gap is the spread of the
groups' calibration-in-the-large (mean score - positive rate), and must be at most
``max_calibration_gap``: a model that over-predicts for one group and under-predicts for another
fails even when its overall calibration looks fine. The limits are recorded with the evidence,
so the gate judges a model by the limits its config declared. A configured attribute that could
not be measured (fewer than two groups large enough, nobody selected) fails the gate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from ragline.evals.metrics.fairness import FOUR_FIFTHS, group_rates

FAIRNESS = "fairness"
FAIRNESS_TAG = "ragline.fairness"  # the evidence, as JSON, on the candidate's run


@dataclass(frozen=True, slots=True)
class FairnessLimits:
    """What the gate requires of every protected attribute.

    Example:
        >>> FairnessLimits().min_disparate_impact, FairnessLimits().max_calibration_gap
        (0.8, 0.05)
    """

    min_disparate_impact: float = FOUR_FIFTHS
    max_calibration_gap: float = 0.05
    min_count: int = 30


@dataclass(frozen=True, slots=True)
class AttributeFairness:
    """One attribute's numbers and the groups behind them (None: could not be measured).

    Example:
        >>> AttributeFairness("sex", 0.31, "Female", "Male", 0.02, "Female", "Male").attribute
        'sex'
    """

    attribute: str
    disparate_impact: float | None
    lowest_group: str | None  # lowest selection rate
    highest_group: str | None
    calibration_gap: float | None
    under_group: str | None  # lowest mean score - positive rate
    over_group: str | None


@dataclass(frozen=True, slots=True)
class FairnessEvidence:
    """The limits a model was trained under and what its test split measured.

    Example:
        >>> e = FairnessEvidence(FairnessLimits(), ())
        >>> FairnessEvidence.from_json(e.to_json()) == e
        True
    """

    limits: FairnessLimits
    attributes: tuple[AttributeFairness, ...]

    def to_json(self) -> str:
        """The evidence as a run tag value."""
        return json.dumps(
            {"limits": asdict(self.limits), "attributes": [asdict(a) for a in self.attributes]}
        )

    @classmethod
    def from_json(cls, text: str | None) -> FairnessEvidence | None:
        """Read a run tag back; None when the run recorded none (no protected attributes)."""
        if text is None:
            return None
        raw = json.loads(text)
        return cls(
            FairnessLimits(**raw["limits"]),
            tuple(AttributeFairness(**a) for a in raw["attributes"]),
        )


def _attribute(
    name: str,
    y: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    groups: npt.ArrayLike,
    limits: FairnessLimits,
    threshold: float,
) -> AttributeFairness:
    labels = np.asarray(groups).astype(str)
    decisions = (s >= threshold).astype(np.int64)
    every = group_rates(y.astype(np.int64), decisions, labels, min_count=limits.min_count)
    rates = [r for r in every if not r.too_small]
    di = low = high = gap = under = over = None
    if len(rates) >= 2:
        by_rate = sorted(rates, key=lambda r: r.selection_rate)
        if by_rate[-1].selection_rate > 0:
            di = by_rate[0].selection_rate / by_rate[-1].selection_rate
            low, high = by_rate[0].group, by_rate[-1].group
        errors = sorted(
            (float(s[labels == r.group].mean() - y[labels == r.group].mean()), r.group)
            for r in rates
        )
        gap, under, over = errors[-1][0] - errors[0][0], errors[0][1], errors[-1][1]
    return AttributeFairness(name, di, low, high, gap, under, over)


def measure_fairness(
    y_true: npt.ArrayLike,
    score: npt.ArrayLike,
    groups: Mapping[str, npt.ArrayLike],
    limits: FairnessLimits,
    *,
    threshold: float = 0.5,
) -> FairnessEvidence:
    """Disparate impact and calibration gap per protected attribute (`groups`: its value per
    row), binary labels 0/1 and positive-class scores.

    Example:
        >>> e = measure_fairness([0, 1, 0, 1], [0.2, 0.9, 0.1, 0.3], {"g": ["a", "a", "b", "b"]},
        ...                      FairnessLimits(min_count=1))
        >>> e.attributes[0].disparate_impact, e.attributes[0].lowest_group
        (0.0, 'b')
    """
    y, s = np.asarray(y_true, dtype=np.float64), np.asarray(score, dtype=np.float64)
    return FairnessEvidence(
        limits,
        tuple(_attribute(n, y, s, g, limits, threshold) for n, g in groups.items()),
    )


def _problems(a: AttributeFairness, limits: FairnessLimits) -> list[str]:
    if a.disparate_impact is None or a.calibration_gap is None:
        return [
            f"{a.attribute}: not measurable (fewer than two groups of {limits.min_count}+ test "
            "rows, or nobody selected); use more test rows or another attribute"
        ]
    out = []
    if a.disparate_impact < limits.min_disparate_impact:
        out.append(
            f"disparate impact {a.disparate_impact:.2f} for {a.attribute}={a.lowest_group} vs "
            f"{a.highest_group} is below {limits.min_disparate_impact:g}"
        )
    if a.calibration_gap > limits.max_calibration_gap:
        out.append(
            f"calibration gap {a.calibration_gap:.3f} between {a.attribute}={a.under_group} and "
            f"{a.over_group} is above {limits.max_calibration_gap:g}"
        )
    return out


def fairness_gate(evidence: FairnessEvidence | None) -> tuple[bool, str]:
    """(passed, reason) for the recorded evidence; no evidence means no protected attribute
    was configured (``fairness.protected`` in the training config), which passes saying so.

    Example:
        >>> fairness_gate(None)
        (True, 'no protected attributes configured (fairness.protected)')
    """
    if evidence is None or not evidence.attributes:
        return True, "no protected attributes configured (fairness.protected)"
    bad = [p for a in evidence.attributes for p in _problems(a, evidence.limits)]
    if bad:
        return False, "; ".join(bad)
    return True, "; ".join(
        f"{a.attribute}: disparate impact {a.disparate_impact:.2f}, calibration gap "
        f"{a.calibration_gap:.3f}"
        for a in evidence.attributes
    )
