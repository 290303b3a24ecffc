"""Batch scoring with a real registered LightGBM (4,000 Adult rows) over real Parquet and CSV
files: the scores equal ``POST /v1/predict``'s predictor on the same rows; missing columns are
refused before anything is written; a failure leaves no output behind."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import DataError, MltrackError
from ragline.mltrack.tabular import score as score_module
from ragline.mltrack.tabular.score import (
    ScoreProgress,
    Scorer,
    check_columns,
    load_scorer,
    output_schema,
    score_files,
)
from ragline.serving.api.predictor import Predictor
from tests.mltrack.tabular.scoring_model import MODEL, fresh_adult_rows, register_adult_model

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # mlflow's SQLAlchemy use
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return register_adult_model(tmp_path_factory.mktemp("batch-score"))


@pytest.fixture(scope="module")
def scorer(data_dir: Path) -> Scorer:
    return load_scorer(MltrackConfig(), data_dir, MODEL, "production")


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return fresh_adult_rows(3_000)


def predicted(data_dir: Path, frame: pd.DataFrame) -> tuple[list[float], list[object], int]:
    predictor = Predictor(MltrackConfig(), data_dir)
    try:
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        result = predictor.predict(MODEL, records)
    finally:
        predictor.close()
    return result.scores, list(result.labels or []), result.version


def test_parquet_scores_equal_the_predictors(
    scorer: Scorer, data_dir: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    rows.to_parquet(tmp_path / "in.parquet")
    seen: list[ScoreProgress] = []
    source, output = tmp_path / "in.parquet", tmp_path / "out.parquet"
    report = score_files(scorer, source, output, batch_rows=700, on_progress=seen.append)
    assert (report.rows, report.files, report.model) == (3_000, 1, MODEL)
    assert report.rows_per_second > 0
    assert [p.rows for p in seen] == [700, 1400, 2100, 2800, 3000]
    assert {p.total_rows for p in seen} == {3_000}
    out = pd.read_parquet(tmp_path / "out.parquet")
    scores, labels, version = predicted(data_dir, rows)
    assert out["score"].tolist() == scores  # bit for bit
    assert out["label"].tolist() == labels and set(labels) == {0, 1}
    assert (out["model"] == MODEL).all() and (out["model_version"] == version).all()
    assert report.version == version
    assert list(out.columns) == [*rows.columns, "score", "label", "model", "model_version"]
    pd.testing.assert_series_equal(out["age"], rows["age"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.parquet"]


def test_csv_scores_equal_the_predictors_on_the_csv_rows(
    scorer: Scorer, data_dir: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    rows.to_csv(tmp_path / "in.csv", index=False)
    report = score_files(scorer, tmp_path / "in.csv", tmp_path / "out.parquet", batch_rows=1000)
    assert report.rows == 3_000
    out = pd.read_parquet(tmp_path / "out.parquet")
    scores, labels, _ = predicted(data_dir, pd.read_csv(tmp_path / "in.csv"))
    assert out["score"].tolist() == scores
    assert out["label"].tolist() == labels


def test_missing_values_in_a_csv_read_as_pandas_reads_them(
    scorer: Scorer, data_dir: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    """Empty cells, numeric or categorical, are missing (the "(missing)" category), as in
    training, which reads CSVs with pandas."""
    frame = rows.iloc[:300].astype({"relationship": object, "sex": object})
    frame.loc[::3, "relationship"] = None
    frame.loc[1::3, "age"] = None
    frame.loc[2::7, "sex"] = "NA"
    frame.to_csv(tmp_path / "in.csv", index=False)
    score_files(scorer, tmp_path / "in.csv", tmp_path / "out.parquet")
    out = pd.read_parquet(tmp_path / "out.parquet")
    read = pd.read_csv(tmp_path / "in.csv")
    assert read["relationship"].isna().sum() == 100 and read["sex"].isna().sum() > 0
    for column in ("relationship", "sex", "age"):  # carried over: missing where pandas says so
        assert out[column].isna().tolist() == read[column].isna().tolist(), column
    assert out["score"].tolist() == predicted(data_dir, read)[0]


def test_a_folder_is_scored_file_by_file_in_name_order(
    scorer: Scorer, data_dir: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rows.iloc[:1000].to_parquet(folder / "a.parquet")
    rows.iloc[1000:1800].to_parquet(folder / "b.parquet")
    rows.iloc[1800:].to_parquet(folder / "c.parquet")
    (folder / "notes.txt").write_text("not an input")
    report = score_files(scorer, folder, tmp_path / "out" / "scored.parquet", batch_rows=512)
    assert (report.rows, report.files) == (3_000, 3)
    out = pd.read_parquet(tmp_path / "out" / "scored.parquet")
    assert out["score"].tolist() == predicted(data_dir, rows)[0]
    assert pq.ParquetFile(tmp_path / "out" / "scored.parquet").metadata.num_rows == 3_000


def test_keep_carries_only_the_named_columns(
    scorer: Scorer, rows: pd.DataFrame, tmp_path: Path
) -> None:
    frame = rows.assign(person_id=np.arange(len(rows)))
    frame.to_parquet(tmp_path / "in.parquet")
    score_files(scorer, tmp_path / "in.parquet", tmp_path / "out.parquet", keep=["person_id"])
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == ["person_id", "score", "label", "model", "model_version"]
    assert out["person_id"].tolist() == list(range(len(rows)))


def test_a_missing_column_is_refused_by_name_before_anything_is_written(
    scorer: Scorer, rows: pd.DataFrame, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rows.iloc[:100].to_parquet(folder / "a.parquet")
    rows.iloc[100:200].drop(columns=["relationship"]).to_csv(folder / "b.csv", index=False)
    with pytest.raises(DataError, match=r"b\.csv lacks column\(s\) \['relationship'\]"):
        score_files(scorer, folder, tmp_path / "out.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_failure_midway_leaves_no_output(
    scorer: Scorer, rows: pd.DataFrame, tmp_path: Path
) -> None:
    """The second file's layout differs: the first was already scored into the temp file."""
    folder = tmp_path / "in"
    folder.mkdir()
    rows.iloc[:500].to_parquet(folder / "a.parquet")
    rows.iloc[500:].assign(extra=1).to_parquet(folder / "b.parquet")
    (tmp_path / "out.parquet").write_text("the previous output")
    with pytest.raises(DataError, match="score files of different layouts separately"):
        score_files(scorer, folder, tmp_path / "out.parquet", batch_rows=100)
    assert (tmp_path / "out.parquet").read_text() == "the previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.parquet"]


