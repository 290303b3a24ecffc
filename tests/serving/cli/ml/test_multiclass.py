"""The multiclass example as shipped: `ragline ml dataset wine`, then configs/ml/wine.yaml trained,
registered, evaluated, promoted, batch-scored and served (labels are the cultivar names)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ragline.mltrack.config import MltrackConfig
from ragline.serving.api.predictor import Predictor
from ragline.serving.cli.app import app

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # mlflow's SQLAlchemy use
]
WINE_YAML = Path(__file__).parents[4] / "configs" / "ml" / "wine.yaml"
CLASSES = ["class_0", "class_1", "class_2"]


def test_wine_example_trains_registers_evaluates_and_serves_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / ".ragline"
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    (tmp_path / "configs" / "ml").mkdir(parents=True)
    config = Path(shutil.copy(WINE_YAML, tmp_path / "configs" / "ml" / "wine.yaml"))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["ml", *args])
        return result.exit_code, result.output

    data = data_dir / "datasets" / "wine.csv"  # where the shipped config looks for it
    code, output = run("dataset", "wine", "--out", str(data))
    assert code == 0 and "wine: 178 rows x 14 columns" in output, output

    code, output = run("train", str(config), "--out", str(tmp_path / "run"))
    assert code == 0, output
    assert "registered wine-cultivar:1 in development" in output and "leakage clean" in output
    assert "macro_f1" in output and "class class_2: precision" in output

    code, output = run("evaluate", "wine-cultivar:1", str(data))
    assert code == 0, output
    assert "macro_f1" in output and "roc_auc" in output and "178 rows" in output
    assert "class class_1: precision" in output and "n 71" in output
    for stage in ("staging", "production"):
        code, output = run("promote", "wine-cultivar", "1", "--to", stage)
        assert code == 0, output

    scored_path = tmp_path / "scored.parquet"
    code, output = run("score", "wine-cultivar", str(data), str(scored_path))
    assert code == 0, output
    scored = pd.read_parquet(scored_path)
    assert set(scored["label"]) == set(CLASSES)
    assert (scored["label"] == scored["cultivar"]).mean() > 0.95
    assert scored["score"].between(1 / 3, 1.0).all()  # the predicted class's probability

    rows = pd.read_csv(data).drop(columns=["cultivar"]).head(20)
    predictor = Predictor(MltrackConfig(), data_dir)
    try:
        served = predictor.predict("wine-cultivar", rows.to_dict(orient="records"))
    finally:
        predictor.close()
    assert served.task == "classification" and served.labels is not None
    assert served.labels == scored["label"].head(20).tolist()
    assert served.scores == pytest.approx(scored["score"].head(20).tolist())

    code, output = run("card", "wine-cultivar@production", "--out", str(tmp_path / "card.md"))
    assert code == 0, output
    card = (tmp_path / "card.md").read_text()
    assert "# Model card: wine-cultivar version 1" in card
    assert "- classes: " in card and "positive label" not in card and "positive rate" not in card
