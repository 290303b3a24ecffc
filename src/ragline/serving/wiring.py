"""Build the real objects a command needs from the settings tree (the only place that does).

    with Accounting(settings) as costs:                 # prices, the ledger, the one sink
        store = build_store(settings, "docs", costs)     # metered: a vector_db event per query
        retriever = build_retriever(settings, settings.retrieval, store, costs)
        router = build_chat_router(settings, costs)     # priced with the same Prices

Costs are wired here and nowhere else: every embedder and store a front door gets is wrapped
in `ragline.rag.metering`, and every router records to the same `ScopedSink`, whose first sink
is the ledger. A store built without `costs` is unmetered (listing, deleting, readiness).
Backends come from `ragline.rag.store.registry` by `store.backend`: no if-chain here.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from ragline.core.costs import CostSink, ScopedSink
from ragline.core.embedding import Embedder, SparseEncoder
from ragline.core.index import VectorIndex
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.embed.sparse import Bm25Encoder
from ragline.rag.ingest import Ingestor, IngestSettings, Manifest, Progress
from ragline.rag.ingest.pipeline import MapperFactory
from ragline.rag.metering import Meter, MeteredEmbedder, MeteredStore
from ragline.rag.retrieve import RetrievalConfig, Retriever
from ragline.rag.store.protocol import VectorStore
from ragline.rag.store.registry import default_stores
from ragline.serving.settings import Settings

if TYPE_CHECKING:
    from ragline.llm_router.router import Router
    from ragline.serving.conversations.protocol import ConversationStore

SEMANTIC_CACHE_COLLECTION = "ragline_semantic_cache"


class Accounting:
    """One process's cost accounting: the `Prices` of the `costs:` settings, the ledger, and
    the sink every part records to (the ledger, then `extra` sinks such as /metrics).

    with Accounting(settings) as costs:
        costs.meter            # what metering wrappers need
        costs.sink             # what routers record to
    """

    def __init__(self, settings: Settings, *extra: CostSink) -> None:
        from ragline.mltrack.costs.ledger import Ledger  # SQLAlchemy: not for `ragline --help`

        self.prices = settings.costs.prices()
        self.ledger = Ledger(settings.costs.ledger, settings.data_dir)
        self.sink = ScopedSink(self.ledger, *extra)
        self.meter = Meter(self.prices, self.sink)

    def __enter__(self) -> Accounting:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Write what the ledger still buffers, then release it."""
        self.ledger.close()


def build_store(
    settings: Settings, collection: str | None = None, costs: Accounting | None = None
) -> VectorStore:
    """The configured store bound to `collection` (default store.collection); metered when
    `costs` is given."""
    name = collection or settings.store.collection
    backend = default_stores().get(settings.store.backend)
    store = backend.open(settings.store, settings.store_path(), name)
    if costs is None:
        return store
    return MeteredStore(store, costs.meter, settings.store.backend)


def store_key(settings: Settings) -> str:
    """Names the engine location, so manifests of different stores never mix."""
    backend = default_stores().get(settings.store.backend)
    return backend.location(settings.store, settings.store_path())


def build_manifest(settings: Settings, collection: str) -> Manifest:
    return Manifest(settings.data_dir / "manifest.sqlite", store_key(settings), collection)


def build_embedder(settings: Settings, costs: Accounting) -> MeteredEmbedder:
    """The configured dense embedder, metered (nothing loaded yet)."""
    return MeteredEmbedder(SentenceTransformerEmbedder(settings.embedding), costs.meter)


def build_retriever(
    settings: Settings,
    retrieval: RetrievalConfig,
    store: VectorStore,
    costs: Accounting,
    embedder: Embedder | None = None,
) -> Retriever:
    """A retriever over `store` with the configured (metered) embedders; nothing loads yet."""
    dense = embedder or build_embedder(settings, costs)
    return Retriever(store, dense, Bm25Encoder(settings.sparse), retrieval)


def build_ingestor(
    settings: Settings,
    store: VectorStore,
    progress: Progress | None = None,
    *,
    costs: Accounting,
    embedder: Embedder | None = None,
    sparse: SparseEncoder | None = None,
    mapper: MapperFactory | None = None,
) -> Ingestor:
    """An ingestor writing into `store`, with the manifest of that store and collection.

    A long-lived process (the API) passes the `embedder` and `sparse` encoder it already
    loaded, so an ingest job never loads a second copy of the model; `mapper` says where files
    load and chunk (default: in-process or the ingest.workers pool; Ray: `ray_mapper`).
    """
    ingest_settings = IngestSettings(
        ingest=settings.ingest,
        chunking=settings.chunking,
        embedding=settings.embedding,
        sparse=settings.sparse,
        upsert_batch=settings.store.upsert_batch,
    )
    return Ingestor(
        ingest_settings,
        embedder or build_embedder(settings, costs),
        sparse or Bm25Encoder(settings.sparse),
        store,
        build_manifest(settings, store.collection),
        progress,
        mapper,
    )


def build_semantic_index(settings: Settings) -> VectorIndex:
    """Where the semantic cache keeps its entries: in memory when llm.semantic_cache.path is
    null; else in the configured store backend (an Edge folder at that path, or the server's
    `ragline_semantic_cache` collection, shared by replicas)."""
    from ragline.core.memory_index import MemoryIndex

    path = settings.llm.semantic_cache.path
    if path is None:
        return MemoryIndex(SEMANTIC_CACHE_COLLECTION)
    root = path if path.is_absolute() else settings.data_dir / path.name
    config = settings.store.model_copy(update={"wal": True})  # one upsert per model call
    return default_stores().get(config.backend).open(config, root, SEMANTIC_CACHE_COLLECTION)


def build_conversations(settings: Settings) -> ConversationStore:
    """The conversation store `conversations.backend` names (SQLite under `data_dir` by
    default; Redis or PostgreSQL connect on first use). The caller closes it."""
    from ragline.serving.conversations.backends import open_conversations

    return open_conversations(settings.conversations, settings.data_dir)


def build_chat_router(
    settings: Settings,
    costs: Accounting,
    model: str | None = None,
    embedder: Embedder | None = None,
) -> Router:
    """The router over `settings.llm`, priced and recorded by `costs`; `model`
    ("provider:model") asks that model alone. A long-lived process passes the `embedder` it
    loaded (the semantic cache's questions)."""
    from ragline.llm_router.build import SemanticParts, build_router

    llm = settings.llm
    if model is not None:
        llm = llm.model_copy(update={"provider": model, "policy": "fixed", "fallbacks": ()})
    semantic = None
    if llm.semantic_cache.enabled:
        dense = embedder or build_embedder(settings, costs)
        semantic = SemanticParts(dense, build_semantic_index(settings))
    return build_router(
        llm, data_dir=settings.data_dir, prices=costs.prices, sink=costs.sink, semantic=semantic
    )
