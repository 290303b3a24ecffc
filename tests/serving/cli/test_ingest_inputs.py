"""`ragline ingest` on bad input, deleted files and a held lock: clear errors, no traceback."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ragline.core.embedding import Embedder
from ragline.serving.cli.ingest import ingest_command
from ragline.serving.services.ingest import ingest_lock
from ragline.serving.settings import load_settings
from ragline.serving.wiring import build_embedder
from tests.conftest import reuse
from tests.rag.ingest_helpers import stored, write_corpus

pytestmark = pytest.mark.integration
Invoke = Callable[..., tuple[int, str]]

app = typer.Typer()


@app.callback()
def _main(ctx: typer.Context) -> None:
    ctx.obj = None  # where ragline.serving.cli.app keeps --config


app.command("ingest")(ingest_command)


@pytest.fixture
def run(tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("RAGLINE_CHUNKING__CHUNK_SIZE", "48")
    monkeypatch.setenv("RAGLINE_CHUNKING__CHUNK_OVERLAP", "8")
    monkeypatch.setenv("RAGLINE_STORE__COLLECTION", "test")
    # the session's loaded model stands in for a fresh load in each command
    monkeypatch.setattr("ragline.serving.wiring.build_embedder", reuse(embedder))
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["ingest", *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"a traceback: {result.exception!r}"
        )
        return result.exit_code, result.stdout + result.stderr

    return invoke


def test_a_symlink_loop_is_skipped_with_a_reason(run: Invoke, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "a.md").symlink_to("b.md")
    (corpus / "b.md").symlink_to("a.md")
    (corpus / "deeper").symlink_to("deeper", target_is_directory=True)

    code, output = run(str(corpus))

    assert code == 1, output
    assert "a.md: symlink loop" in output and "b.md: symlink loop" in output
    assert "3 seen: 3 ingested" not in output and "3 ingested" in output


def test_a_bad_collection_name_exits_2_saying_what_a_name_is(run: Invoke, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    code, output = run(str(corpus), "--collection", "bad name")
    assert code == 2
    assert "collection name 'bad name' is not valid" in output
    assert "letters, digits, '_' or '-'" in output
    assert not (tmp_path / ".ragline" / "qdrant" / "bad name").exists()


def test_a_bad_embedding_model_path_exits_2_naming_the_setting(
    run: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ragline.serving.wiring.build_embedder", build_embedder)  # a real load
    monkeypatch.setenv("RAGLINE_EMBEDDING__MODEL", str(tmp_path / "no-model-here"))
    code, output = run(str(write_corpus(tmp_path / "corpus")))
    assert code == 2, output
    assert "embedding.model" in output and "no-model-here" in output


def test_deleted_files_are_pruned_unless_no_prune(run: Invoke, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    shard = tmp_path / ".ragline" / "qdrant" / "test"
    assert run(str(corpus))[0] == 0
    (corpus / "rivers.md").unlink()
    gone = str((corpus / "rivers.md").absolute())

    kept_code, _ = run(str(corpus), "--no-prune")
    assert kept_code == 0 and gone in stored(shard).values()

    code, output = run(str(corpus))
    assert code == 0 and "pruned 1 deleted file(s)" in output
    assert gone not in stored(shard).values() and len(set(stored(shard).values())) == 2


def test_a_held_lock_makes_it_wait_then_refuse_with_the_holder(run: Invoke, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    lock = ingest_lock(load_settings(), "test")
    assert lock.acquire()
    try:
        code, output = run(str(corpus), "--lock-timeout", "0.5")
    finally:
        lock.release()
    assert code == 2
    assert output.count(f"waiting for the ingest lock on test held by pid {os.getpid()}") == 1
    assert "--lock-timeout" in output
    assert run(str(corpus))[0] == 0, "once it is free the ingest runs"
