"""The pipeline's stages up to registration, each a function of the run's context.

    check = quality(ctx)          # Check("passed", {"score": 27.0, "min": 18.0}, "27/30 ...")

Each stage returns a `Check` (status, the numbers it judged, one line saying why); the runner
times it, records it and stops the run at a failed one. What they call is what `ragline ml`
calls: the data-quality score and its threshold (`ml.min_quality`), the leakage checks on the
split and features (before any model is fitted), `train_job` (which also scores quality and
re-runs the leakage checks on what it fitted, and registers the model in development), the
golden rows, the fairness evidence training recorded, and the staging promotion with its
gates (`promote_job`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ragline.mltrack.data.leakage import LeakageReport
from ragline.mltrack.errors import GateRefused, MltrackError
from ragline.mltrack.pipeline.config import PipelineConfig
from ragline.mltrack.pipeline.golden import golden_score
from ragline.mltrack.pipeline.record import RunRecord, StageStatus
from ragline.mltrack.tabular.config import TrainConfig
from ragline.mltrack.tabular.jobs import TrainOutcome
from ragline.mltrack.tabular.train import Prepared
from ragline.serving.settings import Settings

__all__ = ["Check", "Context", "fairness", "golden", "leakage", "quality", "register", "train"]


@dataclass(frozen=True, slots=True)
class Check:
    """A stage's outcome before it is timed and recorded.

    Example:
        >>> Check("failed", {"findings": 2.0}, "2 leakage findings").status
        'failed'
    """

    status: StageStatus
    numbers: dict[str, float] = field(default_factory=dict)
    detail: str = ""


@dataclass
class Context:
    """What the stages of one run share: settings, configs, the record so far, and (in the
    process that trained) the training's outcome.

    Example:
        >>> Context(settings, config, train, record, say=print).model  # doctest: +SKIP
        ('adult-income', 4)
    """

    settings: Settings
    config: PipelineConfig
    train: TrainConfig
    record: RunRecord
    say: Callable[[str], None]
    outcome: TrainOutcome | None = None
    checked: tuple[Prepared, LeakageReport] | None = None  # the leakage stage's, for training

    @property
    def model(self) -> tuple[str, int]:
        """(name, version) of the candidate; MltrackError before training registered it."""
        if self.record.model is None or self.record.version is None:
            raise MltrackError(f"run {self.record.id} has no registered model version yet")
        return self.record.model, self.record.version


def quality(ctx: Context) -> Check:
    """The data-quality score (0-30) against `ml.min_quality`.

    Example:
        >>> quality(ctx).numbers  # doctest: +SKIP
        {'score': 27.0, 'min': 18.0}
    """
    from ragline.mltrack.data.quality import QualitySpec, score_quality
    from ragline.mltrack.tabular.data import load_frame

    spec = ctx.train.quality or QualitySpec(target=ctx.train.data.target)
    report = score_quality(load_frame(ctx.train.data), spec)
    minimum = ctx.settings.ml.min_quality
    numbers = {"score": float(report.total), "min": float(minimum)}
    status: StageStatus = "passed" if report.passed(minimum) else "failed"
    return Check(status, numbers, f"{report.headline()}; minimum {minimum}")


def leakage(ctx: Context) -> Check:
    """The leakage checks on the split and the fitted features (no model yet). The table is
    loaded, split and its features fitted here (`prepare_s`), for training to reuse.

    Example:
        >>> leakage(ctx).detail  # doctest: +SKIP
        'clean (split_after_engineering, ...)'
    """
    from ragline.mltrack.tabular.jobs import leakage_report
    from ragline.mltrack.tabular.train import prepare

    started = time.perf_counter()
    prepared = prepare(ctx.train)  # training's own first step, done here once
    prepare_s = time.perf_counter() - started
    report = leakage_report(ctx.train, prepared)
    ctx.checked = (prepared, report)  # training reuses both: the same rows, split and fit
    numbers = {"findings": float(len(report.findings)), "prepare_s": round(prepare_s, 3)}
    if report.clean:
        return Check("passed", numbers, f"clean ({', '.join(report.checks)})")
    return Check("failed", numbers, "; ".join(str(f) for f in report.findings))


def train(ctx: Context) -> Check:
    """`train_job` into ``<data_dir>/ml_runs/<run id>``; the model is registered in
    development; training compute goes to the cost ledger as `ragline ml train` records it.

    Example:
        >>> train(ctx).numbers["roc_auc"]  # doctest: +SKIP
        0.9267
    """
    from ragline.mltrack.tabular.jobs import train_job
    from ragline.serving.services.training import record_training

    settings, started = ctx.settings, time.perf_counter()
    folder = settings.data_dir / "ml_runs" / ctx.record.id
    outcome = train_job(
        ctx.train, settings.ml, settings.data_dir, folder, say=ctx.say, checked=ctx.checked
    )
    ctx.outcome = outcome
    ctx.record = replace(ctx.record, run_id=outcome.run_id)
    v, result = outcome.version, outcome.result
    model = ctx.train.model.kind if v is None else f"{v.name}:{v.version}"
    record_training(settings, model, time.perf_counter() - started, run_id=outcome.run_id)
    agg = result.metrics[result.primary]
    numbers = {result.primary: agg.value if agg.value is not None else float("nan")}
    if agg.ci_low is not None and agg.ci_high is not None:
        numbers |= {
            f"{result.primary}.ci_low": agg.ci_low,
            f"{result.primary}.ci_high": agg.ci_high,
        }
    detail = f"experiment {outcome.experiment_id} ({outcome.verdict}), {model}"
    if not outcome.leakage.clean:
        found = "; ".join(str(f) for f in outcome.leakage.findings)
        return Check("failed", numbers, f"{detail}; leakage in what training fitted: {found}")
    if v is None:
        return Check("failed", numbers, f"{detail}; not registered: set experiment.register_as")
    ctx.record = replace(ctx.record, model=v.name, version=v.version)
    return Check("passed", numbers, detail)


def golden(ctx: Context) -> Check:
    """The candidate's primary metric on the shared golden rows, against golden.min_primary.
    Its paired difference with production on the same rows is the register stage's
    beats-production gate (`promote_job`), so it is not computed twice.

    Example:
        >>> golden(ctx).detail  # doctest: +SKIP
        'roc_auc 0.9247 [0.9119, 0.9366] on 2000 golden rows (adult-golden.csv)'
    """
    path = ctx.train.golden
    if path is None:
        return Check("skipped", {}, "no golden set (golden: in the pipeline or training config)")
    if ctx.outcome is None:
        raise MltrackError("the golden stage needs the training of this run")
    metric = ctx.outcome.result.primary
    resamples = ctx.config.golden.resamples if ctx.config.golden is not None else 200
    score = golden_score(ctx.outcome.result.artifact_dir, path, metric, resamples)
    numbers = {metric: score.value, "rows": float(score.rows)}
    ci = "" if score.ci_low is None else f" [{score.ci_low:.4f}, {score.ci_high:.4f}]"
    detail = f"{metric} {score.value:.4f}{ci} on {score.rows} golden rows ({Path(path).name})"
    floor = ctx.config.golden.min_primary if ctx.config.golden is not None else None
    if floor is not None:
        numbers["min"] = floor
        if score.value < floor:
            return Check("failed", numbers, f"{detail}; below the minimum {floor}")
    return Check("passed", numbers, detail)


def fairness(ctx: Context) -> Check:
    """The fairness gate on the evidence training recorded (test split, configured limits).

    Example:
        >>> fairness(ctx).numbers["disparate_impact.sex"]  # doctest: +SKIP
        0.307
    """
    from ragline.mltrack.tracking.experiments import Tracker
    from ragline.mltrack.tracking.fairness import FAIRNESS_TAG, FairnessEvidence, fairness_gate

    if ctx.record.run_id is None:
        raise MltrackError("the fairness stage needs the training run of this run")
    with Tracker(ctx.settings.ml, ctx.settings.data_dir) as tracker:
        _, tags = tracker.for_run(ctx.record.run_id)
    evidence = FairnessEvidence.from_json(tags.get(FAIRNESS_TAG))
    passed, reason = fairness_gate(evidence)
    if evidence is None or not evidence.attributes:
        return Check("skipped", {}, reason)
    numbers: dict[str, float] = {"min_disparate_impact": evidence.limits.min_disparate_impact}
    for a in evidence.attributes:
        if a.disparate_impact is not None:
            numbers[f"disparate_impact.{a.attribute}"] = a.disparate_impact
        if a.calibration_gap is not None:
            numbers[f"calibration_gap.{a.attribute}"] = a.calibration_gap
    return Check("passed" if passed else "failed", numbers, reason)


def register(ctx: Context) -> Check:
    """Promote the candidate to staging; every gate is checked (a refusal names them).

    Example:
        >>> register(ctx).detail  # doctest: +SKIP
        'adult-income:4 in staging; gates passed'
    """
    from ragline.mltrack.tabular.jobs import promote_job

    name, version = ctx.model
    settings = ctx.settings
    try:
        decision = promote_job(name, version, "staging", settings.ml, settings.data_dir)
    except GateRefused as exc:
        return Check("failed", {}, str(exc).replace("\n", " "))
    numbers = {"gates_passed": float(sum(r.passed for r in decision.results))}
    return Check("passed", numbers, f"{name}:{version} in staging; gates passed")
