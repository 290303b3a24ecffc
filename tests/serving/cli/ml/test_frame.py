"""`ragline frame` end to end on UCI Adult: write a template and refuse to overwrite it, refuse an
empty success metric, decide ML or rules on the data, and fail when a real experiment meets a
kill criterion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
import yaml
from typer.testing import CliRunner

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.method.decide import QUESTIONS
from ragline.serving.cli.ml.frame import frame_command
from tests.mltrack.adult_config import NOISE_CONFIG
from tests.paths import REPO

EXAMPLE = REPO / "configs" / "briefs" / "adult-income.yaml"
Invoke = Callable[..., tuple[int, str]]


def cli() -> typer.Typer:
    """`frame` under a root callback, as ragline.serving.cli.app registers it."""
    app = typer.Typer()

    @app.callback()
    def _main(ctx: typer.Context) -> None:
        ctx.obj = None

    app.command("frame")(frame_command)
    return app


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    runner, app = CliRunner(), cli()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["frame", *args])
        return result.exit_code, result.output

    return invoke


def adult_brief(folder: Path, rows: int = 5000, noise: bool = False) -> Path:
    frame = load_adult().sample(n=rows, random_state=0)
    if noise:
        frame["noise"] = np.random.default_rng(0).normal(size=len(frame))
    frame.to_csv(folder / "adult.csv", index=False)
    raw: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    raw["data"]["path"] = "adult.csv"
    path = folder / "adult-brief.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.unit
def test_the_template_is_written_once_and_refused_until_filled(run: Invoke, tmp_path: Path) -> None:
    code, output = run()
    assert code == 0 and "wrote brief.yaml" in output
    written = (tmp_path / "brief.yaml").read_text()
    code, output = run()
    assert code == 2 and "exists" in output
    assert (tmp_path / "brief.yaml").read_text() == written  # untouched
    code, output = run("brief.yaml")
    assert code == 2
    assert "success_metric.description: empty" in output and "baseline.description: empty" in output
    assert not (tmp_path / "brief.md").exists()
    # a path that does not exist yet gets the template too; --decide needs a real brief
    code, output = run("churn.yaml")
    assert code == 0 and (tmp_path / "churn.yaml").is_file()
    code, output = run("other.yaml", "--decide")
    assert code == 2 and "--decide needs a filled-in brief" in output


@pytest.mark.integration
def test_validate_and_decide_on_adult(run: Invoke, tmp_path: Path) -> None:
    path = adult_brief(tmp_path)
    code, output = run(str(path), "--decide")
    assert code == 0, output
    assert "adult-income: valid brief" in output
    assert "none recorded" in output and not (tmp_path / ".ragline" / "mlflow.db").exists()
    assert output.count("no_evidence") == 3
    for question in QUESTIONS.values():
        assert question in output
    assert "5,000 rows with income filled in" in output
    [line] = [x for x in output.splitlines() if x.startswith("recommendation")]
    recommendation = line.split(maxsplit=1)[1]
    assert recommendation in ("ml", "rules first", "rules")
    page = (tmp_path / "adult-brief.decision.md").read_text()
    assert f"**Recommendation: {recommendation}**" in page
    summary = (tmp_path / "adult-brief.md").read_text()
    assert "# Problem brief: adult-income" in summary and "| no evidence |" in summary


@pytest.mark.unit
def test_an_unreadable_table_is_bad_input(run: Invoke, tmp_path: Path) -> None:
    path = adult_brief(tmp_path, rows=100)
    code, output = run(str(path), "--decide", "--data", "missing.csv", "--no-report")
    assert code == 2 and "missing.csv does not exist" in output
    assert not (tmp_path / "adult-brief.md").exists()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # mlflow's SQLAlchemy use
def test_a_met_kill_criterion_exits_1(run: Invoke, tmp_path: Path) -> None:
    from ragline.mltrack.tabular.config import load_train_config
    from ragline.mltrack.tabular.jobs import train_job

    path = adult_brief(tmp_path, rows=3000, noise=True)
    (tmp_path / "noise.yaml").write_text(NOISE_CONFIG.format(data=tmp_path / "adult.csv"))
    config = load_train_config(tmp_path / "noise.yaml")
    exp = train_job(config, MltrackConfig(), tmp_path / ".ragline", tmp_path / "run").experiment_id
    code, output = run(str(path))
    assert code == 1, output
    assert f"checked against {exp}" in output
    [line] = [x for x in output.splitlines() if "beats random" in x]
    assert line.strip().startswith("met") and "chance 0.5000" in line
    assert "kill criteria met: " in output and "beats_random_by" in output
    assert "| met |" in (tmp_path / "adult-brief.md").read_text()
    # only the runs named count; a malformed id is bad input
    code, output = run(str(path), "--experiment", exp, "--no-report")
    assert code == 1 and f"checked against {exp}" in output
    code, output = run(str(path), "--experiment", "EXP-yesterday")
    assert code == 2 and "is not an experiment id" in output


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # mlflow's SQLAlchemy use
def test_runs_on_another_table_are_not_evidence(run: Invoke, tmp_path: Path) -> None:
    """Issue 21: a strong model trained on another table cleared this brief's kill criteria."""
    from ragline.mltrack.tabular.config import load_train_config
    from ragline.mltrack.tabular.jobs import train_job
    from tests.mltrack.adult_config import adult_config

    path = adult_brief(tmp_path, rows=500)  # the brief's table: adult.csv
    load_adult().sample(n=3000, random_state=7).to_csv(tmp_path / "other.csv", index=False)
    (tmp_path / "other.yaml").write_text(adult_config(tmp_path / "other.csv", "{hypothesis: o}"))
    config = load_train_config(tmp_path / "other.yaml")
    exp = train_job(config, MltrackConfig(), tmp_path / ".ragline", tmp_path / "run").experiment_id
    code, output = run(str(path), "--no-report")
    assert code == 0, output
    assert f"checked against {exp}" not in output and "no evidence yet" in output
    assert f"left out        1 run(s) of another target or dataset: {exp}" in output
    assert output.count("no_evidence") == 3
