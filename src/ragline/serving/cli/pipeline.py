"""`ragline pipeline run|approve|workflow`: ML pipelines as code.

    ragline pipeline run configs/pipelines/adult.yaml --trigger code    # -> awaiting approval
    ragline pipeline approve adult-20261206T180000-ab12cd --by ana --note "card reviewed"
    ragline pipeline workflow configs/pipelines/adult.yaml > .github/workflows/ml-pipeline.yml

Thin: parse, call `ragline.serving.services.pipeline`, print one line per stage (status, its
numbers, seconds). Exit codes: 0 the run reached production, awaits approval, or a data
trigger found nothing new; 1 a stage failed (its gate's numbers are printed; nothing reached
production); 2 bad usage (config, run id, settings).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ragline.serving.cli.common import err, fail, out, settings_from

if TYPE_CHECKING:
    from ragline.mltrack.pipeline.record import RunRecord, StageResult

pipeline_app = typer.Typer(help="ML pipelines as code: run, approve, CI workflow.")
ConfigArg = Annotated[
    Path, typer.Argument(help="pipeline config, e.g. configs/pipelines/adult.yaml")
]
TRIGGERS = ("code", "data", "model", "schedule")


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4g}"


def stage_line(result: StageResult) -> str:
    """One printed line per stage: name, status, numbers, seconds, then why.

    Example:
        >>> from ragline.mltrack.pipeline.record import StageResult
        >>> stage_line(StageResult("quality", "passed", 0.41, {"score": 27.0}, "27/30"))
        '  quality    passed    score=27  0.4 s  27/30'
    """
    numbers = " ".join(f"{k}={_number(v)}" for k, v in result.numbers.items())
    parts = [f"  {result.stage:<10} {result.status:<8}", numbers, f"{result.seconds:.1f} s"]
    return "  ".join(p for p in parts if p) + (f"  {result.detail}" if result.detail else "")


def _print(result: StageResult) -> None:
    out.print(stage_line(result), markup=False)


def _summary(record: RunRecord) -> None:
    model = f"{record.model}:{record.version}" if record.model else "no model"
    out.print(f"run {record.id}: {record.status.replace('_', ' ')} ({model})", markup=False)
    if record.status == "awaiting_approval":
        out.print(f"approve with: ragline pipeline approve {record.id} --by NAME", markup=False)
    if record.status == "failed":
        raise typer.Exit(1)


@pipeline_app.command("run")
def run_command(
    ctx: typer.Context,
    config_path: ConfigArg,
    trigger: Annotated[str, typer.Option(help="code | data | model | schedule")] = "code",
) -> None:
    """Run every stage up to the approval (or through it when approval.required is false)."""
    from ragline.mltrack.errors import MltrackError
    from ragline.serving.services.pipeline import PipelineService

    if trigger not in TRIGGERS:
        raise fail(f"--trigger {trigger!r}: use one of {', '.join(TRIGGERS)}")
    settings = settings_from(ctx)
    service = PipelineService(settings, on_stage=_print, say=lambda s: err.print(s, markup=False))
    out.print(f"pipeline {config_path} (trigger {trigger})", markup=False)
    try:
        record = service.run(config_path, trigger)  # type: ignore[arg-type]
    except MltrackError as exc:
        raise fail(str(exc)) from None
    if record is None:
        out.print("data unchanged since the last run, nothing to do", markup=False)
        return
    _summary(record)


@pipeline_app.command("approve")
def approve_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="the run id `pipeline run` printed")],
    by: Annotated[str, typer.Option("--by", help="who approves (recorded in the audit log)")],
    note: Annotated[str, typer.Option(help="why, for the audit log")] = "",
) -> None:
    """Record a person's approval of a run awaiting it, then canary and promote."""
    from ragline.mltrack.errors import MltrackError
    from ragline.serving.services.pipeline import PipelineService

    settings = settings_from(ctx)
    service = PipelineService(settings, on_stage=_print, say=lambda s: err.print(s, markup=False))
    try:
        record = service.approve(run_id, by=by, note=note)
    except MltrackError as exc:
        raise fail(str(exc)) from None
    _summary(record)


@pipeline_app.command("workflow")
def workflow_command(config_path: ConfigArg) -> None:
    """Print a GitHub Actions workflow that runs this pipeline on change, nightly and by hand."""
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.pipeline.config import load_pipeline_config
    from ragline.mltrack.pipeline.workflow import github_workflow
    from ragline.mltrack.tabular.config import load_train_config

    try:
        config = load_pipeline_config(config_path)
        text = github_workflow(config_path.as_posix(), config, load_train_config(config.train))
    except MltrackError as exc:
        raise fail(str(exc)) from None
    typer.echo(text, nl=False)  # verbatim: rich would read ":name:" as an emoji code
