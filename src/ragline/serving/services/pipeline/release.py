"""The pipeline's stages that put a candidate in front of traffic: load test, canary, promote.

    check = load(ctx)      # p99 and errors of the candidate through the real predict path
    check = canary(ctx)    # after approval: a gradual rollout, driven until it ends
    check = promote(ctx)   # production: what the canary made it, or a gated first promotion

A model's first version has no production version to compare a canary with (the rollout
refuses to start without one), so its canary stage is ``skipped`` and `promote` moves it to
production through the gates, as `ragline ml promote --to production` does. A later version
starts a rollout (the production gates are checked first, GateRefused fails the stage) and
the canary stage sends rounds of predictions through the real app until the rollout is
promoted (passed) or rolled back / aborted (failed: production is unchanged).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragline.mltrack.errors import GateRefused
from ragline.serving.services.pipeline.checks import Check, Context
from ragline.serving.services.pipeline.traffic import drive_canary, load_test, request_rows

if TYPE_CHECKING:
    from ragline.mltrack.rollout import RolloutState
    from ragline.serving.services.load import LoadReport

__all__ = ["canary", "load", "promote", "rows_for_traffic"]


def rows_for_traffic(ctx: Context) -> list[dict[str, object]]:
    """Request rows: the test split of this run's training when it is at hand, else the first
    rows of the training data (the target dropped either way).

    Example:
        >>> rows_for_traffic(ctx)[0]["age"]  # doctest: +SKIP
        39
    """
    target = ctx.train.data.target
    prepared = ctx.outcome.result.prepared if ctx.outcome is not None else None
    if prepared is not None:
        return request_rows(prepared.frame.loc[prepared.split.test], target)
    from ragline.mltrack.tabular.data import load_frame

    return request_rows(load_frame(ctx.train.data), target)


def load(ctx: Context) -> Check:
    """`load_test.requests` predictions of the candidate; p99 <= max_p99_ms and no errors.

    Example:
        >>> load(ctx).numbers["p99_ms"]  # doctest: +SKIP
        7.1
    """
    spec = ctx.config.load_test
    report = load_test(ctx.settings, ctx.model, rows_for_traffic(ctx), spec)
    numbers = {
        "requests": float(report.requests),
        "errors": float(report.errors),
        "rps": report.rps,
        "p50_ms": report.p50_ms,
        "p99_ms": report.p99_ms,
        "max_p99_ms": spec.max_p99_ms,
    }
    detail = (
        f"{report.requests} requests at {report.rps:.0f} rps: p50 {report.p50_ms:.1f} ms, "
        f"p99 {report.p99_ms:.1f} ms (max {spec.max_p99_ms:g}), {report.errors} errors"
    )
    ok = report.errors == 0 and report.p99_ms <= spec.max_p99_ms
    return Check("passed" if ok else "failed", numbers, detail)


def canary(ctx: Context) -> Check:
    """Start a rollout of the staged candidate and drive it with predictions until it ends.

    Example:
        >>> canary(ctx).status  # doctest: +SKIP
        'passed'
    """
    from ragline.mltrack.rollout import Rollouts
    from ragline.mltrack.rollout.evidence import gate_evidence
    from ragline.mltrack.tracking.experiments import ExperimentPlan
    from ragline.mltrack.tracking.registry import ModelRegistry

    name, version = ctx.model
    settings = ctx.settings
    registry = ModelRegistry(settings.ml, settings.data_dir)
    try:
        production = registry.current(name, "production")
        if production is None:
            return Check("skipped", {}, "no production version yet: the first one is promoted")
        inputs = gate_evidence(registry, name, version)
        actor = ExperimentPlan("", "", "").actor
        why = f"pipeline run {ctx.record.id}"
        try:
            Rollouts(registry, settings.ml.rollout).start(
                name, version, inputs, actor=actor, reason=why
            )
        except GateRefused as exc:
            return Check("failed", {}, str(exc).replace("\n", " "))
    finally:
        registry.close()

    def said(n: int, report: LoadReport, state: RolloutState) -> None:
        served = ", ".join(f"v{v}: {k}" for v, k in report.versions.items())
        ctx.say(f"canary round {n}: {served}; rollout {state.status} at {state.percent}%")

    rows, spec = rows_for_traffic(ctx), ctx.config.canary
    state, rounds = drive_canary(settings, name, rows, spec, on_round=said)
    numbers = {"rounds": float(rounds), "percent": float(state.percent)}
    steps = "; ".join(state.steps)
    if state.status == "promoted":
        return Check("passed", numbers, f"promoted after {rounds} rounds: {steps}")
    return Check("failed", numbers, f"{state.status}: {state.reason}; {steps}")


def promote(ctx: Context) -> Check:
    """Production: confirm the canary's promotion, or promote a first version through the
    gates; the experiment's verdict becomes ``promoted``.

    Example:
        >>> promote(ctx).detail  # doctest: +SKIP
        'adult-income:4 in production (canary)'
    """
    from ragline.mltrack.tabular.jobs import promote_job
    from ragline.mltrack.tracking.experiments import Tracker
    from ragline.mltrack.tracking.registry import ModelRegistry

    name, version = ctx.model
    settings = ctx.settings
    canaried = ctx.record.result("canary")
    if canaried is None or canaried.status == "skipped":
        try:
            promote_job(name, version, "production", settings.ml, settings.data_dir)
        except GateRefused as exc:
            return Check("failed", {}, str(exc).replace("\n", " "))
        return Check("passed", {"version": float(version)}, f"{name}:{version} in production")
    registry = ModelRegistry(settings.ml, settings.data_dir)
    try:
        current = registry.current(name, "production")
        run_id = registry.version(name, version).run_id
    finally:
        registry.close()
    if current is None or current.version != version:
        now = "none" if current is None else current.version
        return Check(
            "failed", {}, f"the canary ended but production is version {now}, not {version}"
        )
    if run_id is not None:
        with Tracker(settings.ml, settings.data_dir) as tracker:
            record, _ = tracker.for_run(run_id)
            tracker.set_verdict(record, "promoted")
    return Check("passed", {"version": float(version)}, f"{name}:{version} in production (canary)")
