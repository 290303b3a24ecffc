"""`QdrantServerStore` against the `VectorStore` contract, in qdrant-client's local mode."""

from __future__ import annotations

import pytest

from rag.store.server import QdrantServerStore
from tests.rag.store.conformance import SPEC, StoreConformance, StoreFactory


class TestServerStore(StoreConformance):
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
