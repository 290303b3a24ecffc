"""An ingest killed with SIGKILL mid-run, then rerun, ends with every chunk exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragline.core.embedding import Embedder
from tests.rag.ingest_helpers import TOPICS, ingest_once, stored

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def cli(tmp: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        RAGLINE_DATA_DIR=str(tmp / ".ragline"),
        RAGLINE_CHUNKING__CHUNK_SIZE="48",
        RAGLINE_CHUNKING__CHUNK_OVERLAP="8",
        RAGLINE_INGEST__EMBED_BATCH="8",
        RAGLINE_STORE__COLLECTION="test",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "ragline.serving.cli.app", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def files_done(manifest: Path) -> int:
    if not manifest.exists():
        return 0
    with sqlite3.connect(manifest) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM files").fetchone()[0])
        except sqlite3.OperationalError:  # table not created yet
            return 0


def test_kill_9_then_rerun_leaves_no_duplicate_and_no_gap(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(40):
        topic = list(TOPICS.values())[n % 3]
        body = "\n\n".join(f"{topic} File {n} part {i}." for i in range(5))
        (corpus / f"doc{n:02d}.txt").write_text(body)
    manifest = tmp_path / ".ragline" / "manifest.sqlite"

    run = cli(tmp_path, "ingest", str(corpus))
    deadline = time.monotonic() + 180
    while files_done(manifest) < 4 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, "the ingest finished before it could be killed"
    run.send_signal(signal.SIGKILL)
    run.communicate()  # reap it and close its pipe
    interrupted_at = files_done(manifest)
    assert 4 <= interrupted_at < 40

    rerun = cli(tmp_path, "ingest", str(corpus))
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert f"{interrupted_at} unchanged" in output

    ingest_once(tmp_path / "reference", embedder, corpus)
    got = stored(tmp_path / ".ragline" / "qdrant" / "test")
    assert got == stored(tmp_path / "reference" / "qdrant" / "test")
    assert files_done(manifest) == 40
