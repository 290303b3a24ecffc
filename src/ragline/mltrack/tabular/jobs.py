"""What `ragline ml train` and `ragline ml promote` do, end to end, as plain functions.

    outcome = train_job(config, MltrackConfig(), Path(".ragline"), out_dir, force=False)
    outcome.experiment_id, outcome.version, outcome.quality.total, outcome.leakage.clean
    decision = promote_job("adult-income", 3, "staging", MltrackConfig(), Path(".ragline"))

Training: score the data's quality and refuse below `min_quality` (unless forced); open an
experiment; train (baseline first, tuning when asked); run the leakage checks on what the
training fitted; record the verdict (``iterate`` when the model beats its baseline on the test
split with a CI that excludes 0, else ``archived``); register the model in development when the
config names `experiment.register_as` and no leakage was found, as an MLflow pyfunc model
(``mlflow.pyfunc.load_model("models:/NAME@production")`` and ``mlflow models serve`` load it).
Everything a gate needs later is stored on the experiment: the quality score, the leakage
findings, the test metrics with their CIs and whether the model beat its baseline (the
classical "eval suite").

Promotion: gather the candidate's evidence and production's, check the gates, move the alias,
and mark the candidate's experiment ``promoted`` when it reaches production.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ragline.evals.result import Aggregate
from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.data.leakage import FitRecord, LeakageInputs, LeakageReport, run_all
from ragline.mltrack.data.quality import QualityReport, QualitySpec, require_quality, score_quality
from ragline.mltrack.errors import MltrackError
from ragline.mltrack.forecast.lags import own_past_features
from ragline.mltrack.tabular.config import MAXIMISED, MetricsSpec, TrainConfig
from ragline.mltrack.tabular.data import load_frame
from ragline.mltrack.tabular.evaluate import EvalReport, evaluate
from ragline.mltrack.tabular.features import FeaturePipeline, as_categories
from ragline.mltrack.tabular.features import FitRecord as TabularFitRecord
from ragline.mltrack.tabular.models import TabularModel
from ragline.mltrack.tabular.score import golden_delta
from ragline.mltrack.tabular.train import Prepared, TrainResult, prepare, train
from ragline.mltrack.tracking.experiment_run import ActiveRun, BaselineDelta, MetricValue, Verdict
from ragline.mltrack.tracking.experiments import (
    ExperimentPlan,
    ExperimentRecord,
    Tracker,
    dataset_version,
)
from ragline.mltrack.tracking.fairness import (
    FAIRNESS_TAG,
    FairnessEvidence,
    FairnessLimits,
    measure_fairness,
)
from ragline.mltrack.tracking.gates import (
    GateDecision,
    GateInputs,
    GoldenDelta,
    Guardrail,
    PrimaryMetric,
)
from ragline.mltrack.tracking.registry import ModelRegistry, ModelVersionInfo, Stage

Say = Callable[[str], None]
T_QUALITY, T_LEAKAGE, T_BEAT = "ragline.quality.total", "ragline.leakage", "ragline.beats_baseline"
T_MODEL, T_GOLDEN = "ragline.registered_as", "ragline.golden"
DEFAULT_TOLERANCE = 0.01  # a secondary metric may move this much the wrong way


@dataclass(frozen=True, slots=True)
class TrainOutcome:
    """What one `train_job` did."""

    experiment_id: str
    run_id: str
    result: TrainResult
    quality: QualityReport
    leakage: LeakageReport
    verdict: Verdict
    version: ModelVersionInfo | None


def _quiet(_: str) -> None:
    return None


def check_quality(config: TrainConfig, ml: MltrackConfig, *, force: bool) -> QualityReport:
    """The data-quality report of the config's table; QualityTooLow under `ml.min_quality`."""
    spec = config.quality or QualitySpec(target=config.data.target)
    report = score_quality(load_frame(config.data), spec)
    return require_quality(report, ml.min_quality, force=force)


