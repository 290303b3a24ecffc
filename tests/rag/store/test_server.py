"""`QdrantServerStore` against the `VectorStore` contract, in qdrant-client's local mode."""

from __future__ import annotations

import pytest

from ragline.rag.store.server import QdrantServerStore
from ragline.rag.testing.index import IndexFactory, VectorIndexConformance
from ragline.rag.testing.store import SPEC, StoreFactory, VectorStoreConformance


class TestServerIndex(VectorIndexConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def make_index(cls) -> IndexFactory:
        return lambda: QdrantServerStore("cache", url=":memory:")


class TestServerStore(VectorStoreConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def make_store(cls) -> StoreFactory:
        return lambda: QdrantServerStore("docs", url=":memory:")

    def test_collections_share_a_client(self) -> None:
        docs = QdrantServerStore("docs", url=":memory:")
        notes = QdrantServerStore("notes", url="", client=docs.client)
        try:
            docs.ensure_collection(SPEC)
            notes.ensure_collection(SPEC)
            assert docs.list_collections() == ["docs", "notes"]
            notes.drop()
            assert docs.list_collections() == ["docs"]
        finally:
            docs.close()
