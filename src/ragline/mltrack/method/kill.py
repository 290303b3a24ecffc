"""Kill criteria of a problem brief, checked against recorded experiments.

    report = check_kill_criteria(brief, recorded_evidence(tracker), brief_dataset(brief))
    [(c.criterion.kind, c.status) for c in report.checks]   # [("baseline_ratio", "not_met"), ...]

Kill criteria are evaluated against the best finished experiment that records the brief's success
metric as its primary metric (ragline.mltrack.tracking.experiments) and predicts the brief's
target (``prediction.target``) from the brief's table (``data.path``, compared by content hash;
`brief_dataset`): a run of another target or dataset says nothing about this project, and is left
out (a run that did not record its target or dataset is kept). A criterion is ``met`` (stop or
rethink the project), ``not_met``, or ``no_evidence`` (nothing recorded yet, or a number it needs is
missing); each check says why, with the numbers. The kinds:

=================  ==========================================================================
baseline_ratio     the baseline reaches more than `threshold` of the model's metric
                   (baseline / model; for error metrics model / baseline). The baseline is
                   the brief's ``baseline.metric_value`` when given, else the run's recorded one
beats_random_by    the model closes less than `threshold` of the gap from chance to a perfect
                   score: (model - chance) / (perfect - chance). ROC-AUC: chance 0.5, so 0.10
                   means AUC < 0.55; error metrics: the relative error reduction. Chance is
                   `random_value`, else the metric's (ROC-AUC 0.5, R² 0), else the run's
                   majority/mean baseline
metric_below       the model's metric is worse than `threshold` (below it; above for errors)
not_significant    the CI of (model - recorded baseline) is not entirely on the better side of 0
=================  ==========================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragline.mltrack.method.brief import METRIC_SCALES, KillCriterion, KillStatus, ProblemBrief

if TYPE_CHECKING:
    from ragline.mltrack.tracking.experiments import ExperimentRecord, Tracker

_NO_SKILL_BASELINES = frozenset({"majority", "mean"})  # they predict chance on purpose


@dataclass(frozen=True, slots=True)
class Evidence:
    """One finished experiment's holdout numbers, as the kill criteria read them.

    Example:
        >>> Evidence("EXP-2026-11-26-001", "roc_auc", 0.91, 0.5, "majority").baseline_value
        0.5
    """

    experiment_id: str
    metric: str
    value: float
    baseline_value: float | None = None
    baseline_kind: str | None = None
    delta_ci: tuple[float, float] | None = None
    target: str | None = None  # the column the run predicted (its data.target param)
    dataset: str | None = None  # the run's dataset_version (a content hash)


def evidence_from_record(record: ExperimentRecord) -> Evidence | None:
    """The numbers of a finished run (None when it has no outcome or its metric is NaN)."""
    outcome = record.outcome
    if outcome is None or math.isnan(outcome.primary.value):
        return None
    param = record.plan.params.get("data.target")
    target = param if isinstance(param, str) else None
    dataset = record.plan.dataset_version or None
    base = outcome.baseline
    if base is None:
        return Evidence(
            record.id, outcome.primary.name, outcome.primary.value, target=target, dataset=dataset
        )
    ci = None
    if base.ci_low is not None and base.ci_high is not None:
        ci = (base.ci_low, base.ci_high)
    return Evidence(
        record.id,
        outcome.primary.name,
        outcome.primary.value,
        outcome.primary.value - base.delta,  # the delta is model - baseline
        base.baseline_id.removeprefix("baseline:"),
        ci,
        target=target,
        dataset=dataset,
    )


def brief_dataset(brief: ProblemBrief) -> str | None:
    """The content hash of the brief's table (``data.path``), as runs record theirs; None
    when the brief names no table or it is not there."""
    path = brief.data.path
    if path is None or not path.is_file():
        return None
    from ragline.mltrack.tracking.experiments import dataset_version

    return dataset_version(path)


def recorded_evidence(
    tracker: Tracker, ids: Sequence[str] = (), limit: int = 500
) -> tuple[Evidence, ...]:
    """Evidence from the tracker's finished runs: the runs `ids`, or the newest `limit`."""
    records = [tracker.get(i) for i in ids] if ids else tracker.list(limit=limit)
    found = (evidence_from_record(r) for r in records)
    return tuple(e for e in found if e is not None)


@dataclass(frozen=True, slots=True)
class KillCheck:
    """One criterion's status against the evidence, and why (with the numbers)."""

    criterion: KillCriterion
    status: KillStatus
    reason: str


@dataclass(frozen=True, slots=True)
class KillReport:
    """Every criterion's check, and the experiment they were checked against.

    Example:
        >>> report = check_kill_criteria(brief, evidence)  # doctest: +SKIP
        >>> [c.criterion.kind for c in report.met]  # doctest: +SKIP
        ['beats_random_by']
    """

    checks: tuple[KillCheck, ...]
    evidence: Evidence | None
    considered: int
    left_out: tuple[str, ...] = ()  # runs of the metric on another target or dataset

    @property
    def met(self) -> tuple[KillCheck, ...]:
        """The criteria that say stop."""
        return tuple(c for c in self.checks if c.status == "met")


