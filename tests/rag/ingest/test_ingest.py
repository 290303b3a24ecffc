"""The ingest job: idempotent reruns, changed-file replacement, bad input, reconciliation."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.core.embedding import Embedder
from ragline.core.filters import Filter, Match
from ragline.core.index import StoreQuery
from ragline.rag.errors import IngestError
from ragline.rag.store.edge import QdrantEdgeStore
from tests.rag.ingest_helpers import ingest_once, make_ingestor, stored, write_corpus

pytestmark = pytest.mark.integration


def shard(tmp: Path) -> Path:
    return tmp / "qdrant" / "test"


def test_first_run_stores_every_chunk_with_metadata(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingestor = make_ingestor(tmp_path, embedder)
    report = ingestor.run([corpus])
    query = StoreQuery(dense=embedder.embed(["Why does dough rise?"], kind="query")[0], limit=1)
    hit = ingestor.store.query(query)[0]
    count = ingestor.store.count()
    ingestor.store.close()
    assert report.files_ingested == 3 and not report.failed
    assert report.chunks_written == count > 3
    assert hit.payload["source_document"] == "baking.txt"
    assert hit.payload["source_path"] == str((corpus / "baking.txt").resolve())
    assert "date_created" in hit.payload and "yeast" in str(hit.payload["text"])


def test_rerun_of_unchanged_corpus_adds_nothing(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingest_once(tmp_path, embedder, corpus)
    before = stored(shard(tmp_path))
    report = ingest_once(tmp_path, embedder, corpus)
    assert (report.files_unchanged, report.files_ingested, report.chunks_written) == (3, 0, 0)
    assert stored(shard(tmp_path)) == before


def test_changed_file_replaces_its_old_chunks(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingest_once(tmp_path, embedder, corpus)
    before = stored(shard(tmp_path))
    changed = str((corpus / "rivers.md").resolve())
    Path(changed).write_text("# Rivers\n\nThe Amazon carries the most water of any river.\n")

    report = ingest_once(tmp_path, embedder, corpus)

    after = stored(shard(tmp_path))
    rivers_after = {i for i, src in after.items() if src == changed}
    assert report.files_ingested == 1 and report.files_unchanged == 2
    assert len(rivers_after) == 1 and report.chunks_removed > 0
    assert not rivers_after & set(before), "old chunks of the changed file must be gone"
    assert {i: s for i, s in after.items() if s != changed} == {
        i: s for i, s in before.items() if s != changed
    }


def test_bad_inputs_are_skipped_with_reasons_and_the_rest_goes_on(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (corpus / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (corpus / "empty.md").write_text("  \n")
    (corpus / "huge.txt").write_text("word " * 300_000)
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the root")
    (corpus / "escape.txt").symlink_to(outside)

    report = ingest_once(tmp_path, embedder, corpus, max_file_mb=1)

    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {
        "corrupt.pdf", "binary.txt", "latin1.txt", "empty.md", "huge.txt", "escape.txt",
    }  # fmt: skip
    assert "corrupt PDF" in reasons["corrupt.pdf"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.md"]
    assert "max_file_mb" in reasons["huge.txt"]
    assert "escapes the ingest root" in reasons["escape.txt"]
    assert report.files_ingested == 3 and report.failed


def test_a_stored_file_that_turns_bad_keeps_its_chunks(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingest_once(tmp_path, embedder, corpus)
    before = stored(shard(tmp_path))
    (corpus / "baking.txt").write_bytes(b"\xff\xfe broken")

    report = ingest_once(tmp_path, embedder, corpus)

    assert [s.path for s in report.skipped] == ["baking.txt"]
    assert stored(shard(tmp_path)) == before


def test_chunks_deleted_behind_the_manifest_are_restored(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingest_once(tmp_path, embedder, corpus)
    before = stored(shard(tmp_path))
    store = QdrantEdgeStore(tmp_path / "qdrant", "test")
    assert store.delete(Filter(must=(Match("source_document", "orbits.md"),))) > 0
    store.close()

    report = ingest_once(tmp_path, embedder, corpus)

    assert report.files_ingested == 1 and report.files_unchanged == 2
    assert stored(shard(tmp_path)) == before


def test_changed_settings_rechunk_everything(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingest_once(tmp_path, embedder, corpus, chunk_size=48)
    report = ingest_once(tmp_path, embedder, corpus, chunk_size=96)
    ingest_once(tmp_path / "fresh", embedder, corpus, chunk_size=96)
    assert report.files_ingested == 3 and report.chunks_removed > 0
    assert stored(shard(tmp_path)) == stored(shard(tmp_path / "fresh"))


def test_worker_processes_give_the_same_chunks(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingest_once(tmp_path / "one", embedder, corpus)
    report = ingest_once(tmp_path / "two", embedder, corpus, workers=2)
    assert report.files_ingested == 3
    assert stored(shard(tmp_path / "one")) == stored(shard(tmp_path / "two"))


def test_missing_path_is_a_clear_error(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(IngestError, match="does not exist"):
        ingest_once(tmp_path, embedder, tmp_path / "nope")


def test_a_file_under_two_roots_is_ingested_once(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    ingestor = make_ingestor(tmp_path, embedder)
    report = ingestor.run([corpus, corpus / "rivers.md"])
    ingestor.store.close()
    assert report.files_seen == 3 and report.files_ingested == 3
    assert len(set(stored(shard(tmp_path)).values())) == 3
