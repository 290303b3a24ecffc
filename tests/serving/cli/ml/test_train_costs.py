"""`ragline ml train` bills its compute: one "training" event per run in the real SQLite ledger,
priced at costs.training_usd_per_hour, under the run's own cost scope, so `ragline costs report
--by component` and `costs breakdown train-<run>` show it."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.mltrack.data.datasets import load_adult
from ragline.serving.cli.app import app
from tests.mltrack.adult_config import adult_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # mlflow's SQLAlchemy use
]


def test_training_compute_is_a_ledger_component(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("RAGLINE_COSTS__TRAINING_USD_PER_HOUR", "3600")  # $1 per second
    load_adult().sample(n=3000, random_state=0).to_csv(tmp_path / "adult.csv", index=False)
    config = tmp_path / "adult.yaml"
    config.write_text(adult_config(tmp_path / "adult.csv", "{hypothesis: t, register_as: m}"))
    runner = CliRunner()

    trained = runner.invoke(app, ["ml", "train", str(config), "--out", str(tmp_path / "run")])
    assert trained.exit_code == 0, trained.output
    found = re.search(
        r"training compute \$(\S+) \(ledger component training, request (\S+)\)", trained.stdout
    )
    assert found is not None, trained.stdout
    usd, scope = Decimal(found[1]), found[2]
    assert usd > 0 and scope.startswith("train-")

    report = runner.invoke(app, ["costs", "report", "--by", "component", "--format", "json"])
    assert report.exit_code == 0, report.output
    rows = {r["component"]: r for r in json.loads(report.stdout)}
    assert set(rows) == {"training"}
    assert Decimal(str(rows["training"]["usd"])) == usd
    assert int(rows["training"]["events"]) == 1

    breakdown = runner.invoke(app, ["costs", "breakdown", scope, "--format", "json"])
    assert breakdown.exit_code == 0, breakdown.output
    assert Decimal(str(json.loads(breakdown.stdout)["components"]["training"])) == usd
