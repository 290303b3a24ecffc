"""Two `ragline ingest` processes into one collection at once lose nothing and duplicate nothing.

Each Qdrant Edge process keeps its own copy of the shard, so without the per-collection lock
the last writer's flush wins (measured before the lock: 245 points stored, 475 in the manifest).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import qdrant_edge as qe

from ragline.core.embedding import Embedder
from tests.rag.ingest_helpers import TOPICS, make_ingestor

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def cli(data_dir: Path, folder: Path) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        RAGLINE_DATA_DIR=str(data_dir),
        RAGLINE_CHUNKING__CHUNK_SIZE="48",
        RAGLINE_CHUNKING__CHUNK_OVERLAP="8",
        RAGLINE_STORE__COLLECTION="test",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "ragline.serving.cli.app", "ingest", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def write_folder(root: Path, name: str, files: int) -> Path:
    root.mkdir(parents=True)
    topics = list(TOPICS.values())
    for n in range(files):
        body = "\n\n".join(f"{topics[n % 3]} {name} file {n} part {i}." for i in range(4))
        (root / f"{name}{n:02d}.txt").write_text(body, encoding="utf-8")
    return root


def points(shard_dir: Path) -> dict[str, dict[str, Any]]:
    """Every point of an Edge shard as id -> payload."""
    shard = qe.EdgeShard.load(str(shard_dir))
    out: dict[str, dict[str, Any]] = {}
    offset = None
    while True:
        request = qe.ScrollRequest(offset=offset, limit=256, with_payload=True)
        records, offset = shard.scroll(request)
        out.update({str(r.id): dict(r.payload or {}) for r in records})
        if offset is None:
            break
    shard.close()
    return out


def manifest_files(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM files").fetchone()[0])


def test_two_concurrent_ingests_equal_one_ingest_of_both(
    tmp_path: Path, embedder: Embedder
) -> None:
    first = write_folder(tmp_path / "first", "alpha", 12)
    second = write_folder(tmp_path / "second", "beta", 12)
    data_dir = tmp_path / ".ragline"

    started = time.monotonic()
    runs = [cli(data_dir, first), cli(data_dir, second)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    seconds = time.monotonic() - started

    reference = make_ingestor(tmp_path / "reference", embedder)
    report = reference.run([first, second])
    reference.store.close()
    reference.manifest.close()
    want = points(tmp_path / "reference" / "qdrant" / "test")
    got = points(data_dir / "qdrant" / "test")
    lost = len(want.keys() - got.keys())
    duplicated = len(got.keys() - want.keys())
    changed = sum(1 for i in want.keys() & got.keys() if want[i] != got[i])
    waited = [o for o in outputs if "waiting for the ingest lock on test held by pid" in o]
    print(
        f"chunks lost: {lost}, duplicated: {duplicated}, payloads differing: {changed} "
        f"({len(want)} expected, both ingests in {seconds:.1f} s, {len(waited)} waited)"
    )
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert report.files_ingested == 24 and len(want) > 24
    assert (lost, duplicated, changed) == (0, 0, 0)
    assert manifest_files(data_dir / "manifest.sqlite") == 24
    assert len(waited) == 1, "the second ingest says it waits, once"
