"""`ragline ml errors` through the Typer app on a real registered LightGBM: the worst rows are
the ones the predictor misses most, slices come worst first, bad input exits 2 with the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.mltrack.config import MltrackConfig
from ragline.serving.api.predictor import Predictor
from ragline.serving.cli.app import app
from tests.mltrack.tabular.scoring_model import MODEL, fresh_adult_rows

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # mlflow's SQLAlchemy use
]


def test_json_lists_the_rows_the_predictor_misses_most(
    runner: CliRunner, data_dir: Path, tmp_path: Path
) -> None:
    rows = fresh_adult_rows(1_500)
    rows.to_csv(tmp_path / "holdout.csv", index=False)
    args = ["ml", "errors", MODEL, str(tmp_path / "holdout.csv"), "--top", "5", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["model"], report["version"], report["task"]) == (MODEL, 1, "binary")
    assert report["rows"] == 1_500 and len(report["worst"]) == 5
    predictor = Predictor(MltrackConfig(), data_dir)
    try:
        scores = predictor.predict(MODEL, rows.astype(object).to_dict(orient="records")).scores
    finally:
        predictor.close()
    expected = sorted(
        (abs(int(y) - p) for y, p in zip(rows["income"], scores, strict=True)), reverse=True
    )
    assert [round(r["error"], 9) for r in report["worst"]] == [round(e, 9) for e in expected[:5]]
    first = report["worst"][0]
    assert first["target"] == int(rows["income"].iloc[first["row"]])
    assert first["features"]["age"] == int(rows["age"].iloc[first["row"]])
    assert {s["column"] for s in report["slices"]} == {"relationship", "marital-status", "sex"}
    shares = [s["misclassified"] for s in report["slices"]]
    assert shares == sorted(shares, reverse=True)
    assert all(s["rows"] >= 10 for s in report["slices"])


def test_table_output_and_chosen_slice_column(runner: CliRunner, tmp_path: Path) -> None:
    fresh_adult_rows(400, seed=3).to_parquet(tmp_path / "holdout.parquet")
    args = ["ml", "errors", MODEL, str(tmp_path / "holdout.parquet"), "--slice", "race"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "worst 20 predictions" in result.stdout and "slices, worst first" in result.stdout
    assert "race" in result.stdout and "relationship" not in result.stdout.split("slices")[1]


def test_unlabelled_rows_and_unknown_models_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    fresh_adult_rows(50).drop(columns=["income"]).to_csv(tmp_path / "x.csv", index=False)
    result = runner.invoke(app, ["ml", "errors", MODEL, str(tmp_path / "x.csv")])
    assert result.exit_code == 2
    assert "no target column 'income'" in result.stderr
    result = runner.invoke(app, ["ml", "errors", "nope", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "nope" in result.stderr
