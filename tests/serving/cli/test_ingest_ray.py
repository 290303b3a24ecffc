"""`ragline ingest DIR --engine ray` (a local Ray cluster the command starts) against the
in-process `ragline ingest DIR`: the same collection, and a rerun that skips every file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rag.ingest.test_ray_engine import assert_same_collection, points
from tests.rag.ingest_helpers import write_corpus


def ingest(data: Path, corpus: Path, *options: str) -> str:
    env = dict(
        os.environ,
        RAGLINE_DATA_DIR=str(data),
        RAGLINE_CHUNKING__CHUNK_SIZE="48",
        RAGLINE_CHUNKING__CHUNK_OVERLAP="8",
        RAGLINE_STORE__COLLECTION="test",
    )
    done = subprocess.run(
        [sys.executable, "-m", "ragline.serving.cli.app", "ingest", str(corpus), *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.integration
@pytest.mark.slow
def test_engine_ray_makes_the_in_process_collection_and_reruns_skip(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingest(tmp_path / "local", corpus)
    ingest(tmp_path / "ray", corpus, "--engine", "ray", "--actors", "2")
    rerun = ingest(tmp_path / "ray", corpus, "--engine", "ray", "--actors", "2")

    assert_same_collection(
        points(tmp_path / "local" / "qdrant" / "test"), points(tmp_path / "ray" / "qdrant" / "test")
    )
    assert "3 unchanged" in rerun, rerun


@pytest.mark.integration
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--engine", "spark"], "--engine must be local or ray"),
        (["--engine", "ray", "--actors", "0"], "--actors must be at least 1"),
    ],
)
def test_bad_engine_options_exit_two_naming_the_fix(
    tmp_path: Path, options: list[str], message: str
) -> None:
    env = dict(os.environ, RAGLINE_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run(
        [sys.executable, "-m", "ragline.serving.cli.app", "ingest", str(tmp_path), *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and message in done.stdout + done.stderr


@pytest.mark.unit
def test_ragline_and_its_ingest_help_do_not_import_ray() -> None:
    code = (
        "import sys; import ragline; from typer.testing import CliRunner; "
        "from ragline.serving.cli.app import app; "
        "done = CliRunner().invoke(app, ['ingest', '--help']); "
        "print(done.exit_code, '--engine' in done.stdout, 'ray' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "True", "False"]
