"""Metering wrappers: an `Embedder` and a `VectorStore` that record a cost event per call.

    meter = Meter(prices, sink)
    embedder = MeteredEmbedder(SentenceTransformerEmbedder(config), meter)
    store = MeteredStore(QdrantEdgeStore(root, "docs"), meter, backend="edge")
    with cost_scope("req-1"):
        retriever = Retriever(store, embedder, sparse)
        retriever.search("why does dough rise?")   # one "embedding" and one "vector_db" event

`ragline.serving.wiring` applies them, in one place, to every embedder and store it builds,
so each front door (CLI ingest / search / ask / chat, API query / search / chat / ingest,
eval runs) records what it spent. Events are billed to the current `cost_scope`.

Embedding tokens are counted with tiktoken's cl100k_base, the unit embedding APIs bill by
(priced by `costs.embedding_usd_per_1m_tokens`; a local model's count is the same estimate).
Vector-DB events count queries (`costs.vector_usd_per_1k_queries`) and points written
(`costs.vector_usd_per_1k_writes`); reads that scroll and deletes are not billed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragline.core.costs import CostSink, work_event
from ragline.core.embedding import Embedder, EmbedKind, TokenWindow
from ragline.core.filters import Filter
from ragline.core.index import CollectionSpec, Hit, StorePoint, StoreQuery
from ragline.core.pricing import Prices
from ragline.core.types import FloatMatrix
from ragline.rag.store.protocol import VectorStore


@dataclass(frozen=True, slots=True)
class Meter:
    """What metering needs: the prices, and the sink every event goes to."""

    prices: Prices
    sink: CostSink


def _cl100k_tokens(text: str) -> int:
    from ragline.llm_router.tokens import count_tokens

    return count_tokens(text)


class MeteredEmbedder:
    """An `Embedder` that records one "embedding" event per `embed` call (tokens and price).

    MeteredEmbedder(embedder, meter).embed(["a chunk"])   # same vectors, one event
    """

    def __init__(
        self, inner: Embedder, meter: Meter, count: Callable[[str], int] = _cl100k_tokens
    ) -> None:
        self.inner = inner
        self._prices = meter.prices
        self._sink = meter.sink
        self._count = count

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dims(self) -> int:
        return self.inner.dims

    @property
    def query_backend(self) -> str:
        """What embeds queries in the wrapped embedder, where it says ("torch" otherwise)."""
        return str(getattr(self.inner, "query_backend", "torch"))

    def warm_up(self) -> None:
        """Load the wrapped embedder's models now, where it can."""
        warm = getattr(self.inner, "warm_up", None)
        if callable(warm):
            warm()

    def window(self) -> TokenWindow | None:
        return self.inner.window()

    def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> FloatMatrix:
        vectors = self.inner.embed(texts, kind)
        tokens = sum(self._count(text) for text in texts)
        usd = self._prices.embedding_cost(tokens)
        model = f"embedding:{self.inner.name}"
        self._sink.record(work_event("embedding", model, tokens, usd, tokens=tokens))
        return vectors


class MeteredStore:
    """A `VectorStore` that records a "vector_db" event per query and per upsert batch.

    MeteredStore(store, meter, backend="edge").query(q)   # same hits, one event of 1 query
    """

    def __init__(self, inner: VectorStore, meter: Meter, backend: str) -> None:
        self.inner = inner
        self._prices = meter.prices
        self._sink = meter.sink
        self._model = f"{backend}:{inner.collection}"

    @property
    def collection(self) -> str:
        return self.inner.collection

    def exists(self) -> bool:
        return self.inner.exists()

    def ensure_collection(self, spec: CollectionSpec) -> None:
        self.inner.ensure_collection(spec)

    def upsert(self, points: Sequence[StorePoint]) -> None:
        self.inner.upsert(points)
        if points:
            usd = self._prices.vector_cost(writes=len(points))
            self._sink.record(work_event("vector_db", self._model, len(points), usd))

    def delete(self, where: Filter) -> int:
        return self.inner.delete(where)

    def count(self, where: Filter | None = None) -> int:
        return self.inner.count(where)

    def query(self, query: StoreQuery) -> list[Hit]:
        hits = self.inner.query(query)
        usd = self._prices.vector_cost(queries=1)
        self._sink.record(work_event("vector_db", self._model, 1, usd))
        return hits

    def scroll(
        self,
        limit: int,
        offset: str | None = None,
        where: Filter | None = None,
        payload_keys: tuple[str, ...] | None = None,
    ) -> tuple[list[Hit], str | None]:
        return self.inner.scroll(limit, offset, where, payload_keys)

    def list_collections(self) -> list[str]:
        return self.inner.list_collections()

    def drop(self) -> None:
        self.inner.drop()

    def flush(self) -> None:
        self.inner.flush()

    def optimize(self) -> None:
        self.inner.optimize()

    def close(self) -> None:
        self.inner.close()
