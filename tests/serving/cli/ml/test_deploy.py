"""`ragline deploy plan` on a real model: LightGBM trained on 3,000 UCI Adult rows and registered
in a real MLflow registry (SQLite). The embedded branch writes a settings file that the real
settings loader accepts; --batch and a tight --latency-ms write YAML plans; bad input exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.tabular.config import load_train_config
from ragline.mltrack.tabular.jobs import train_job
from ragline.serving.cli.ml.deploy import deploy_app
from ragline.serving.settings import load_settings
from tests.mltrack.adult_config import adult_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # mlflow's SQLAlchemy use
]

app = typer.Typer()
app.add_typer(deploy_app, name="deploy")  # as the lead registers it on ragline's root app


@app.callback()
def _root(ctx: typer.Context) -> None:
    """A stand-in for ragline's root app (no --config: defaults and RAGLINE_* env)."""
    ctx.obj = None


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose registry holds adult-test version 1 (development), and adult.csv."""
    root = tmp_path_factory.mktemp("deploy")
    load_adult().sample(n=3000, random_state=0).to_csv(root / "adult.csv", index=False)
    experiment = "{hypothesis: deploy test, register_as: adult-test}"
    (root / "c.yaml").write_text(adult_config(root / "adult.csv", experiment))
    config = load_train_config(root / "c.yaml")
    outcome = train_job(config, MltrackConfig(), root / ".ragline", root / "run")
    assert outcome.version is not None and outcome.version.version == 1
    return root


@pytest.fixture
def run(registered: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(registered / ".ragline"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    return CliRunner()


def plan(runner: CliRunner, *args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, ["deploy", "plan", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_a_fast_small_model_gets_a_serving_config_that_serve_loads(
    run: CliRunner, registered: Path, tmp_path: Path
) -> None:
    out = tmp_path / "serve.yaml"
    code, stdout, stderr = plan(
        run, "--model", "adult-test", "--version", 1, "--data", registered / "adult.csv",
        "--rps", 50, "--out", out,
    )  # fmt: skip
    assert code == 0, stderr
    assert "adult-test:1: lightgbm-text" in stdout and "over 200 predictions" in stdout
    assert "batch consumer? no (callers wait)" in stdout
    assert "p95 < 100 ms? yes" in stdout and "size < 500 MB? yes" in stdout
    assert "-> embedded FastAPI (ragline serve)" in stdout
    settings = load_settings(out)
    assert settings.data_dir == registered / ".ragline"
    assert settings.serve.workers >= 1
    text = out.read_text()
    assert "POST /v1/predict/adult-test" in text and f"ragline -c {out} serve" in text


def test_a_batch_consumer_gets_a_batch_plan(run: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "batch.yaml"
    code, stdout, stderr = plan(run, "--model", "adult-test", "--stage", "development",
                                "--batch", "--out", out)  # fmt: skip
    assert code == 0, stderr
    assert "-> a batch job" in stdout
    document = yaml.safe_load(out.read_text())
    assert document["deploy"]["target"] == "batch_job"
    assert document["deploy"]["model"] == "adult-test:1"
    path = [{"question": "batch consumer?", "answer": True, "evidence": "reads in batches"}]
    assert document["deploy"]["path"] == path
    assert document["batch_job"]["chunk_rows"] >= 1000
    assert document["deploy"]["measured"]["size_bytes"] > 1000


def test_a_budget_below_the_measured_latency_gets_an_async_queue(
    run: CliRunner, registered: Path, tmp_path: Path
) -> None:
    out = tmp_path / "queue.yaml"
    code, stdout, stderr = plan(run, "--dir", registered / "run" / "model", "--latency-ms",
                                0.001, "--repeats", 20, "--out", out)  # fmt: skip
    assert code == 0, stderr
    assert "p95 < 0.001 ms? no" in stdout and "-> an async queue" in stdout
    document = yaml.safe_load(out.read_text())
    assert document["deploy"]["target"] == "async_queue"
    assert document["async_queue"]["visibility_timeout_s"] >= 1.0


def test_bad_input_exits_2_and_writes_nothing(
    run: CliRunner, registered: Path, tmp_path: Path
) -> None:
    out = tmp_path / "x.yaml"
    cases = [
        (("--model", "adult-test"), "adult-test has no production version"),
        (("--model", "adult-test", "--version", 9), "has no version 9"),
        (("--model", "nope", "--version", 1), "'nope'"),
        ((), "give exactly one of --model NAME"),
        (("--model", "a", "--dir", registered), "give exactly one of"),
        (("--dir", registered / "nothing-here"), "no model.json"),
        (("--model", "adult-test", "--stage", "live"), "--stage 'live'"),
    ]
    for args, message in cases:
        code, _, stderr = plan(run, *args, "--out", out)
        assert code == 2 and message in stderr, (args, stderr)
        assert not out.exists()
    out.write_text("# mine\n")
    code, _, stderr = plan(run, "--model", "adult-test", "--version", 1, "--out", out)
    assert code == 2 and "pass --force" in stderr and out.read_text() == "# mine\n"


BRIEF = """name: t
business_objective: mail likely high earners
success_metric: {description: share of letters to high earners, metric: roc_auc}
baseline: {description: married and a degree}
task_type: binary_classification
prediction: {target: income, consumer: the mailing job}
latency: LATENCY
data: {available: [census extract]}
ethics: {considerations: [income differs by sex]}
kill_criteria: [{kind: not_significant}]
"""


def test_the_briefs_latency_section_sets_the_needs(
    run: CliRunner, registered: Path, tmp_path: Path
) -> None:
    brief, model = tmp_path / "brief.yaml", ("--dir", registered / "run" / "model")
    brief.write_text(BRIEF.replace("LATENCY", "{mode: online, p95_ms: 0.001}"))
    code, stdout, stderr = plan(run, *model, "--brief", brief, "--repeats", 20,
                                "--out", tmp_path / "a.yaml")  # fmt: skip
    assert code == 0, stderr
    assert "needs from" in stderr and "p95 < 0.001 ms? no" in stdout
    code, stdout, stderr = plan(run, *model, "--brief", brief, "--latency-ms", 5000,
                                "--repeats", 20, "--out", tmp_path / "b.yaml")  # fmt: skip
    assert code == 0 and "p95 < 5000 ms? yes" in stdout, stderr  # the flag wins
    brief.write_text(BRIEF.replace("LATENCY", "{mode: batch}"))
    code, stdout, stderr = plan(run, *model, "--brief", brief, "--repeats", 20,
                                "--out", tmp_path / "c.yaml")  # fmt: skip
    assert code == 0 and "-> a batch job" in stdout, stderr
    brief.write_text("name: t\n")
    code, _, stderr = plan(run, *model, "--brief", brief, "--out", tmp_path / "d.yaml")
    assert code == 2 and "invalid problem brief" in stderr
