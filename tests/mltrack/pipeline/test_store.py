"""Run records on disk and the data trigger: a changed dataset hash runs, an unchanged one
does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.mltrack.errors import DataError, MltrackError
from ragline.mltrack.pipeline.record import RunRecord, StageResult
from ragline.mltrack.pipeline.store import RunStore, data_changed, dataset_sha256

pytestmark = pytest.mark.unit


def test_save_load_latest(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    first = RunRecord.start("adult", "p.yaml", "code", "aa", now="2026-12-06T18:00:00+00:00")
    second = RunRecord.start("adult", "p.yaml", "data", "bb", now="2026-12-06T19:00:00+00:00")
    other = RunRecord.start("wine", "w.yaml", "code", "cc", now="2026-12-06T20:00:00+00:00")
    for record in (second, first, other):
        store.save(record)
    assert store.path(first.id) == tmp_path / "pipelines" / f"{first.id}.json"
    assert store.latest("adult") == second and store.latest("nope") is None
    assert [r.id for r in store.runs()] == [first.id, second.id, other.id]
    updated = first.with_stage(StageResult("quality", "failed", 0.2, {"score": 9.0}, "low"))
    store.save(updated)
    assert store.load(first.id) == updated
    assert not list((tmp_path / "pipelines").glob("*.tmp"))


def test_unknown_and_unsafe_run_ids(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with pytest.raises(MltrackError, match="no pipeline run 'adult-x' in"):
        store.load("adult-x")
    with pytest.raises(MltrackError, match="bad pipeline run id"):
        store.path("../etc/passwd")


def test_dataset_hash_of_a_file_and_a_folder(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "a.csv").write_text("x\n1\n")
    one = dataset_sha256(data / "a.csv")
    assert one == "daff832f802000e645771a60983c76c963f6ee602a6230e45237bd360e91cc1a"
    folder = dataset_sha256(data)
    (data / "b.csv").write_text("x\n2\n")
    assert dataset_sha256(data) != folder
    with pytest.raises(DataError, match="no such file or folder"):
        dataset_sha256(tmp_path / "absent.csv")


def test_data_trigger_runs_on_a_changed_hash_only(tmp_path: Path) -> None:
    store, data = RunStore(tmp_path), tmp_path / "rows.csv"
    data.write_text("x\n1\n")
    sha = dataset_sha256(data)
    assert data_changed(store, "adult", sha)  # never ran
    store.save(RunRecord.start("adult", "p.yaml", "data", sha))
    assert not data_changed(store, "adult", dataset_sha256(data))
    data.touch()  # a new mtime, the same bytes: nothing to do
    assert not data_changed(store, "adult", dataset_sha256(data))
    data.write_text("x\n1\n2\n")
    assert data_changed(store, "adult", dataset_sha256(data))
    assert data_changed(store, "wine", sha)  # another pipeline's runs do not count
