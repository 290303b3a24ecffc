"""Metering wrappers: they keep the `Embedder` and `VectorStore` contracts (the shipped suites
run on them) and record one priced event per call, billed to the open cost scope."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from ragline.core.costs import MemorySink, ScopedSink, cost_scope
from ragline.core.embedding import Embedder
from ragline.core.index import StoreQuery
from ragline.core.pricing import Prices, PriceTable
from ragline.llm_router.tokens import count_tokens
from ragline.rag.metering import Meter, MeteredEmbedder, MeteredStore
from ragline.rag.store.edge import QdrantEdgeStore
from ragline.rag.testing import (
    EmbedderConformance,
    StoreFactory,
    VectorStoreConformance,
)
from ragline.rag.testing.store import POINTS, SPEC

PRICES = Prices(
    PriceTable({}),
    embedding_usd_per_1m_tokens=Decimal(1000),
    vector_usd_per_1k_queries=Decimal(5),
    vector_usd_per_1k_writes=Decimal(2),
)


def meter() -> tuple[Meter, MemorySink]:
    sink = MemorySink()
    return Meter(PRICES, ScopedSink(sink)), sink


class TestMeteredEmbedder(EmbedderConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, embedder: Embedder) -> Embedder:  # type: ignore[override]
        return MeteredEmbedder(embedder, meter()[0])


class TestMeteredStore(VectorStoreConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def make_store(cls, tmp_path_factory: pytest.TempPathFactory) -> StoreFactory:
        return lambda: MeteredStore(
            QdrantEdgeStore(tmp_path_factory.mktemp("metered"), "docs"), meter()[0], "edge"
        )


@pytest.mark.integration
def test_an_embedding_call_is_one_priced_event_of_its_tokens(embedder: Embedder) -> None:
    metered_meter, sink = meter()
    metered = MeteredEmbedder(embedder, metered_meter)
    texts = ["How long do refunds take?", "Refunds are paid within 14 days."]
    with cost_scope("req-1", key="alice") as scope:
        rows = metered.embed(texts, kind="query")
    assert np.array_equal(rows, embedder.embed(texts, kind="query"))
    [event] = sink.events
    tokens = sum(count_tokens(t) for t in texts)
    assert (event.kind, event.model, event.tokens_in, event.units) == (
        "embedding",
        f"embedding:{embedder.name}",
        tokens,
        tokens,
    )
    assert event.usd == Decimal(tokens) / 1000  # $1000 per 1M tokens
    assert (event.request_id, event.key) == ("req-1", "alice")
    assert scope.total_usd() == event.usd


@pytest.mark.integration
def test_store_queries_and_writes_are_priced_reads_are_free(tmp_path: Path) -> None:
    store_meter, sink = meter()
    store = MeteredStore(QdrantEdgeStore(tmp_path, "docs"), store_meter, "edge")
    with cost_scope("req-2") as scope:
        store.ensure_collection(SPEC)
        store.upsert(POINTS)
        store.upsert([])  # nothing written: no event
        store.query(StoreQuery(dense=POINTS[0].dense, limit=3))
        store.count()
        store.scroll(10)
    store.close()
    assert [(e.kind, e.model, e.units) for e in sink.events] == [
        ("vector_db", "edge:docs", len(POINTS)),
        ("vector_db", "edge:docs", 1),
    ]
    assert sink.events[0].usd == Decimal(2) * len(POINTS) / 1000
    assert sink.events[1].usd == Decimal("0.005")
    assert scope.total_usd() == sink.total_usd()


@pytest.mark.unit
def test_work_outside_a_scope_is_billed_as_unscoped(tmp_path: Path) -> None:
    store_meter, sink = meter()
    store = MeteredStore(QdrantEdgeStore(tmp_path, "docs"), store_meter, "edge")
    store.ensure_collection(SPEC)
    store.upsert(POINTS[:1])
    store.close()
    assert [e.request_id for e in sink.events] == ["unscoped"]