def leakage_report(config: TrainConfig, prep: Prepared) -> LeakageReport:
    """Leakage checks on what training fits: every fitted step's rows against the train split
    (per-fold target encoders against the rows they encoded), target-derived features among
    the raw columns the model reads, the entity column across train and test, and feature
    timestamps after the prediction time (when the config names `data.feature_times`)."""
    records = tuple(_as_leakage_record(r) for r in prep.records)
    split = prep.split
    spec = config.data
    at = (spec.prediction_time or spec.time_column) if spec.feature_times else None
    # the columns the model reads (plus target, entity, times): unused columns cannot leak
    keep = {*prep.pipeline.input_columns, spec.target, spec.id_column, at, *spec.feature_times}
    # the target's own lags are past-only by construction (ragline.mltrack.forecast.lags)
    keep -= own_past_features(spec.target, config.features.temporal)
    used = [c for c in prep.frame.columns if c in keep]
    return run_all(
        LeakageInputs(
            data=prep.frame[used].loc[list(split.train) + list(split.test)],
            target=spec.target,
            prediction_time=at,
            feature_times=tuple(spec.feature_times),
            entity=spec.id_column,
            train_index=frozenset(split.train.tolist()),
            fit_records=records,
        )
    )


def _as_leakage_record(record: TabularFitRecord) -> FitRecord:
    # per-fold target encoders carry the rows they encoded, which is all the check needs
    seen = None if record.transformed_index is None else record.transformed_index.tolist()
    return FitRecord.of(
        record.step, record.columns, record.fitted_on_index.tolist(), seen, record.uses_target
    )


def train_job(
    config: TrainConfig,
    ml: MltrackConfig,
    data_dir: Path,
    out_dir: Path,
    *,
    force: bool = False,
    say: Say = _quiet,
    checked: tuple[Prepared, LeakageReport] | None = None,
) -> TrainOutcome:
    """Quality gate, experiment, training, leakage checks, verdict, registration. `checked`:
    `prepare(config)` and its leakage report, made already (a pipeline's leakage stage): the
    training reuses both instead of loading, fitting and checking the same rows again."""
    quality = check_quality(config, ml, force=force)
    say(f"data quality {quality.total}/30 ({'forced' if quality.forced else 'passed'})")
    plan = ExperimentPlan(
        hypothesis=config.experiment.hypothesis or f"{config.model.kind} on {config.data.path}",
        dataset_version=dataset_version(config.data.path),
        model_type=config.model.kind,
        params=dict(config.model.params),
    )
    with Tracker(ml, data_dir) as tracker, tracker.start_run(plan) as run:
        say(f"experiment {run.exp_id}: training {config.model.kind}")
        run.set_tags(_quality_tags(quality))
        result = train(config, run, out_dir, checked[0] if checked else None)
        # the checks read what training fitted; nothing is loaded or fitted again
        leakage = (
            checked[1] if checked else leakage_report(config, result.prepared or prepare(config))
        )
        verdict = _finish(run, result, leakage)
        run.set_tags(_fairness_tags(config, result))
        version = None
        if config.experiment.register_as and leakage.clean:
            version = _register(config, ml, data_dir, result, run, plan)
        return TrainOutcome(run.exp_id, run.run_id, result, quality, leakage, verdict, version)


def _finish(run: ActiveRun, result: TrainResult, leakage: LeakageReport) -> Verdict:
    """Store the gates' evidence on the run and set its verdict."""
    beats = result.delta[result.primary].improved
    verdict: Verdict = "iterate" if beats else "archived"
    findings = json.dumps([str(f) for f in leakage.findings])
    run.set_tags({T_LEAKAGE: findings, T_BEAT: str(beats)})
    primary = _metric(result.primary, result.metrics)
    run.finish(verdict, primary, _secondary(result), _delta(result))
    return verdict


def _fairness_tags(config: TrainConfig, result: TrainResult) -> dict[str, str]:
    """The fairness gate's evidence (binary classification, test split) and the golden set."""
    tags = {T_GOLDEN: str(config.golden)} if config.golden is not None else {}
    spec, rows, meta = config.fairness, result.evaluation.per_row, result.model.meta
    if not spec.protected or meta.task != "classification" or meta.multiclass:
        return tags  # the gate's rates are binary decisions
    prep = result.prepared or prepare(config)
    test = prep.frame.loc[prep.split.test]
    missing = [c for c in spec.protected if c not in test.columns]
    if missing:
        raise MltrackError(f"fairness.protected: no column(s) {missing} in {config.data.path}")
    limits = FairnessLimits(
        spec.min_disparate_impact, spec.max_calibration_gap, config.metrics.fairness_min_count
    )
    groups = {c: as_categories(test[c]) for c in spec.protected}
    evidence = measure_fairness(
        rows["y_true"], rows["score"], groups, limits, threshold=config.metrics.threshold
    )
    return tags | {FAIRNESS_TAG: evidence.to_json()}


