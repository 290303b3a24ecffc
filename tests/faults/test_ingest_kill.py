"""`kill -9` mid-ingest, ten times (issue 20): a real `ragline ingest` subprocess is killed with
SIGKILL at ten spread-out moments (by the clock, 0.3 to 1.2 s in: from start-up into the first
batches; or right after a file lands in the manifest, plus 0-40 ms while the next batch is
written), each run resuming the previous
run's work; then a last run completes. The collection must then hold exactly the chunks of a
reference ingest of the same corpus:

    chunks lost: 0, duplicated: 0 (10 kills, 60 files, ...)   # printed; the contract is 0 and 0

The helpers (`cli`, `files_done`) are those of the single-kill test in tests/serving/cli.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from ragline.core.embedding import Embedder
from tests.rag.ingest_helpers import TOPICS, ingest_once, stored
from tests.serving.cli.test_ingest_kill import cli, files_done

pytestmark = [pytest.mark.faults, pytest.mark.integration]

FILES = 60
KILLS = 10
WAIT_S = 30.0  # the most one run may take to reach its kill moment


def write_files(corpus: Path) -> None:
    corpus.mkdir()
    topics = list(TOPICS.values())
    for n in range(FILES):
        body = "\n\n".join(f"{topics[n % 3]} File {n} part {i}." for i in range(4))
        (corpus / f"doc{n:02d}.txt").write_text(body, encoding="utf-8")


def kill_at(run: subprocess.Popen[str], manifest: Path, moment: int) -> str:
    """SIGKILL `run` at moment `moment` (0..9): every third one by the clock (0.3 to 1.2 s
    in), the others once one or two more files are in the manifest, plus 0-40 ms."""
    started, done = time.monotonic(), files_done(manifest)
    if moment % 3 == 0:
        delay = 0.3 + moment * 0.1
        while run.poll() is None and time.monotonic() - started < delay:
            time.sleep(0.02)
        where = f"at {delay:.2f} s"
    else:
        target = done + moment % 3
        deadline = started + WAIT_S
        while files_done(manifest) < target and run.poll() is None:
            assert time.monotonic() < deadline, "the ingest made no progress"
            time.sleep(0.01)
        time.sleep((moment % 5) * 0.01)
        where = f"after file {files_done(manifest)}"
    finished = run.poll() is not None
    if not finished:
        run.send_signal(signal.SIGKILL)
    run.communicate()  # reap it and close its pipe
    return f"finished before kill {moment}" if finished else where


def test_ten_kills_then_a_rerun_lose_and_duplicate_no_chunk(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    write_files(corpus)
    manifest = tmp_path / ".ragline" / "manifest.sqlite"
    moments = [kill_at(cli(tmp_path, "ingest", str(corpus)), manifest, i) for i in range(KILLS)]
    interrupted_at = files_done(manifest)

    rerun = cli(tmp_path, "ingest", str(corpus))
    output, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, output

    ingest_once(tmp_path / "reference", embedder, corpus)
    want = stored(tmp_path / "reference" / "qdrant" / "test")
    got = stored(tmp_path / ".ragline" / "qdrant" / "test")
    lost, duplicated = len(want.keys() - got.keys()), len(got.keys() - want.keys())
    print(
        f"\nchunks lost: {lost}, duplicated: {duplicated} ({KILLS} kills, {FILES} files, "
        f"{interrupted_at} done before the last run, {len(want)} chunks; kills: {moments})"
    )
    assert all(not m.startswith("finished") for m in moments), moments
    assert 0 < interrupted_at < FILES
    assert (lost, duplicated) == (0, 0)
    assert got == want  # each chunk under its own file
    assert files_done(manifest) == FILES
