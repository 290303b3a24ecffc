"""`QdrantEdgeStore` against the `VectorStore` contract, plus what only an on-disk store has."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragline.core.index import CollectionSpec, StoreQuery
from ragline.rag.errors import StoreError
from ragline.rag.store.edge import QdrantEdgeStore
from ragline.rag.testing.index import IndexFactory, VectorIndexConformance
from ragline.rag.testing.store import (
    IDS,
    POINTS,
    SPEC,
    VECTORS,
    StoreFactory,
    VectorStoreConformance,
)


class TestEdgeIndex(VectorIndexConformance):
    """The semantic cache's index: an Edge shard with a WAL, dense points only."""

    @pytest.fixture(scope="class")
    @classmethod
    def make_index(cls, tmp_path_factory: pytest.TempPathFactory) -> IndexFactory:
        return lambda: QdrantEdgeStore(tmp_path_factory.mktemp("index"), "cache", wal=True)


class TestEdgeStore(VectorStoreConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def shard_root(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
        """Where the contract tests' shards live: in RAM (tmpfs) where there is one.

        Creating a collection fsyncs its segments and each payload index: about 1 s on a busy
        disk against 30 ms in tmpfs. The contract does not depend on the disk; the
        persistence tests below use the real `tmp_path`.
        """
        shm = Path("/dev/shm")
        if not (shm.is_dir() and os.access(shm, os.W_OK)):
            yield tmp_path_factory.mktemp("qdrant")
            return
        root = Path(tempfile.mkdtemp(prefix="ragline-test-", dir=shm))
        yield root
        shutil.rmtree(root, ignore_errors=True)

    @pytest.fixture(scope="class")
    @classmethod
    def make_store(cls, shard_root: Path) -> StoreFactory:
        return lambda: QdrantEdgeStore(Path(tempfile.mkdtemp(dir=shard_root)), "docs")

    def test_data_survives_close_and_reopen(self, tmp_path: Path) -> None:
        first = QdrantEdgeStore(tmp_path, "docs")
        first.ensure_collection(SPEC)
        first.upsert(POINTS)
        first.close()  # no explicit flush: close must persist

        again = QdrantEdgeStore(tmp_path, "docs")
        try:
            assert again.exists()
            assert again.count() == len(POINTS)
            assert again.query(StoreQuery(dense=VECTORS[3], limit=1))[0].id == IDS[3]
            again.ensure_collection(SPEC)
            with pytest.raises(StoreError, match="drop this one"):
                again.ensure_collection(CollectionSpec(dims=4))
            assert again.list_collections() == ["docs"]
        finally:
            again.close()

    def test_collections_share_a_root(self, tmp_path: Path) -> None:
        docs, notes = QdrantEdgeStore(tmp_path, "docs"), QdrantEdgeStore(tmp_path, "notes")
        try:
            docs.ensure_collection(SPEC)
            notes.ensure_collection(SPEC)
            notes.upsert(POINTS[:2])
            assert docs.list_collections() == ["docs", "notes"]
            assert (docs.count(), notes.count()) == (0, 2)
            notes.drop()
            assert docs.list_collections() == ["docs"]
        finally:
            docs.close()
            notes.close()
