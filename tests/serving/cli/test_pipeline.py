"""`ragline pipeline`: the workflow it prints is the example's, bad usage exits 2, and a
deliberately unfair model stops at the fairness stage with the ratio it measured (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.tracking.registry import ModelRegistry
from ragline.serving.cli.app import app
from ragline.serving.cli.pipeline import stage_line
from ragline.serving.settings import load_settings
from tests.mltrack.adult_config import adult_config
from tests.paths import REPO

UNFAIR = """
name: unfair
train: unfair-train.yaml
fairness: {protected: [sex], min_disparate_impact: 0.25, max_calibration_gap: 0.2}
load_test: {requests: 20, max_p99_ms: 5000}
"""


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    return CliRunner()


@pytest.mark.unit
def test_workflow_prints_the_example(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = runner.invoke(app, ["pipeline", "workflow", "configs/pipelines/adult.yaml"])
    assert result.exit_code == 0, result.output
    example = REPO / "examples" / "github-actions" / "ml-pipeline.yml"
    assert result.stdout == example.read_text()


@pytest.mark.unit
def test_bad_usage_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["pipeline", "run", "configs/pipelines/adult.yaml", "--trigger", "push"]
    )
    assert result.exit_code == 2 and "use one of code, data, model, schedule" in result.output
    result = runner.invoke(app, ["pipeline", "run", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2 and "no such file" in result.output
    result = runner.invoke(app, ["pipeline", "approve", "adult-nope", "--by", "ana"])
    assert result.exit_code == 2 and "no pipeline run 'adult-nope'" in result.output


@pytest.mark.unit
def test_stage_line_shows_status_numbers_and_seconds() -> None:
    from ragline.mltrack.pipeline.record import StageResult

    line = stage_line(
        StageResult("fairness", "failed", 0.012, {"disparate_impact.sex": 0.0}, "low")
    )
    assert line == "  fairness   failed    disparate_impact.sex=0  0.0 s  low"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # MLflow's SQLAlchemy use
def test_an_unfair_model_stops_at_the_fairness_gate(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "adult.csv"
    load_adult().sample(n=4000, random_state=2).to_csv(data, index=False)
    train = adult_config(
        data, "{hypothesis: sex decides, register_as: unfair}", numeric="age, hours-per-week"
    )
    # only sex among the categoricals: the model's selections follow it
    train = train.replace("[relationship, marital-status, sex]", "[sex]")
    (tmp_path / "unfair-train.yaml").write_text(train)
    (tmp_path / "unfair.yaml").write_text(UNFAIR)

    result = runner.invoke(app, ["pipeline", "run", str(tmp_path / "unfair.yaml")])

    assert result.exit_code == 1, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    assert list(lines) == ["quality", "leakage", "train", "golden", "fairness"]
    fairness = lines["fairness"]
    assert "failed" in fairness and "for sex=Female vs Male is below 0.25" in fairness
    ratio = float(fairness.split("disparate_impact.sex=")[1].split()[0])
    assert ratio < 0.25
    assert "failed (unfair:1)" in result.stdout
    settings = load_settings(None)
    registry = ModelRegistry(settings.ml, settings.data_dir)
    try:  # registered in development by training, and no further
        assert registry.version("unfair", 1).stage == "development"
        assert registry.current("unfair", "production") is None
    finally:
        registry.close()
