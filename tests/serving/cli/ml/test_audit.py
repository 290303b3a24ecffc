"""`ragline ml audit verify` on a real MLflow SQLite store: exit 0 on an intact chain, exit 1
naming the first altered row once a row is edited behind the dropped triggers."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.tracking.audit import TABLE
from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker
from ragline.mltrack.tracking.registry import ModelRegistry
from ragline.serving.cli.app import app
from tests.mltrack.conftest import write_tiny_model

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # mlflow's SQLAlchemy use
]


def test_verify_passes_then_names_the_altered_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / ".ragline"
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    folder = write_tiny_model(tmp_path / "model")
    plan = ExperimentPlan("h", "sha256:0", "lightgbm")
    with Tracker(MltrackConfig(), data_dir) as tracker, tracker.start_run(plan) as run:
        pass
    registry = ModelRegistry(MltrackConfig(), data_dir)
    try:
        for _ in range(2):
            registry.register("churn", folder, run_id=run.run_id, actor="ana", command="t")
        ids = [e.id for e in registry.history("churn")]
    finally:
        registry.close()
    runner = CliRunner()

    result = runner.invoke(app, ["ml", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "audit log intact: 3 row(s) of 1 model(s)" in result.output

    engine = sa.create_engine(f"sqlite:///{data_dir / 'mlflow.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TRIGGER {TABLE}_no_update"))
        conn.execute(sa.text(f"UPDATE {TABLE} SET reason = 'quiet fix' WHERE id = {ids[1]}"))
    engine.dispose()
    result = runner.invoke(app, ["ml", "audit", "verify", "--model", "churn"])
    assert result.exit_code == 1, result.output
    assert f"broken at row {ids[1]} (churn version 1, archive)" in result.output
    assert "no longer match its hash" in result.output