def _register(
    config: TrainConfig,
    ml: MltrackConfig,
    data_dir: Path,
    result: TrainResult,
    run: ActiveRun,
    plan: ExperimentPlan,
) -> ModelVersionInfo:
    """Register the model as an MLflow pyfunc package (`ragline.mltrack.tabular.pyfunc`), with
    a few raw test rows as its input example; the version starts in development."""
    from ragline.mltrack.tabular.pyfunc import EXAMPLE_ROWS, package_model  # mlflow.pyfunc

    name = config.experiment.register_as or ""
    prep = result.prepared or prepare(config)
    example = prep.frame.loc[prep.split.test[:EXAMPLE_ROWS]]
    registry = ModelRegistry(ml, data_dir)
    try:
        with tempfile.TemporaryDirectory(prefix="ragline-pyfunc-") as tmp:
            package = package_model(result.artifact_dir, Path(tmp) / "pyfunc", example=example)
            version = registry.register(
                name, package, run_id=run.run_id, actor=plan.actor, command=plan.command
            )
    finally:
        registry.close()
    run.set_tags({T_MODEL: f"{version.name}:{version.version}"})
    return version


def _quality_tags(report: QualityReport) -> dict[str, str]:
    tags = {T_QUALITY: str(report.total), "ragline.quality.forced": str(report.forced)}
    tags |= {f"ragline.quality.{d.dimension}": str(d.score) for d in report.dimensions}
    return tags


def _metric(name: str, metrics: dict[str, Aggregate]) -> MetricValue:
    agg = metrics[name]
    value = agg.value if agg.value is not None else math.nan
    return MetricValue(name, value, agg.ci_low, agg.ci_high)


def _secondary(result: TrainResult) -> dict[str, float]:
    return {
        name: agg.value
        for name, agg in result.metrics.items()
        if name != result.primary and agg.value is not None
    }


def _delta(result: TrainResult) -> BaselineDelta | None:
    delta = result.delta.get(result.primary)
    if delta is None or delta.delta is None:
        return None
    return BaselineDelta(
        f"baseline:{result.baseline.kind}", delta.delta, delta.ci_low, delta.ci_high
    )


def gate_inputs(
    candidate: ExperimentRecord,
    tags: dict[str, str],
    production: ExperimentRecord | None,
    tolerance: float = DEFAULT_TOLERANCE,
    golden: GoldenDelta | None = None,
) -> GateInputs:
    """The gates' evidence: the candidate's record and run tags, production's record (if any),
    and both scored on the same golden rows (`golden`, when the candidate's config named one).

    Secondary metrics both records hold are guardrails: each may move at most `tolerance`
    the wrong way.
    """
    outcome = candidate.outcome
    if outcome is None:
        raise MltrackError(f"{candidate.id} has no recorded outcome; it did not finish training")
    primary = outcome.primary
    better = primary.name in MAXIMISED
    ci = None
    if primary.ci_low is not None and primary.ci_high is not None:
        ci = (primary.ci_low, primary.ci_high)
    prod = production.outcome if production is not None else None
    prod_value = (
        prod.primary.value if prod is not None and prod.primary.name == primary.name else None
    )
    guards = tuple(
        Guardrail(name, value, prod.secondary.get(name), tolerance, name in MAXIMISED)
        for name, value in outcome.secondary.items()
        if prod is not None and name in prod.secondary
    )
    findings = tags.get(T_LEAKAGE)
    return GateInputs(
        primary=PrimaryMetric(
            primary.name,
            candidate_ci=ci,
            production_value=prod_value,
            higher_is_better=better,
            golden_delta=golden,
        ),
        guardrails=guards,
        quality_score=int(tags[T_QUALITY]) if T_QUALITY in tags else None,
        leakage_findings=tuple(json.loads(findings)) if findings is not None else None,
        eval_suite_passed=(tags[T_BEAT] == "True") if T_BEAT in tags else None,
        fairness=FairnessEvidence.from_json(tags.get(FAIRNESS_TAG)),
    )


