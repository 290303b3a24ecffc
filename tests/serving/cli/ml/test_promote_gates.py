"""`ragline ml promote`'s fairness and golden-set gates on real models and a real MLflow store.

A model whose label (and so its decisions) depends on a protected attribute is refused with the
measured ratio; a fair one passes; on a shared golden set a better candidate passes and a worse
one is refused; ``--force`` needs ``--reason``, which lands in the (still intact) audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.tracking.registry import ModelRegistry
from ragline.serving.cli.app import app

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # mlflow's SQLAlchemy use
]
Invoke = Callable[..., tuple[int, str]]
CONFIG = """
experiment: {{hypothesis: {name}, register_as: {model}}}
data: {{path: {data}, target: {target}, task: classification, positive_label: 1}}
split: {{kind: stratified, test_size: 0.3, valid_size: 0.2, seed: 0}}
features:
  numeric: [{{columns: [{numeric}]}}]
  categorical: [{{columns: [group], encoding: onehot}}]
baseline: {{kind: majority}}
model: {{kind: {kind}, rounds: 40, early_stopping: 10, threads: 1}}
metrics: {{primary: roc_auc, resamples: 200}}
quality: {{target: {target}, min_rows: 1000, min_rows_per_class: 100, declared: {{timeliness: 2}}}}
"""


def rows(n: int, seed: int) -> pd.DataFrame:
    """x1, x2 and a group; `fair` depends on x1 and x2 only, `unfair` mostly on the group."""
    rng = np.random.default_rng(seed)
    x1, x2, noise = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    group = rng.choice(["A", "B"], size=n)
    fair = (x1 + 0.7 * x2 + 0.5 * noise > 0).astype(int)
    unfair = (x1 + 1.2 * (group == "A") - 0.6 + 0.5 * noise > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "group": group, "fair": fair, "unfair": unfair})


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    rows(4000, 0).to_csv(tmp_path / "rows.csv", index=False)
    rows(1500, 1).to_csv(tmp_path / "golden.csv", index=False)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["ml", *args])
        return result.exit_code, result.output

    return invoke


def train(run: Invoke, folder: Path, name: str, extra: str, **fields: str) -> None:
    values = {"model": "m", "target": "fair", "numeric": "x1, x2", "kind": "lightgbm"} | fields
    config = folder / f"{name}.yaml"
    text = CONFIG.format(name=name, data=folder / "rows.csv", **values)
    config.write_text(text + extra)
    code, output = run("train", str(config), "--out", str(folder / name))
    assert code == 0, output


def test_unfair_model_is_refused_with_its_ratio_unless_forced_with_a_reason(
    run: Invoke, tmp_path: Path
) -> None:
    fairness = "fairness: {protected: [group]}\n"
    train(run, tmp_path, "unfair", fairness, target="unfair", model="unfair")
    code, output = run("promote", "unfair", "1", "--to", "staging")
    assert code == 1, output
    assert "fairness: disparate impact 0." in output and "for group=B vs A is below 0.8" in output

    code, output = run("promote", "unfair", "1", "--to", "staging", "--force")
    assert code == 2 and "--force needs --reason TEXT" in output, output
    code, output = run(
        "promote", "unfair", "1", "--to", "staging", "--force", "--reason", "ethics board ok"
    )
    assert code == 0, output
    assert "FAIL fairness: disparate impact" in output
    registry = ModelRegistry(MltrackConfig(), tmp_path / ".ragline")
    try:
        last = registry.history("unfair")[-1]
        assert last.action == "promote" and "reason: ethics board ok" in last.reason
        assert last.reason.startswith("FORCED past fairness")
    finally:
        registry.close()
    code, output = run("audit", "verify")
    assert code == 0, output

    train(run, tmp_path, "fair", fairness, model="fair")
    code, output = run("promote", "fair", "1", "--to", "staging")
    assert code == 0, output
    assert "PASS fairness: group: disparate impact" in output


def test_candidates_are_judged_against_production_on_the_same_golden_rows(
    run: Invoke, tmp_path: Path
) -> None:
    golden = f"golden: {tmp_path / 'golden.csv'}\n"
    weak = {"numeric": "x1", "kind": "sklearn-logreg"}
    train(run, tmp_path, "weak", golden, **weak)
    for stage in ("staging", "production"):
        code, output = run("promote", "m", "1", "--to", stage)
        assert code == 0, output
        assert "PASS beats-production: no production version yet" in output

    train(run, tmp_path, "strong", golden)
    code, output = run("promote", "m", "2", "--to", "staging")
    assert code == 0, output
    assert "PASS beats-production: roc_auc candidate - production = 0." in output
    assert "on the same 1500 golden rows" in output
    code, output = run("promote", "m", "2", "--to", "production")
    assert code == 0, output

    train(run, tmp_path, "weak-again", golden, **weak)
    code, output = run("promote", "m", "3", "--to", "staging")
    assert code == 1, output
    assert "beats-production: roc_auc candidate - production = -0." in output
    assert "on the same 1500 golden rows" in output