def test_clashing_columns_and_bad_inputs_are_refused(
    scorer: Scorer, rows: pd.DataFrame, tmp_path: Path
) -> None:
    rows.assign(score=0.0).to_parquet(tmp_path / "scored.parquet")
    with pytest.raises(DataError, match=r"already has column\(s\) \['score'\].*--keep"):
        score_files(scorer, tmp_path / "scored.parquet", tmp_path / "out.parquet")
    with pytest.raises(DataError, match="does not exist"):
        score_files(scorer, tmp_path / "nope.csv", tmp_path / "out.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"holds no \.parquet or \.csv file"):
        score_files(scorer, tmp_path / "empty", tmp_path / "out.parquet")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="cannot read"):
        score_files(scorer, tmp_path / "bad.parquet", tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_a_csv_with_only_a_header_gives_an_empty_output(scorer: Scorer, tmp_path: Path) -> None:
    header = ",".join(fresh_adult_rows(1).columns)
    (tmp_path / "in.csv").write_text(header + "\n")
    report = score_files(scorer, tmp_path / "in.csv", tmp_path / "out.parquet")
    assert report.rows == 0
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 0 and table.schema.names[-3:] == ["label", "model", "model_version"]
    fresh_adult_rows(5).iloc[:0].to_parquet(tmp_path / "empty.parquet")
    report = score_files(scorer, tmp_path / "empty.parquet", tmp_path / "out.parquet")
    assert report.rows == 0 and pq.read_table(tmp_path / "out.parquet").num_rows == 0


def test_a_stage_without_a_version_names_the_fix(data_dir: Path) -> None:
    with pytest.raises(MltrackError, match=r"no staging version.*ragline ml promote"):
        # promotion to production moved the staging alias on: staging is empty
        load_scorer(MltrackConfig(), data_dir, MODEL, "staging")


def test_output_schema_and_check_columns_without_a_model() -> None:
    with pytest.raises(DataError, match=r"\['b'\]"):
        check_columns(pa.schema([("a", pa.int64())]), ["a", "b"], Path("x.csv"))
    check_columns(pa.schema([("a", pa.int64())]), ["a"], Path("x.csv"))


def test_docstring_examples() -> None:
    result = doctest.testmod(score_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_output_schema_matches_the_written_file(scorer: Scorer, tmp_path: Path) -> None:
    schema = output_schema(scorer, pa.schema([("age", pa.int64())]))
    assert schema.names == ["age", "score", "label", "model", "model_version"]
    assert schema.field("label").type == pa.int64()
