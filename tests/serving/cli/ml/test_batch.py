"""`ragline ml score` through the Typer app: a real registered LightGBM, real Parquet and CSV
files; progress and rows/s on stderr, an existing output kept unless --force, bad input exit 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
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


def test_scores_a_folder_into_parquet_with_the_predictors_scores(
    runner: CliRunner, data_dir: Path, tmp_path: Path
) -> None:
    rows = fresh_adult_rows(2_000)
    (tmp_path / "in").mkdir()
    rows.iloc[:1200].to_parquet(tmp_path / "in" / "a.parquet")
    rows.iloc[1200:].to_csv(tmp_path / "in" / "b.csv", index=False)
    out = tmp_path / "scored.parquet"
    args = ["ml", "score", MODEL, str(tmp_path / "in"), str(out), "--batch-rows", "500"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"scoring with {MODEL} version 1 (production)" in result.stderr
    assert "scored 2,000 rows from 2 file(s)" in result.stderr and "rows/s" in result.stderr
    scored = pd.read_parquet(out)
    predictor = Predictor(MltrackConfig(), data_dir)
    try:
        parquet_rows = rows.iloc[:1200].astype(object).to_dict(orient="records")
        csv_rows = pd.read_csv(tmp_path / "in" / "b.csv").to_dict(orient="records")
        expected = predictor.predict(MODEL, parquet_rows + csv_rows)
    finally:
        predictor.close()
    assert scored["score"].tolist() == expected.scores
    assert scored["label"].tolist() == expected.labels
    assert set(scored["model_version"]) == {expected.version}

    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "exists; pass --force" in again.stderr
    forced = runner.invoke(app, [*args, "--force", "--keep", "age"])
    assert forced.exit_code == 0, forced.output
    assert list(pd.read_parquet(out).columns) == ["age", "score", "label", "model", "model_version"]


def test_bad_input_exits_2_naming_the_fix(runner: CliRunner, tmp_path: Path) -> None:
    fresh_adult_rows(50).drop(columns=["sex"]).to_csv(tmp_path / "in.csv", index=False)
    out = str(tmp_path / "out.parquet")
    result = runner.invoke(app, ["ml", "score", MODEL, str(tmp_path / "in.csv"), out])
    assert result.exit_code == 2 and "lacks column(s) ['sex']" in result.stderr
    result = runner.invoke(app, ["ml", "score", "no-such", str(tmp_path / "in.csv"), out])
    assert result.exit_code == 2 and "error:" in result.stderr
    result = runner.invoke(
        app, ["ml", "score", MODEL, str(tmp_path / "in.csv"), out, "--stage", "prod"]
    )
    assert result.exit_code == 2 and "use one of development, staging, production" in result.stderr
    result = runner.invoke(
        app, ["ml", "score", MODEL, str(tmp_path / "in.csv"), out, "--stage", "staging"]
    )
    assert result.exit_code == 2 and "no staging version" in result.stderr
    assert not (tmp_path / "out.parquet").exists()


def test_progress_off_a_terminal_is_a_line_every_few_seconds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from ragline.mltrack.tabular.score import ScoreProgress
    from ragline.serving.cli.ml import batch

    monkeypatch.setattr(batch, "err", Console(stderr=True, highlight=False, soft_wrap=True))
    lines = batch._Lines(every_s=5.0)
    for rows, seconds in ((100, 1.0), (600, 5.5), (700, 9.0), (1200, 10.6), (1300, 11.0)):
        lines(ScoreProgress(rows, 1300, seconds))
    assert capsys.readouterr().err.splitlines() == [
        "scored 600 of 1,300 rows (109 rows/s)",
        "scored 1,200 of 1,300 rows (113 rows/s)",
    ]


def test_engine_ray_writes_the_in_process_output(runner: CliRunner, tmp_path: Path) -> None:
    rows = fresh_adult_rows(1_500)
    (tmp_path / "in").mkdir()
    rows.iloc[:900].to_parquet(tmp_path / "in" / "a.parquet")
    rows.iloc[900:].to_csv(tmp_path / "in" / "b.csv", index=False)
    outputs = []
    for engine in ((), ("--engine", "ray")):
        out = tmp_path / f"scored{len(engine)}.parquet"
        args = ["ml", "score", MODEL, str(tmp_path / "in"), str(out), "--batch-rows", "200"]
        result = runner.invoke(app, [*args, *engine])
        assert result.exit_code == 0, result.output
        assert ("scoring in Ray tasks (local cluster)" in result.stderr) == bool(engine)
        assert "scored 1,500 rows from 2 file(s)" in result.stderr
        outputs.append(pd.read_parquet(out))
    pd.testing.assert_frame_equal(outputs[1], outputs[0])  # rows, order, scores, labels


def test_an_unknown_engine_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    rows = fresh_adult_rows(10)
    rows.to_parquet(tmp_path / "a.parquet")
    args = ["ml", "score", MODEL, str(tmp_path / "a.parquet"), str(tmp_path / "o.parquet")]
    result = runner.invoke(app, [*args, "--engine", "spark"])
    assert result.exit_code == 2
    assert "--engine must be local or ray" in result.stderr
