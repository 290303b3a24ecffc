"""One training run, end to end: ``ragline ml train CONFIG.yaml`` calls `train`.

    result = train(load_train_config(Path("configs/ml/adult.yaml")), run, Path("out"))
    result.metrics["roc_auc"].value, result.delta["roc_auc"].improved, result.artifact_dir

Steps, in order: load the table; add temporal features (past-only, nothing fitted); split; fit
the feature pipeline on the train split (`FitRecord` per fitted step); fit and score the baseline
**first**, so its numbers are logged even if the model fails; tune (when ``tune.trials > 0``) and
fit the model (train split, early stopping on validation); score the test split with bootstrap
CIs, calibration and fairness by the protected attribute; compare with the baseline on the same
rows; save the model folder (no pickle) and ``report.json``; log everything through the
`RunLogger`. The test split is touched only for the final scoring.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ragline.evals.result import Aggregate
from ragline.mltrack.anomaly.budget import budget_threshold, flagged_share
from ragline.mltrack.anomaly.zscore import ZScoreBaseline, fit_zscore
from ragline.mltrack.forecast.seasonal import seasonal_column, seasonal_naive
from ragline.mltrack.tabular.artifacts import require_empty, save_model
from ragline.mltrack.tabular.baselines import Baseline, fit_baseline
from ragline.mltrack.tabular.config import (
    ANOMALY_METRICS,
    CLASSIFICATION_METRICS,
    MULTICLASS_METRICS,
    REGRESSION_METRICS,
    MetricsSpec,
    ParamValue,
    TrainConfig,
)
from ragline.mltrack.tabular.data import encode_target, load_frame
from ragline.mltrack.tabular.evaluate import (
    EvalReport,
    MetricDelta,
    compare,
    evaluate,
    relative_mae,
)
from ragline.mltrack.tabular.features import FeaturePipeline, FitRecord, as_categories, fit_features
from ragline.mltrack.tabular.models import (
    FloatArray,
    SklearnModel,
    TabularModel,
    TrainData,
    fit_model,
)
from ragline.mltrack.tabular.split import Split, split_rows
from ragline.mltrack.tabular.temporal import add_temporal_features
from ragline.mltrack.tabular.tuning import TuneResult, tune
from ragline.mltrack.tracking.protocols import RunLogger
from ragline.mltrack.tracking.run_facts import training_facts


@dataclass(frozen=True, slots=True)
class TrainResult:
    """Everything a run produced; ``metrics`` and ``baseline_metrics`` are test-set evals
    Aggregates with CIs, ``delta`` is model - baseline per metric on the same rows.

    Usage::

        result = train(config, run, out_dir)
        auc = result.metrics[result.primary]         # .value, .ci_low, .ci_high
        if result.delta[result.primary].improved:    # the CI of the gain excludes 0
            registry.register(result.artifact_dir)
    """

    primary: str
    metrics: dict[str, Aggregate]
    baseline_metrics: dict[str, Aggregate]
    delta: dict[str, MetricDelta]
    evaluation: EvalReport
    baseline_evaluation: EvalReport
    fit_records: tuple[FitRecord, ...]
    artifact_dir: Path
    report_path: Path
    wall_s: float
    timings: dict[str, float]
    features: tuple[str, ...]
    params: dict[str, ParamValue]
    split: Split
    baseline: Baseline | ZScoreBaseline
    model: TabularModel
    pipeline: FeaturePipeline
    tuning: TuneResult | None = None
    prepared: Prepared | None = None  # the table, split and fitted features (leakage checks)


@dataclass
class _Stopwatch:
    times: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.times[stage] = time.perf_counter() - started


def _flatten(value: object, prefix: str, out: dict[str, object]) -> dict[str, object]:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        out[prefix] = json.dumps(value)
    else:
        out[prefix] = value
    return out


def _metric_logs(prefix: str, metrics: Mapping[str, Aggregate]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, agg in metrics.items():
        for suffix, value in (("", agg.value), (".ci_low", agg.ci_low), (".ci_high", agg.ci_high)):
            if value is not None:
                out[f"{prefix}.{name}{suffix}"] = value
    return out


def _delta_logs(delta: Mapping[str, MetricDelta]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, d in delta.items():
        for suffix, value in (("", d.delta), (".ci_low", d.ci_low), (".ci_high", d.ci_high)):
            if value is not None:
                out[f"delta.{name}{suffix}"] = value
    return out


def _report_logs(report: EvalReport) -> dict[str, float]:
    out: dict[str, float] = {}
    if report.calibration is not None and report.calibration.ece is not None:
        out["calibration.ece"] = report.calibration.ece
    fair = report.fairness
    if fair is not None:
        for key in ("disparate_impact", "equal_opportunity_difference"):
            value = getattr(fair, key)
            if value is not None:
                out[f"fairness.{key}"] = float(value)
    return out


def _metric_names(config: TrainConfig, multiclass: bool) -> list[str]:
    every: tuple[str, ...] = REGRESSION_METRICS
    if config.data.task == "anomaly":
        every = ANOMALY_METRICS
    if config.data.task == "classification":
        every = MULTICLASS_METRICS if multiclass else CLASSIFICATION_METRICS
    chosen = config.metrics.secondary or list(every)
    return list(dict.fromkeys([config.primary_metric, *chosen]))


@dataclass(frozen=True, slots=True)
class Prepared:
    """The table, its split and the feature pipeline fitted on the train rows."""

    frame: pd.DataFrame
    y: FloatArray
    data: TrainData
    split: Split
    pipeline: FeaturePipeline
    records: tuple[FitRecord, ...]
    x_test: pd.DataFrame


def _prepare(config: TrainConfig, clock: _Stopwatch) -> Prepared:
    spec = config.data
    with clock("load"):
        frame = load_frame(spec)
        y, classes = encode_target(frame[spec.target], spec)
        config = config.for_classes(len(classes or ()))  # multiclass: fails on binary-only keys
    with clock("features"):
        temporal: tuple[str, ...] = ()
        if config.features.temporal and spec.time_column is not None:
            frame, temporal = add_temporal_features(
                frame,
                config.features.temporal,
                time_column=spec.time_column,
                entity_column=spec.id_column,
            )
        if config.baseline.kind == "seasonal_naive" and spec.time_column is not None:
            column = seasonal_column(spec.target, config.baseline.season)
            frame[column] = seasonal_naive(
                frame,
                target=spec.target,
                time_column=spec.time_column,
                season=config.baseline.season,
                entity_column=spec.id_column,
            )
        split = split_rows(
            frame,
            config.split,
            target=spec.target,
            task=spec.task,
            time_column=spec.time_column,
            group_column=spec.id_column,
        )
        fit = fit_features(
            frame,
            split.train,
            y[split.train],
            config.features,
            temporal=temporal,
            seed=config.split.seed,
            impute=config.impute,
        )
        x_valid = fit.pipeline.transform(frame.loc[split.valid])
        x_test = fit.pipeline.transform(frame.loc[split.test])
    data = TrainData(
        fit.train, y[split.train], x_valid, y[split.valid], spec.task, spec.target, classes
    )
    applied = np.concatenate([split.valid, split.test])
    records = tuple(
        replace(r, transformed_index=applied) if r.uses_target and r.fold is None else r
        for r in fit.records
    )
    return Prepared(frame, y, data, split, fit.pipeline, records, x_test)


def prepare(config: TrainConfig) -> Prepared:
    """Load, add temporal features, split and fit the feature pipeline on the train rows, as
    `train` does, without fitting a model (for ``ragline ml leakage``)."""
    return _prepare(config, _Stopwatch())


def _log_start(log: RunLogger, config: TrainConfig, prep: Prepared) -> None:
    log.set_tags(
        {
            "mltrack.run": "tabular-train",
            "model.kind": config.model.kind,
            "data.task": config.data.task,
            "split.kind": config.split.kind,
        }
    )
    params = _flatten(config.model_dump(mode="json"), "", {})
    params |= {f"rows.{k}": v for k, v in prep.split.sizes().items()}
    params["features.count"] = len(prep.data.features)
    log.log_params(params)


def train(
    config: TrainConfig,
    logger: RunLogger | None,
    out_dir: Path,
    prepared: Prepared | None = None,
) -> TrainResult:
    """Run the whole training (see the module docstring); artifacts go under ``out_dir``.
    `prepared` is `prepare(config)` done already (a pipeline's leakage stage): not redone."""
    started, clock = time.perf_counter(), _Stopwatch()
    require_empty(out_dir / "model")  # fail before the work, not after it
    log: RunLogger = logger if logger is not None else _NullLogger()
    prep = prepared if prepared is not None else _prepare(config, clock)
    config = config.for_classes(len(prep.data.classes or ()))
    _log_start(log, config, prep)
    names, split = _metric_names(config, prep.data.multiclass), prep.split
    y_test, test_rows = prep.y[split.test], prep.frame.loc[split.test]
    spec = _metrics_spec(config, y_test)
    groups = None
    if config.data.protected is not None:
        groups = as_categories(test_rows[config.data.protected])
    with clock("baseline"):
        baseline, base_scores = _baseline(config, prep, test_rows)
        base_eval = evaluate(y_test, base_scores, task=config.data.task, metrics=names, spec=spec)
    log.log_metrics(_metric_logs("baseline", base_eval.metrics))
    model, tuning = _fit(config, prep, log, clock)
    with clock("evaluate"):
        scores = model.predict(prep.x_test)
        report = evaluate(
            y_test,
            scores,
            task=config.data.task,
            metrics=names,
            spec=spec,
            groups=groups,
            classes=prep.data.classes or (),
        )
        delta = compare(y_test, scores, base_scores, metrics=names, spec=spec)
        if baseline.kind == "seasonal_naive":  # MASE: MAE over the seasonal-naive MAE
            report.metrics["mase"] = relative_mae(y_test, scores, base_scores, spec)
    records = (*prep.records, *_model_records(config, prep))
    with clock("save"):
        folder = save_model(model, out_dir / "model", pipeline=prep.pipeline)
    result = TrainResult(
        primary=config.primary_metric,
        metrics=report.metrics,
        baseline_metrics=base_eval.metrics,
        delta=delta,
        evaluation=report,
        baseline_evaluation=base_eval,
        fit_records=records,
        artifact_dir=folder,
        report_path=out_dir / "report.json",
        wall_s=time.perf_counter() - started,
        timings=clock.times,
        features=prep.data.features,
        params=dict(model.meta.params),
        split=split,
        baseline=baseline,
        model=model,
        pipeline=prep.pipeline,
        tuning=tuning,
        prepared=prep,
    )
    _finish(log, result)
    facts = (result.model.meta, prep.pipeline, result.evaluation, prep.frame, split.train)
    log.set_tags(training_facts(config, *facts))  # features used, confusion matrix, data dates
    return result


def _metrics_spec(config: TrainConfig, y_test: FloatArray) -> MetricsSpec:
    """metrics, with anomaly detection's K of precision@K fixed: the config's, else the number
    of labelled anomalies in the test split (precision@K = recall@K then: R-precision)."""
    spec = config.metrics
    if config.data.task != "anomaly" or spec.top_k is not None:
        return spec
    return spec.model_copy(update={"top_k": max(1, int(y_test.sum()))})


def _baseline(
    config: TrainConfig, prep: Prepared, test_rows: pd.DataFrame
) -> tuple[Baseline | ZScoreBaseline, FloatArray]:
    """The fitted baseline and its test scores: robust z-scores of the model's own features
    for anomaly detection (no labels read), else `fit_baseline` on the train targets."""
    if config.data.task == "anomaly" and config.baseline.kind in ("auto", "zscore"):
        zscore = fit_zscore(prep.data.x_train)
        return zscore, zscore.predict(prep.x_test)
    column = None
    if config.baseline.kind == "seasonal_naive":
        column = seasonal_column(config.data.target, config.baseline.season)
    baseline = fit_baseline(
        config.baseline,
        config.data.task,
        prep.data.y_train,
        classes=prep.data.classes or (),
        column=column,
    )
    return baseline, baseline.predict(test_rows)


def _fit(
    config: TrainConfig, prep: Prepared, log: RunLogger, clock: _Stopwatch
) -> tuple[TabularModel, TuneResult | None]:
    tuned: TuneResult | None = None
    with clock("tune"):
        if config.tune.trials > 0:
            tuned = tune(
                config.model, prep.data, config.tune, metric=config.tune_metric, logger=log
            )
    with clock("fit"):
        model = fit_model(
            config.model,
            prep.data,
            metric=config.tune_metric,
            params=tuned.best_params if tuned else None,
            seed=config.tune.seed,
        )
        if config.data.task == "anomaly" and isinstance(model, SklearnModel):
            # the alert budget's threshold, on validation rows the forest was not built on
            share = config.anomaly.budget_share
            cut = budget_threshold(model.predict(prep.data.x_valid), share)
            model = replace(model, meta=replace(model.meta, threshold=cut))
            log.log_metrics({"alert.threshold": cut, "alert.budget_share": share})
    return model, tuned


def _model_records(config: TrainConfig, prep: Prepared) -> list[FitRecord]:
    """The baseline and the model learn from train rows only; validation rows just pick the
    number of boosting rounds, the tuned params and an anomaly model's alert threshold
    (``split.valid``); test rows only score."""
    return [
        FitRecord("baseline", (config.data.target,), prep.split.train),
        FitRecord("model", prep.data.features, prep.split.train),
    ]


def _finish(log: RunLogger, result: TrainResult) -> None:
    log.log_params({f"fitted.{k}": v for k, v in result.params.items()})
    metrics = _metric_logs("test", result.metrics) | _delta_logs(result.delta)
    metrics |= _report_logs(result.evaluation) | _alert(result)
    metrics |= {f"time.{k}_s": v for k, v in result.timings.items()}
    metrics["time.wall_s"] = result.wall_s
    log.log_metrics(metrics)
    result.report_path.write_text(json.dumps(_report(result), indent=2, default=str), "utf-8")
    for path in sorted(result.artifact_dir.iterdir()):
        log.log_artifact(path, folder="model")
    log.log_artifact(result.report_path)


def _alert(result: TrainResult) -> dict[str, float]:
    """An anomaly model's threshold and the share of test rows it flags (the budget's check)."""
    cut = result.model.meta.threshold
    if cut is None:
        return {}
    flagged = flagged_share(result.evaluation.per_row["score"], cut)
    return {"alert.threshold": cut, "alert.test_flagged_share": flagged}


def _report(result: TrainResult) -> dict[str, object]:
    evaluation = result.evaluation
    return {
        "primary": result.primary,
        "metrics": {k: asdict(v) for k, v in result.metrics.items()},
        "baseline": {"kind": result.baseline.kind}
        | {k: asdict(v) for k, v in result.baseline_metrics.items()},
        "delta": {k: asdict(v) for k, v in result.delta.items()},
        "calibration": asdict(evaluation.calibration) if evaluation.calibration else None,
        "fairness": asdict(evaluation.fairness) if evaluation.fairness else None,
        "split": result.split.sizes() | {"kind": result.split.kind},
        "features": list(result.features),
        "params": result.params,
        "tuning": asdict(result.tuning) if result.tuning else None,
        "fit_records": [
            {"step": r.step, "columns": list(r.columns), "rows": int(r.fitted_on_index.size)}
            for r in result.fit_records
        ],
        "timings_s": result.timings | {"wall": result.wall_s},
        "alert": _alert(result) or None,
    } | ({"per_class": [asdict(c) for c in evaluation.per_class]} if evaluation.per_class else {})


class _NullLogger:
    """Used when no logger is given: training still runs and writes its artifacts."""

    def log_params(self, params: Mapping[str, object]) -> None:
        return None

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        return None

    def set_tags(self, tags: Mapping[str, str]) -> None:
        return None

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        return None