def promote_job(
    name: str,
    version: int,
    to_stage: Stage,
    ml: MltrackConfig,
    data_dir: Path,
    *,
    force: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
    reason: str = "",
) -> GateDecision:
    """Check the gates for `name` `version` against production and move it to `to_stage`;
    GateRefused names the failed gates. Reaching production marks its experiment promoted.
    When the candidate's config named a ``golden`` file, both versions score its rows and
    beats-production judges the paired bootstrap of the difference; `force` needs a `reason`."""
    if force and not reason.strip():
        raise MltrackError(
            "--force needs --reason TEXT: the audit log records why the gates were overridden"
        )
    registry = ModelRegistry(ml, data_dir)
    try:
        with Tracker(ml, data_dir) as tracker:
            inputs, candidate = gate_evidence(registry, tracker, name, version, tolerance)
            plan = ExperimentPlan("", "", "")  # only for the actor and command
            decision = registry.promote(
                name,
                version,
                to_stage,
                inputs,
                actor=plan.actor,
                command=plan.command,
                force=force,
                reason=reason,
            )
            if to_stage == "production":
                tracker.set_verdict(candidate, "promoted")
            return decision
    finally:
        registry.close()


def gate_evidence(
    registry: ModelRegistry,
    tracker: Tracker,
    name: str,
    version: int,
    tolerance: float = DEFAULT_TOLERANCE,
) -> tuple[GateInputs, ExperimentRecord]:
    """The promotion gates' evidence for `name` `version` from the experiments that trained it
    and the current production version (golden rows scored by both when its config named a
    ``golden`` file), and the candidate's experiment; `ragline ml promote` and a rollout's
    start gather it the same way."""
    candidate, tags = _record_of(registry, tracker, name, version)
    current = registry.current(name, "production")
    production, golden = None, None
    if current is not None and current.version != version:
        production, _ = _record_of(registry, tracker, name, current.version)
        if T_GOLDEN in tags and candidate.outcome is not None:
            pair, metric = (version, current.version), candidate.outcome.primary.name
            golden = golden_delta(registry, name, pair, Path(tags[T_GOLDEN]), metric)
    return gate_inputs(candidate, tags, production, tolerance, golden), candidate


def _record_of(
    registry: ModelRegistry, tracker: Tracker, name: str, version: int
) -> tuple[ExperimentRecord, dict[str, str]]:
    info = registry.version(name, version)
    if info.run_id is None:
        raise MltrackError(f"{name} version {version} has no training run to take evidence from")
    return tracker.for_run(info.run_id)


def leakage_job(config: TrainConfig) -> LeakageReport:
    """The leakage checks of a config without training a model (split and features only)."""
    return leakage_report(config, prepare(config))


def evaluate_job(
    name: str,
    version: int | None,
    stage: Stage | None,
    data: Path,
    ml: MltrackConfig,
    data_dir: Path,
) -> EvalReport:
    """Score a registered version (by number, or the one in `stage`) on a labelled table:
    the task's metrics with bootstrap CIs and, for classification, calibration (multiclass:
    macro_f1 first, and the per-class report)."""
    from ragline.mltrack.tabular.artifacts import load_model, load_pipeline
    from ragline.mltrack.tabular.config import (
        ANOMALY_METRICS,
        CLASSIFICATION_METRICS,
        MULTICLASS_METRICS,
        REGRESSION_METRICS,
        DataSpec,
    )
    from ragline.mltrack.tabular.data import encode_target
    from ragline.mltrack.tabular.models import model_output

    def both(folder: Path) -> tuple[TabularModel, FeaturePipeline | None]:
        return load_model(folder), load_pipeline(folder)

    registry = ModelRegistry(ml, data_dir)
    try:
        if version is not None:
            model, pipeline = registry.load_version(name, version, both)
        else:
            model, pipeline = registry.load(name, stage or "production", both)
    finally:
        registry.close()
    meta = model.meta
    # a binary model scores the class it was trained on (its config's positive_label, kept
    # as classes[-1]), not the larger sorted label; labels match as text, as in training
    binary = meta.task == "classification" and len(meta.classes or ()) == 2
    positive = str((meta.classes or ())[-1]) if binary else None
    spec = DataSpec(path=data, target=meta.target, task=meta.task, positive_label=positive)
    frame = load_frame(spec)
    y, _ = encode_target(frame[meta.target], spec, meta.classes)
    names: tuple[str, ...] = ANOMALY_METRICS if meta.task == "anomaly" else REGRESSION_METRICS
    if meta.task == "classification":
        names = MULTICLASS_METRICS if meta.multiclass else CLASSIFICATION_METRICS
    scores = model_output(model, pipeline, frame)
    classes = meta.classes or ()
    return evaluate(y, scores, task=meta.task, metrics=names, spec=MetricsSpec(), classes=classes)
