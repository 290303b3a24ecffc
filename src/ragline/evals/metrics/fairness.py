"""Group fairness for binary decisions: per-group rates, disparate impact, equal opportunity.

Groups with fewer than ``min_count`` members are reported but flagged ``too_small`` and left out of
the summary numbers, because a rate over a handful of people swings the ratio on noise. A rate
that cannot be measured (TPR in a group with no actual positives, FPR with no negatives) is None.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FOUR_FIFTHS: float = 0.8  # the US EEOC "80% rule" for adverse impact


@dataclass(frozen=True, slots=True)
class GroupRates:
    """Decision rates of one group; ``tpr``/``fpr`` are None without actual positives/negatives.

    Example:
        >>> rates = group_rates([1, 0, 1], [1, 1, 0], ["a", "a", "b"], min_count=1)
        >>> rates[0].group, rates[0].selection_rate, rates[0].tpr
        ('a', 1.0, 1.0)
    """

    group: str
    count: int
    positives: int  # actual positives (y_true == pos_label)
    selected: int  # predicted positives
    selection_rate: float
    tpr: float | None
    fpr: float | None
    accuracy: float
    too_small: bool


@dataclass(frozen=True, slots=True)
class FairnessReport:
    """Per-group rates and the summary gaps over the groups large enough to judge.

    ``disparate_impact`` is min/max selection rate (None when fewer than two groups qualify or no
    group is selected at all); ``passes_80_rule`` is ``disparate_impact >= 0.8``;
    ``equal_opportunity_difference`` is max TPR - min TPR over qualifying groups with a TPR.

    Example:
        >>> report = fairness_report([1, 0, 1, 0], [1, 1, 1, 0], ["a", "a", "b", "b"], min_count=2)
        >>> report.disparate_impact, report.passes_80_rule
        (0.5, False)
    """

    groups: tuple[GroupRates, ...]
    disparate_impact: float | None
    passes_80_rule: bool | None
    equal_opportunity_difference: float | None
    min_count: int
    excluded: tuple[str, ...]  # groups flagged too_small, left out of the summary numbers


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def group_rates(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    groups: Sequence[Hashable] | npt.ArrayLike,
    *,
    pos_label: Hashable = 1,
    min_count: int = 30,
) -> tuple[GroupRates, ...]:
    """Rates per group (sorted by group name); groups under ``min_count`` are flagged."""
    t, p, g = np.asarray(y_true), np.asarray(y_pred), np.asarray(groups)
    if not (t.ndim == p.ndim == g.ndim == 1 and t.shape == p.shape == g.shape):
        raise ValueError(
            "fairness: y_true, y_pred and groups must be 1-D and of equal length, got shapes "
            f"{t.shape}, {p.shape}, {g.shape}"
        )
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    actual, chosen = t == pos_label, p == pos_label
    names = g.astype(str)
    out: list[GroupRates] = []
    for name in sorted(set(names.tolist())):
        m = names == name
        a, c = actual[m], chosen[m]
        n, n_pos = int(m.sum()), int(a.sum())
        out.append(
            GroupRates(
                group=name,
                count=n,
                positives=n_pos,
                selected=int(c.sum()),
                selection_rate=float(c.mean()),
                tpr=_rate(int((a & c).sum()), n_pos),
                fpr=_rate(int((~a & c).sum()), n - n_pos),
                accuracy=float((a == c).mean()),
                too_small=n < min_count,
            )
        )
    return tuple(out)


def disparate_impact(rates: Sequence[GroupRates]) -> float | None:
    """min / max selection rate over the groups not flagged too small; None if undefined."""
    sel = [r.selection_rate for r in rates if not r.too_small]
    if len(sel) < 2 or max(sel) == 0.0:
        return None
    return min(sel) / max(sel)


def equal_opportunity_difference(rates: Sequence[GroupRates]) -> float | None:
    """max TPR - min TPR over the groups not flagged too small that have a TPR; None if < 2."""
    tprs = [r.tpr for r in rates if not r.too_small and r.tpr is not None]
    if len(tprs) < 2:
        return None
    return max(tprs) - min(tprs)


def fairness_report(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    groups: Sequence[Hashable] | npt.ArrayLike,
    *,
    pos_label: Hashable = 1,
    min_count: int = 30,
) -> FairnessReport:
    """Per-group rates plus disparate impact (80% rule) and the equal-opportunity difference."""
    rates = group_rates(y_true, y_pred, groups, pos_label=pos_label, min_count=min_count)
    ratio = disparate_impact(rates)
    return FairnessReport(
        groups=rates,
        disparate_impact=ratio,
        passes_80_rule=None if ratio is None else ratio >= FOUR_FIFTHS,
        equal_opportunity_difference=equal_opportunity_difference(rates),
        min_count=min_count,
        excluded=tuple(r.group for r in rates if r.too_small),
    )