def _same_problem(e: Evidence, target: str, dataset: str | None) -> bool:
    """True unless the run recorded another target, or another dataset than `dataset`."""
    if e.target is not None and e.target != target:
        return False
    return dataset is None or e.dataset is None or e.dataset == dataset


def check_kill_criteria(
    brief: ProblemBrief, evidence: Sequence[Evidence], dataset: str | None = None
) -> KillReport:
    """Check each kill criterion against the best run that records the success metric on the
    brief's target and, when `dataset` (`brief_dataset`) is given, on that dataset."""
    name, higher = brief.success_metric.metric, brief.success_metric.higher
    target = brief.prediction.target
    scored = [e for e in evidence if e.metric == name]
    relevant = [e for e in scored if _same_problem(e, target, dataset)]
    left_out = tuple(e.experiment_id for e in scored if e not in relevant)
    if not relevant:
        others = sorted({e.metric for e in evidence})
        why = f"no finished experiment records {name} as its primary metric"
        if left_out:
            why = (
                f"no finished experiment records {name} for {target!r} on the brief's table; "
                f"left out {len(left_out)} run(s) of another target or dataset "
                f"({', '.join(left_out[:5])})"
            )
        else:
            why += f" (found: {', '.join(others)})" if others else " (none recorded yet)"
        checks = tuple(KillCheck(c, "no_evidence", why) for c in brief.kill_criteria)
        return KillReport(checks, None, 0, left_out)
    # the best run: if even it meets a criterion, the project (not one run) is the problem
    best = max(relevant, key=lambda e: e.value if higher else -e.value)
    checks = tuple(_check(c, best, brief) for c in brief.kill_criteria)
    return KillReport(checks, best, len(relevant), left_out)


def _check(criterion: KillCriterion, e: Evidence, brief: ProblemBrief) -> KillCheck:
    higher = brief.success_metric.higher
    if criterion.kind == "baseline_ratio":
        status, reason = _baseline_ratio(criterion, e, brief.baseline.metric_value, higher)
    elif criterion.kind == "beats_random_by":
        status, reason = _beats_random(criterion, e, higher)
    elif criterion.kind == "metric_below":
        t = criterion.threshold or 0.0
        worse = e.value < t if higher else e.value > t
        side = "below" if higher else "above"
        status = "met" if worse else "not_met"
        reason = f"{e.metric} {e.value:.4f} in {e.experiment_id}; kill {side} {t:g}"
    else:
        status, reason = _not_significant(e, higher)
    return KillCheck(criterion, status, reason)


def _baseline_ratio(
    criterion: KillCriterion, e: Evidence, stated: float | None, higher: bool
) -> tuple[KillStatus, str]:
    base = stated if stated is not None else e.baseline_value
    source = "the brief's baseline" if stated is not None else f"the {e.baseline_kind} baseline"
    if base is None:
        return "no_evidence", f"{e.experiment_id} recorded no baseline; set baseline.metric_value"
    top, bottom = (base, e.value) if higher else (e.value, base)
    if bottom <= 0:
        return "no_evidence", f"{e.metric} {bottom:.4f} leaves the ratio undefined"
    ratio, t = top / bottom, criterion.threshold or 0.0
    status: KillStatus = "met" if ratio > t else "not_met"
    return status, (
        f"{source} reaches {ratio:.1%} of the model's {e.metric} ({base:.4f} vs {e.value:.4f} "
        f"in {e.experiment_id}); kill above {t:.0%}"
    )


def _beats_random(criterion: KillCriterion, e: Evidence, higher: bool) -> tuple[KillStatus, str]:
    scale = METRIC_SCALES.get(e.metric)
    chance = criterion.random_value
    if chance is None and scale is not None:
        chance = scale[2]
    if chance is None and e.baseline_kind in _NO_SKILL_BASELINES:
        chance = e.baseline_value
    if chance is None:
        return "no_evidence", f"no chance level for {e.metric}; set random_value on the criterion"
    gain = e.value - chance if higher else chance - e.value
    room = abs(scale[1] - chance) if scale is not None else abs(chance)
    if room == 0:
        return "no_evidence", f"chance level {chance:g} is already a perfect {e.metric}"
    lift, t = gain / room, criterion.threshold or 0.0
    status: KillStatus = "met" if lift < t else "not_met"
    return status, (
        f"{e.metric} {e.value:.4f} in {e.experiment_id} vs chance {chance:.4f}: the model closes "
        f"{lift:.1%} of the gap to a perfect score; kill below {t:.0%}"
    )


def _not_significant(e: Evidence, higher: bool) -> tuple[KillStatus, str]:
    if e.delta_ci is None:
        return "no_evidence", f"{e.experiment_id} recorded no CI of its gain over a baseline"
    low, high = e.delta_ci
    # a CI on the worse side of 0 also meets it: the model is then significantly worse
    unclear = low <= 0 if higher else high >= 0
    status: KillStatus = "met" if unclear else "not_met"
    side = "above" if higher else "below"
    return status, (
        f"{e.metric} minus the {e.baseline_kind} baseline's in {e.experiment_id}: CI "
        f"[{low:+.4f}, {high:+.4f}] is {'not ' if unclear else ''}entirely {side} 0"
    )
