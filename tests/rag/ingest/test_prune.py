"""Files deleted from an ingested folder are pruned; bad files are remembered by hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.core.embedding import Embedder
from ragline.rag.ingest import Manifest
from tests.rag.ingest_helpers import ingest_once, make_ingestor, stored, write_corpus

pytestmark = pytest.mark.integration


def shard(tmp: Path) -> Path:
    return tmp / "qdrant" / "test"


def manifest_paths(tmp: Path) -> set[str]:
    manifest = Manifest(tmp / "manifest.sqlite", f"edge:{tmp / 'qdrant'}", "test")
    try:
        return set(manifest.entries())
    finally:
        manifest.close()


def test_a_deleted_file_is_pruned_and_the_rest_kept(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingest_once(tmp_path, embedder, corpus)
    gone = str((corpus / "orbits.md").resolve())
    before = stored(shard(tmp_path))
    (corpus / "orbits.md").unlink()

    report = ingest_once(tmp_path, embedder, corpus)

    after = stored(shard(tmp_path))
    assert report.files_pruned == 1 and report.files_unchanged == 2
    assert report.chunks_removed == sum(1 for s in before.values() if s == gone) > 0
    assert after == {i: s for i, s in before.items() if s != gone}
    assert gone not in manifest_paths(tmp_path)
    assert any("pruned 1 deleted file" in note for note in report.notes)


def test_no_prune_keeps_the_chunks_of_deleted_files(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingest_once(tmp_path, embedder, corpus)
    before = stored(shard(tmp_path))
    (corpus / "orbits.md").unlink()

    ingestor = make_ingestor(tmp_path, embedder)
    report = ingestor.run([corpus], prune=False)
    ingestor.store.close()
    ingestor.manifest.close()

    assert report.files_pruned == 0 and stored(shard(tmp_path)) == before


def test_only_files_under_the_given_root_are_pruned(tmp_path: Path, embedder: Embedder) -> None:
    first = write_corpus(tmp_path / "first")
    second = tmp_path / "second"
    second.mkdir()
    (second / "notes.txt").write_text("Lighthouses guide ships along rocky coasts at night.\n")
    ingest_once(tmp_path, embedder, first)
    ingest_once(tmp_path, embedder, second)

    report = ingest_once(tmp_path, embedder, second)  # first's files are not under this root

    assert report.files_pruned == 0
    assert len(set(stored(shard(tmp_path)).values())) == 4


def test_an_unchanged_bad_file_is_skipped_again_without_loading_the_model(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    first = ingest_once(tmp_path, embedder, corpus)

    rerun = ingest_once(tmp_path, embedder, corpus)

    assert first.chunk_size is not None, "the first run chunked, so it had the model"
    assert [s.path for s in rerun.skipped] == ["corrupt.pdf"]
    assert (
        rerun.skipped[0].reason == first.skipped[0].reason
        and "corrupt PDF" in rerun.skipped[0].reason
    )
    assert rerun.files_unchanged == 3 and rerun.failed
    assert rerun.chunk_size is None and rerun.setup_seconds == 0.0, "no model, no chunker"

    (corpus / "corrupt.pdf").write_text("now plain text about tides and the moon")  # fixed bytes
    (corpus / "corrupt.pdf").rename(corpus / "tides.txt")
    fixed = ingest_once(tmp_path, embedder, corpus)
    assert fixed.files_ingested == 1 and not fixed.failed
