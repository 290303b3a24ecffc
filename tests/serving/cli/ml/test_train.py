"""`ragline ml` end to end on real data (5,000 rows of UCI Adult) and a real MLflow store.

Train and register, promote through the gates, a weaker candidate refused by name, a forced
promotion rolled back in one step, a leaky config refused, a table under the quality bar
refused, and a registered model evaluated on labelled rows.
"""

from __future__ import annotations

from collections.abc import Callable
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
Invoke = Callable[..., tuple[int, str]]


def write_config(
    folder: Path, name: str, kind: str, numeric: str = "age, education-num, hours-per-week"
) -> Path:
    path = folder / f"{name}.yaml"
    experiment = f"{{hypothesis: {name}, register_as: adult-test}}"
    text = adult_config(folder / "adult.csv", experiment, kind, numeric)
    path.write_text(text)
    return path


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    frame = load_adult().sample(n=5000, random_state=0)
    frame["leak"] = frame["income"] * 2 + 1  # a feature that is the target in disguise
    frame.to_csv(tmp_path / "adult.csv", index=False)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["ml", *args])
        return result.exit_code, result.output

    return invoke


def test_train_promote_refuse_force_and_roll_back(run: Invoke, tmp_path: Path) -> None:
    strong = write_config(tmp_path, "strong", "lightgbm")
    code, output = run("train", str(strong), "--out", str(tmp_path / "r1"))
    assert code == 0, output
    assert "registered adult-test:1 in development" in output and "leakage clean" in output
    assert "roc_auc" in output and "baseline 0.5000" in output
    for stage in ("staging", "production"):
        code, output = run("promote", "adult-test", "1", "--to", stage)
        assert code == 0, output
        assert f"adult-test:1 is now in {stage}" in output

    # a weaker candidate: one numeric feature, logistic regression
    weak = write_config(tmp_path, "weak", "sklearn-logreg", numeric="age")
    code, output = run("train", str(weak), "--out", str(tmp_path / "r2"))
    assert code == 0, output
    assert "registered adult-test:2" in output
    [weak_exp] = [x.split()[0] for x in output.splitlines() if x.startswith("EXP-")]
    code, output = run("promote", "adult-test", "2", "--to", "staging")
    assert code == 1, output
    assert "refused" in output and "beats-production" in output

    # --force needs a reason; forced past the gates (audited), then rolled back in one step
    code, output = run("promote", "adult-test", "2", "--to", "staging", "--force")
    assert code == 2 and "--force needs --reason" in output, output
    for stage in ("staging", "production"):
        code, output = run(
            "promote", "adult-test", "2", "--to", stage, "--force", "--reason", "demo for QA"
        )
        assert code == 0, output
    code, output = run("rollback", "adult-test", "--reason", "AUC dropped")
    assert code == 0, output
    assert "production is version 1 again" in output
    code, output = run("list", "--model", "adult-test")
    assert code == 0, output
    assert "rollback" in output and "refuse" in output

    code, output = run("card", "adult-test@production", "--out", str(tmp_path / "card.md"))
    assert code == 0, output
    card = (tmp_path / "card.md").read_text()
    assert "# Model card: adult-test version 1" in card and "## Fairness" in card
    assert "rollback" in card and "disparate impact" in card

    code, output = run("evaluate", "adult-test@production", str(tmp_path / "adult.csv"))
    assert code == 0, output
    assert "roc_auc" in output and "5000 rows" in output
    code, output = run("list")
    assert code == 0 and "promoted" in output and "2 experiments" in output
    # version 2 was rolled back out of production: its experiment is no longer "promoted"
    [row] = [x for x in output.splitlines() if weak_exp in x]
    assert "archived" in row and "promoted" not in row, output


def test_leaky_config_is_refused_and_not_registered(run: Invoke, tmp_path: Path) -> None:
    leaky = write_config(tmp_path, "leaky", "lightgbm", numeric="age, leak")
    code, output = run("leakage", str(leaky))
    assert code == 1, output
    assert "target_derived_features" in output and "leak" in output
    code, output = run("train", str(leaky), "--out", str(tmp_path / "r"))
    assert code == 1, output
    assert "registered" not in output and "finding" in output


def test_low_quality_data_is_refused_unless_forced(run: Invoke, tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    load_adult().head(60).to_csv(small, index=False)
    code, output = run("quality", str(small), "--target", "income")
    assert code == 1, output
    assert "volume" in output and "below the threshold" in output
    config = write_config(tmp_path, "small", "lightgbm")
    config.write_text(config.read_text().replace(str(tmp_path / "adult.csv"), str(small)))
    code, output = run("train", str(config), "--out", str(tmp_path / "r"))
    assert code == 1, output
    assert "refused" in output and "quality" in output


def test_tune_runs_a_study_and_logs_it(run: Invoke, tmp_path: Path) -> None:
    config = write_config(tmp_path, "tuned", "lightgbm")
    code, output = run("tune", str(config), "--trials", "3", "--out", str(tmp_path / "r"))
    assert code == 0, output
    assert ", 3 trials" in output and "registered adult-test:1" in output


def test_a_model_trained_on_positive_label_0_evaluates_as_trained(
    run: Invoke, tmp_path: Path
) -> None:
    """`ml evaluate` scores the class the model was trained on, not the larger label (issue 21:
    a positive_label 0 model read 0.0029 ROC-AUC, and `monitor retrain` fired on it)."""
    config = write_config(tmp_path, "low", "lightgbm")
    config.write_text(config.read_text().replace("positive_label: 1", "positive_label: 0"))
    code, output = run("train", str(config), "--out", str(tmp_path / "r"))
    assert code == 0, output
    trained = float(next(x for x in output.splitlines() if "roc_auc" in x).split()[1])
    code, output = run("evaluate", "adult-test:1", str(tmp_path / "adult.csv"))
    assert code == 0, output
    evaluated = float(next(x for x in output.splitlines() if "roc_auc" in x).split()[1])
    # all 5,000 rows (the test quarter among them): close to the held-out score, not 1 - it
    assert trained > 0.8 and abs(evaluated - trained) < 0.05, (trained, evaluated)
