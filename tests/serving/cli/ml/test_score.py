"""`ragline score` end to end: a real LightGBM on 4,000 UCI Adult rows trained, registered and
promoted through staging to production on a SQLite MLflow store, a real cost ledger, then the
score read back as a table, as JSON and through the Typer command."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console
from typer.testing import CliRunner

from ragline.core.costs import CostEvent
from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.costs.config import CostsConfig, LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.method.score import band
from ragline.mltrack.tabular.config import load_train_config
from ragline.mltrack.tabular.jobs import promote_job, train_job
from ragline.serving.cli.ml.score import run_score, score_app
from ragline.serving.settings import Settings, load_settings
from tests.mltrack.adult_config import adult_config

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)  # the score's clock: the test holds on any date
RECORDED = (NOW - timedelta(hours=1)).timestamp()  # prediction costs recorded an hour before

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # mlflow's SQLAlchemy use
]
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
MODEL = "adult-score"
EXPERIMENT = (
    f"{{hypothesis: boosted trees beat the majority class, register_as: {MODEL}, "
    "intended_use: teaching income-bracket classification, "
    "out_of_scope: decisions about real people, limitations: [1994 US census extract]}"
)


def write_config(
    path: Path,
    data: Path,
    kind: str = "lightgbm",
    numeric: str = "age, education-num, hours-per-week",
) -> Path:
    path.write_text(adult_config(data, EXPERIMENT, kind, numeric))
    return path


@dataclass(frozen=True)
class Setup:
    data_dir: Path
    config: Path
    settings: Settings


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    """Train, register and promote once for the module; record prediction costs."""
    root = tmp_path_factory.mktemp("score")
    data_dir = root / ".ragline"
    load_adult().sample(n=4000, random_state=0).to_csv(root / "adult.csv", index=False)
    config = write_config(root / "adult.yaml", root / "adult.csv")
    ml = MltrackConfig()
    costs = CostsConfig(ledger=LedgerConfig(monthly_budget_usd=Decimal(1000)))
    outcome = train_job(load_train_config(config), ml, data_dir, root / "run")
    assert outcome.version is not None and outcome.leakage.clean
    for stage in ("staging", "production"):
        promote_job(MODEL, outcome.version.version, stage, ml, data_dir)
    with Ledger(costs.ledger, data_dir) as ledger:
        for i in range(2):
            event = CostEvent(
                "prediction", f"{MODEL}:1", 0, 0, 0, 500, Decimal("0.001"), f"r{i}", RECORDED
            )
            ledger.record(event)
    return Setup(data_dir, config, Settings(data_dir=data_dir, ml=ml, costs=costs))


def score(setup: Setup, *args: str, model: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_score(
        setup.settings,
        model,
        Console(file=out, width=200),
        Console(file=err, width=200),
        configs=[setup.config],
        as_json="--json" in args,
        now=NOW,
    )
    return code, out.getvalue(), err.getvalue()


def test_score_reflects_training_promotion_and_costs(setup: Setup) -> None:
    code, output, errors = score(setup, "--json")
    assert code == 0, errors
    report = json.loads(output)
    assert report["model"] == MODEL and report["max"] == 40
    dims = {d["name"]: d for d in report["dimensions"]}
    deployment = dims["deployment"]
    assert deployment["score"] == 4, deployment  # no earlier production to roll back to
    assert f"{MODEL} version 1 in production" in deployment["rests_on"]
    assert "production went through staging" in deployment["rests_on"]
    assert any("roll back" in h for h in deployment["to_raise"])
    rigour = dims["experiment rigour"]
    assert rigour["score"] == 4, rigour  # one experiment: nothing to compare with
    assert "leakage checks ran and found nothing" in rigour["rests_on"]
    assert any(r.startswith("dataset version sha256:") for r in rigour["rests_on"])
    assert rigour["to_raise"] == ["run a second experiment to compare with"]
    assert dims["problem framing"]["score"] == 5
    assert dims["data quality"]["score"] >= 3
    performance = dims["model performance"]
    assert "calibration measured (ECE)" in performance["rests_on"]
    assert "fairness measured" in performance["rests_on"]
    assert any("ragline eval" in h for h in performance["to_raise"])  # no eval runs yet
    cost = dims["cost efficiency"]
    assert cost["score"] == 5, cost
    assert "$0.002 per 1k predictions" in cost["rests_on"]
    assert dims["monitoring"]["score"] == 2  # ledger events, recent; no alerts or drift yet
    assert report["total"] == sum(d["score"] for d in report["dimensions"])
    assert report["total_100"] == sum(d["weighted"] for d in report["dimensions"])
    assert report["total_100"] == sum(
        d["score"] * d["weight"] // d["max"] for d in report["dimensions"]
    )
    assert sum(d["weight"] for d in report["dimensions"]) == 100
    assert report["band"] == band(report["total_100"])


def test_table_names_each_dimension_and_the_total(setup: Setup) -> None:
    code, output, _ = score(setup, model=MODEL)
    assert code == 0
    for name in ("problem framing", "experiment rigour", "deployment", "cost efficiency"):
        assert name in output
    assert "total " in output and "/100: " in output and "rests on" in output
    assert "points)" in output and "weighted" in output


def test_unknown_model_or_config_is_bad_input(setup: Setup, tmp_path: Path) -> None:
    code, _, errors = score(setup, model="no-such-model")
    assert code == 2 and "no registered model 'no-such-model'" in errors
    broken = Setup(setup.data_dir, tmp_path / "missing.yaml", setup.settings)
    code, _, errors = score(broken)
    assert code == 2 and "no such file" in errors


def test_the_typer_command(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(setup.data_dir))
    assert load_settings().data_dir == setup.data_dir
    runner = CliRunner()
    result = runner.invoke(score_app, ["--config", str(setup.config), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["model"] == MODEL  # the most recently registered one
    assert {d["name"]: d["score"] for d in report["dimensions"]}["deployment"] == 4
    result = runner.invoke(score_app, ["--model", "nope", "--config", str(setup.config)])
    assert result.exit_code == 2


def test_an_empty_data_dir_scores_low_with_notes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / ".ragline", ml=MltrackConfig())
    out = io.StringIO()
    code = run_score(settings, None, Console(file=out, width=200), Console(), configs=[])
    assert code == 0
    text = out.getvalue()
    assert "no tracking store" in text and "no cost ledger" in text
    assert "set costs.ledger.monthly_budget_usd" in text
    assert not (tmp_path / ".ragline").exists()  # a report writes nothing


def test_a_better_successor_and_a_rollback_target_earn_the_remaining_points(
    tmp_path: Path,
) -> None:
    """A weak first production (logistic regression on age), then a stronger LightGBM promoted
    over it through the gates: two experiments, a predecessor beaten, a rollback target."""
    data_dir, data = tmp_path / ".ragline", tmp_path / "adult.csv"
    load_adult().sample(n=4000, random_state=1).to_csv(data, index=False)
    ml = MltrackConfig()
    weak = write_config(tmp_path / "weak.yaml", data, "sklearn-logreg", "age")
    strong = write_config(tmp_path / "strong.yaml", data)
    for number, config in enumerate((weak, strong), start=1):
        outcome = train_job(load_train_config(config), ml, data_dir, tmp_path / f"r{number}")
        assert outcome.version is not None and outcome.version.version == number
        for stage in ("staging", "production"):
            promote_job(MODEL, number, stage, ml, data_dir)
    engine = sa.create_engine(f"sqlite:///{data_dir / 'mlflow.db'}")
    with (
        engine.begin() as conn
    ):  # what ragline.mltrack.monitor.alerts and a stored drift check leave behind
        conn.execute(sa.text("CREATE TABLE ragline_alert_state (rule TEXT, key TEXT)"))
        conn.execute(sa.text("INSERT INTO ragline_alert_state VALUES ('auc-low', 'adult')"))
        conn.execute(sa.text("CREATE TABLE ragline_drift_checks (id INTEGER)"))
    engine.dispose()
    setup = Setup(data_dir, strong, Settings(data_dir=data_dir, ml=ml))
    code, output, errors = score(setup, "--json")
    assert code == 0, errors
    dims = {d["name"]: d for d in json.loads(output)["dimensions"]}
    assert dims["deployment"]["score"] == 5, dims["deployment"]
    assert dims["experiment rigour"]["score"] == 5, dims["experiment rigour"]
    assert "production beats its predecessor" in dims["model performance"]["rests_on"]
    assert "2 experiments to compare" in dims["experiment rigour"]["rests_on"]
    monitoring = dims["monitoring"]
    assert monitoring["score"] == 2, monitoring  # alert table and its row; no ledger, no drift
    assert "1 alert state row(s)" in monitoring["rests_on"]
    assert any("drift" in h for h in monitoring["to_raise"])
