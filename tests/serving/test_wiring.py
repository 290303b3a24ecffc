"""The wiring: stores come from the registry by `store.backend` (a new backend needs no wiring
change), every store and embedder a door gets is metered, the semantic cache's index follows
the configured backend, and the router records to the same sink as the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ragline.core.chat import ChatRequest, Message
from ragline.core.costs import cost_scope
from ragline.core.memory_index import MemoryIndex
from ragline.rag.errors import StoreError
from ragline.rag.metering import MeteredEmbedder, MeteredStore
from ragline.rag.store.edge import QdrantEdgeStore
from ragline.rag.store.registry import StoreBackend, default_stores
from ragline.rag.store.server import QdrantServerStore
from ragline.serving.settings import Settings
from ragline.serving.wiring import (
    SEMANTIC_CACHE_COLLECTION,
    Accounting,
    build_chat_router,
    build_embedder,
    build_semantic_index,
    build_store,
    store_key,
)

pytestmark = pytest.mark.unit


def settings(tmp_path: Path, **sections: object) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path / "data", **sections})


@pytest.fixture
def costs(tmp_path: Path) -> Iterator[Accounting]:
    with Accounting(settings(tmp_path)) as accounting:
        yield accounting


def test_the_edge_backend_by_default_metered_when_costs_are_given(
    tmp_path: Path, costs: Accounting
) -> None:
    s = settings(tmp_path)
    plain = build_store(s, "docs")
    assert isinstance(plain, QdrantEdgeStore) and plain.path == tmp_path / "data/qdrant/docs"
    metered = build_store(s, "docs", costs)
    assert isinstance(metered, MeteredStore) and isinstance(metered.inner, QdrantEdgeStore)
    assert store_key(s) == f"edge:{(tmp_path / 'data/qdrant').resolve()}"
    embedder = build_embedder(s, costs)
    assert isinstance(embedder, MeteredEmbedder) and embedder.name == "all-MiniLM-L6-v2"


def test_the_server_backend_and_an_unknown_one(tmp_path: Path) -> None:
    server = settings(tmp_path, store={"backend": "server", "url": ":memory:"})
    assert isinstance(build_store(server, "docs"), QdrantServerStore)
    assert store_key(server) == "server::memory:"
    with pytest.raises(StoreError, match=r"unknown store\.backend 'nosuch'; known: edge, server"):
        build_store(settings(tmp_path, store={"backend": "nosuch"}), "docs")


def test_a_registered_backend_needs_no_wiring_change(tmp_path: Path) -> None:
    opened: list[str] = []

    def open_mine(config: object, root: Path, collection: str) -> QdrantServerStore:
        opened.append(collection)
        return QdrantServerStore(collection, url=":memory:")

    default_stores().register("mine", StoreBackend(open_mine, lambda config, root: "mine:1"))
    try:
        s = settings(tmp_path, store={"backend": "mine"})
        assert isinstance(build_store(s, "notes"), QdrantServerStore)
        assert opened == ["notes"] and store_key(s) == "mine:1"
    finally:
        default_stores()._backends.pop("mine")


def test_the_semantic_index_follows_the_store_backend(tmp_path: Path) -> None:
    in_memory = settings(tmp_path, llm={"semantic_cache": {"path": None}})
    assert isinstance(build_semantic_index(in_memory), MemoryIndex)
    edge = build_semantic_index(settings(tmp_path))
    assert isinstance(edge, QdrantEdgeStore)
    assert edge.path == tmp_path / "data" / "semantic_cache" / SEMANTIC_CACHE_COLLECTION
    server = build_semantic_index(
        settings(tmp_path, store={"backend": "server", "url": ":memory:"})
    )
    assert isinstance(server, QdrantServerStore)
    assert server.collection == SEMANTIC_CACHE_COLLECTION


def test_the_router_records_to_the_one_sink(tmp_path: Path, costs: Accounting) -> None:
    s = settings(tmp_path, llm={"semantic_cache": {"enabled": True, "path": None}})
    router = build_chat_router(s, costs, "extractive")
    assert router.parts.sink is costs.sink
    assert router.parts.semantic is not None
    assert isinstance(router.parts.semantic.index, MemoryIndex)
    with cost_scope("chat-1") as scope:
        router.complete(ChatRequest(messages=(Message("user", "hello there"),)))
    router.close()
    costs.ledger.flush()
    # the model call, and the question's embedding when the semantic cache stored the answer
    assert costs.ledger.breakdown("chat-1") == {"embedding": 0, "llm": 0}
    assert scope.events == 2
