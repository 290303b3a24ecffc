"""`ragline ml rollout start|status|advance|abort`: a canary of a model version on POST /v1/predict.

    ragline ml rollout start churn 4                  # staged v4 to 5% of callers, gates checked
    ragline ml rollout start churn 4 --force --reason "hotfix; gates re-run tomorrow"
    ragline ml rollout status churn                   # stage, percent, live signals, steps
    ragline ml rollout advance churn                  # 5% -> 25% by hand (past 100%: production)
    ragline ml rollout abort churn --reason "wrong feature set"   # canary 0%, production kept

Running servers pick a change up within seconds and judge the canary themselves (`ml.rollout`):
a breach of error rate, latency, prediction drift or the primary metric rolls it back, a healthy
stage advances. Every step is in the registry's audit log (`ragline ml list --model NAME`).
Exit codes: 0 done; 1 the gates refused the version; 2 bad usage or state (no such version, not
staged, a rollout already running, none running), with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ragline.serving.cli.common import err, out, settings_from

if TYPE_CHECKING:
    from ragline.mltrack.rollout import Rollouts, RolloutState

rollout_app = typer.Typer(help="gradual rollout (canary) of a model version on /v1/predict.")
Name = Annotated[str, typer.Argument(help="registered model name")]


@contextmanager
def _rollouts(ctx: typer.Context) -> Iterator[Rollouts]:
    """The service on the configured registry; refusals exit 1, other mltrack errors 2."""
    from ragline.mltrack.errors import GateRefused, MltrackError
    from ragline.mltrack.rollout import Rollouts
    from ragline.mltrack.tracking.registry import ModelRegistry

    settings = settings_from(ctx)
    registry = ModelRegistry(settings.ml, settings.data_dir)
    try:
        yield Rollouts(registry, settings.ml.rollout)
    except GateRefused as exc:
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(1) from None
    except MltrackError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    finally:
        registry.close()


def _actor() -> str:
    from ragline.mltrack.tracking.experiments import ExperimentPlan

    return ExperimentPlan("", "", "").actor


def _print_state(state: RolloutState) -> None:
    out.print(
        f"{state.name}: canary version {state.version} vs production "
        f"{state.production_version}: {state.status} at {state.percent}%"
        + (f" ({state.reason.splitlines()[0]})" if state.reason else ""),
        markup=False,
    )


@rollout_app.command("start")
def start_cmd(
    ctx: typer.Context,
    name: Name,
    version: Annotated[int, typer.Argument(min=1, help="the staged version to roll out")],
    force: Annotated[bool, typer.Option("--force", help="override the gates (audited)")] = False,
    reason: Annotated[str, typer.Option(help="why (needed with --force): audited")] = "",
) -> None:
    """Check the production gates, then serve VERSION to the first stage's percent of callers."""
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.rollout.evidence import gate_evidence

    with _rollouts(ctx) as rollouts:
        try:
            inputs = gate_evidence(rollouts.registry, name, version)
        except MltrackError:
            if not force:
                raise
            inputs = None  # forced: no recorded evidence to judge, the gates fail as forced
        state = rollouts.start(name, version, inputs, actor=_actor(), reason=reason, force=force)
    _print_state(state)
    stages = " -> ".join(f"{p}%" for p in rollouts.policy.stages)
    out.print(f"  stages {stages}, judged every {rollouts.policy.min_requests} canary requests")


@rollout_app.command("status")
def status_cmd(ctx: typer.Context, name: Name) -> None:
    """The latest rollout: stage, percent, each server's signals, and every step."""
    with _rollouts(ctx) as rollouts:
        state = rollouts.status(name)
        reports = rollouts.store.reports(state) if state is not None else ()
    if state is None:
        out.print(f"{name}: no rollout yet; `ragline ml rollout start {name} VERSION`")
        return
    _print_state(state)
    stages = rollouts.policy.stages
    stage = stages.index(state.percent) + 1 if state.percent in stages else "-"
    out.print(f"  stage {stage} of {len(stages)} ({' -> '.join(f'{p}%' for p in stages)})")
    table = Table("server", "role", "version", "at", "requests", "errors", "p95 ms", "KL")
    for r in reports:
        p95 = "-" if r.p95_ms is None else f"{r.p95_ms:.1f}"
        kl = "-" if r.kl is None or r.role != "canary" else f"{r.kl:.3f}"
        at = f"{r.percent}% {r.updated:%H:%M:%S}"
        table.add_row(
            r.replica, r.role, str(r.version), at, str(r.requests), str(r.errors), p95, kl
        )
    if reports:
        out.print(table)
    else:
        out.print("  no server has published signals of this rollout yet")
    for line in state.steps:
        out.print(f"  {line}", markup=False)


@rollout_app.command("advance")
def advance_cmd(
    ctx: typer.Context,
    name: Name,
    reason: Annotated[str, typer.Option(help="why, for the audit log")] = "",
) -> None:
    """Move the canary to the next stage now; past the last it becomes production."""
    with _rollouts(ctx) as rollouts:
        state = rollouts.advance(name, actor=_actor(), reason=reason)
    _print_state(state)


@rollout_app.command("abort")
def abort_cmd(
    ctx: typer.Context,
    name: Name,
    reason: Annotated[str, typer.Option(help="why: recorded in the audit log")] = "",
) -> None:
    """Stop the canary: it serves nobody from now on; production is unchanged."""
    if not reason.strip():
        err.print("abort needs --reason TEXT: the audit log records why")
        raise typer.Exit(2)
    with _rollouts(ctx) as rollouts:
        state = rollouts.abort(name, actor=_actor(), reason=reason)
    _print_state(state)
