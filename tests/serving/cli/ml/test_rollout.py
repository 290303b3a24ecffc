"""`ragline ml rollout start|status|advance|abort` on a real MLflow SQLite store: exit codes,
what each prints, and the audit rows they leave."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.rollout import Rollouts
from ragline.mltrack.rollout.state import SignalReport
from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker
from ragline.mltrack.tracking.gates import GateInputs, PrimaryMetric
from ragline.mltrack.tracking.registry import ModelRegistry
from ragline.serving.cli.app import app
from tests.mltrack.conftest import write_tiny_model

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # mlflow's SQLAlchemy use
]

EVIDENCE = GateInputs(PrimaryMetric("auc", candidate_ci=(0.80, 0.84)), (), 24, (), True)


def test_rollout_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / ".ragline"
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    folder = write_tiny_model(tmp_path / "model")
    plan = ExperimentPlan("h", "sha256:0", "lightgbm")
    with Tracker(MltrackConfig(), data_dir) as tracker, tracker.start_run(plan) as run:
        pass
    registry = ModelRegistry(MltrackConfig(), data_dir)
    for _ in range(2):
        registry.register("churn", folder, run_id=run.run_id, actor="ana", command="t")
    registry.promote("churn", 1, "staging", EVIDENCE, actor="ana", force=True)
    registry.promote("churn", 1, "production", EVIDENCE, actor="ana", force=True)
    registry.promote("churn", 2, "staging", EVIDENCE, actor="ana", force=True)
    runner = CliRunner()

    result = runner.invoke(app, ["ml", "rollout", "status", "churn"])
    assert result.exit_code == 0 and "churn: no rollout yet" in result.output
    # the run recorded no training outcome: no evidence, so the gates cannot pass
    result = runner.invoke(app, ["ml", "rollout", "start", "churn", "2"])
    assert result.exit_code == 2 and "has no recorded outcome" in result.output
    result = runner.invoke(app, ["ml", "rollout", "start", "churn", "2", "--force"])
    assert result.exit_code == 2 and "--force needs --reason" in result.output
    args = ["ml", "rollout", "start", "churn", "2", "--force", "--reason", "hotfix"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "churn: canary version 2 vs production 1: running at 5%" in result.output
    assert "stages 5% -> 25% -> 50% -> 100%, judged every 200 canary requests" in result.output

    # a server published its windows
    rollouts = Rollouts(registry, MltrackConfig().rollout)
    state = rollouts.status("churn")
    assert state is not None
    now = datetime(2026, 12, 6, 12, 0, 5, tzinfo=UTC)
    rollouts.store.publish(
        state, [SignalReport("web-1:7", "canary", 2, 5, 42, 1, 3.25, 0.031, now)]
    )
    result = runner.invoke(app, ["ml", "rollout", "status", "churn"])
    assert result.exit_code == 0, result.output
    assert "stage 1 of 4 (5% -> 25% -> 50% -> 100%)" in result.output
    assert "web-1:7" in result.output and "0.031" in result.output and "3.2" in result.output
    assert "start 0% -> 5%: production 1; FORCED past" in result.output

    result = runner.invoke(app, ["ml", "rollout", "advance", "churn", "--reason", "by hand"])
    assert result.exit_code == 0 and "running at 25%" in result.output
    result = runner.invoke(app, ["ml", "rollout", "abort", "churn"])
    assert result.exit_code == 2 and "abort needs --reason" in result.output
    result = runner.invoke(app, ["ml", "rollout", "abort", "churn", "--reason", "wrong build"])
    assert result.exit_code == 0 and "aborted at 25% (wrong build)" in result.output
    result = runner.invoke(app, ["ml", "rollout", "advance", "churn"])
    assert result.exit_code == 2 and "no running rollout (the last one is aborted)" in result.output

    actions = [(e.action, e.version) for e in registry.history("churn")]
    assert actions[-3:] == [("canary-start", 2), ("canary-advance", 2), ("canary-abort", 2)]
    current = registry.current("churn", "production")
    assert current is not None and current.version == 1
    result = runner.invoke(app, ["ml", "list", "--model", "churn"])
    assert result.exit_code == 0 and "canary" in result.output  # rich wraps the cell
    registry.close()
