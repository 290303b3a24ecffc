"""`QdrantServerStore` against the `VectorStore` contract: in qdrant-client's local mode always,
against a real Qdrant server when RAGLINE_QDRANT_URL is set; and the collection layout it asks
a server for."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from ragline.core.filters import Filter
from ragline.core.index import DEFAULT_INDEXES, DENSE, SPARSE
from ragline.rag.config import ServerStoreConfig, StoreConfig
from ragline.rag.store.protocol import VectorStore
from ragline.rag.store.registry import default_stores
from ragline.rag.store.server import QdrantServerStore, collection_args
from ragline.rag.store.snapshots import create_snapshot, restore_snapshot
from ragline.rag.testing.index import IndexFactory, VectorIndexConformance
from ragline.rag.testing.store import (
    DIMS,
    POINTS,
    SPEC,
    StoreFactory,
    VectorStoreConformance,
)
from tests.rag.store.qdrant_fake import FakeQdrant


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


@pytest.mark.skipif(
    not os.environ.get("RAGLINE_QDRANT_URL"),
    reason="set RAGLINE_QDRANT_URL (e.g. http://localhost:6333) to test a real Qdrant server",
)
class TestRealServerStore(VectorStoreConformance):
    """The same contract against a real server or cluster; each store gets a fresh collection
    name, dropped after its test."""

    @pytest.fixture(scope="class")
    @classmethod
    def make_store(cls) -> StoreFactory:
        url = os.environ["RAGLINE_QDRANT_URL"]
        key = os.environ.get("RAGLINE_QDRANT_API_KEY")
        return lambda: QdrantServerStore(f"ragline-test-{uuid.uuid4().hex[:12]}", url, key)

    def test_snapshot_round_trip(self, filled: VectorStore, tmp_path: Path) -> None:
        assert isinstance(filled, QdrantServerStore)
        info = create_snapshot(filled, tmp_path / "docs.snapshot")
        assert info.path is not None and info.path.stat().st_size > 0
        filled.delete(Filter())
        assert filled.count() == 0
        restore_snapshot(filled, str(info.path))
        assert filled.count() == len(POINTS)


@pytest.mark.integration
class TestCollectionLayout:
    """What the adapter asks the server for when it creates a collection (local mode ignores
    these settings, so they are read where they leave: qdrant-client's HTTP request)."""

    def test_every_layout_setting_is_sent(self) -> None:
        config = ServerStoreConfig(
            shard_number=6,
            replication_factor=2,
            write_consistency_factor=2,
            on_disk_vectors=True,
            on_disk_payload=True,
            quantization="int8",
            quantization_always_ram=True,
        )
        with FakeQdrant() as fake:
            QdrantServerStore("docs", url=fake.url, config=config).ensure_collection(SPEC)
            [body] = fake.bodies("PUT", "/collections/docs")
        assert body["shard_number"] == 6
        assert body["replication_factor"] == 2
        assert body["write_consistency_factor"] == 2
        assert body["on_disk_payload"] is True
        assert body["vectors"] == {DENSE: {"size": DIMS, "distance": "Cosine", "on_disk": True}}
        assert body["sparse_vectors"] == {SPARSE: {"index": {"on_disk": True}, "modifier": "idf"}}
        assert body["quantization_config"] == {"scalar": {"type": "int8", "always_ram": True}}

    def test_unset_settings_are_left_to_the_server(self) -> None:
        with FakeQdrant() as fake:
            QdrantServerStore("docs", url=fake.url).ensure_collection(SPEC)
            [body] = fake.bodies("PUT", "/collections/docs")
        assert set(body) == {"vectors", "sparse_vectors"}
        assert body["vectors"] == {DENSE: {"size": DIMS, "distance": "Cosine"}}
        assert body["sparse_vectors"] == {SPARSE: {"modifier": "idf"}}

    def test_payload_indexes_are_those_of_the_spec_as_on_edge(self) -> None:
        with FakeQdrant() as fake:
            QdrantServerStore("docs", url=fake.url).ensure_collection(SPEC)
            sent = fake.bodies("PUT", "/collections/docs/index")
        assert {b["field_name"]: b["field_schema"] for b in sent} == dict(DEFAULT_INDEXES)

    def test_settings_reach_the_store_through_the_registry(self) -> None:
        settings = StoreConfig(
            backend="server", url=":memory:", server=ServerStoreConfig(shard_number=3)
        )
        store = default_stores().get("server").open(settings, Path("unused"), "docs")
        assert isinstance(store, QdrantServerStore)
        assert store.config.shard_number == 3
        assert collection_args(SPEC, store.config)["shard_number"] == 3
        store.close()
