"""Build the real objects a command needs from the settings tree (the only place that does)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.config import StoreConfig
from rag.embed.protocol import Embedder, SparseEncoder
from rag.embed.sentence_transformers import SentenceTransformerEmbedder
from rag.embed.sparse import Bm25Encoder
from rag.ingest import Ingestor, IngestSettings, Manifest, Progress
from rag.store.protocol import VectorStore
from serving.settings import Settings

if TYPE_CHECKING:
    from llm_router.router import Router


def build_store(settings: Settings, collection: str | None = None) -> VectorStore:
    """The configured store, bound to `collection` (default: store.collection)."""
    name = collection or settings.store.collection
    StoreConfig.model_validate({**settings.store.model_dump(), "collection": name})
    if settings.store.backend == "server":
        from rag.store.server import QdrantServerStore

        assert settings.store.url is not None  # checked by StoreConfig
        key = settings.store.api_key.get_secret_value() if settings.store.api_key else None
        return QdrantServerStore(name, url=settings.store.url, api_key=key)
    from rag.store.edge import QdrantEdgeStore

    return QdrantEdgeStore(settings.store_path(), name, wal=settings.store.wal)


def store_key(settings: Settings) -> str:
    """Names the engine location, so manifests of different stores never mix."""
    if settings.store.backend == "server":
        return f"server:{settings.store.url}"
    return f"edge:{settings.store_path().resolve()}"


def build_manifest(settings: Settings, collection: str) -> Manifest:
    return Manifest(settings.data_dir / "manifest.sqlite", store_key(settings), collection)


def build_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(settings.embedding)


def build_ingestor(
    settings: Settings,
    store: VectorStore,
    progress: Progress | None = None,
    *,
    embedder: Embedder | None = None,
    sparse: SparseEncoder | None = None,
) -> Ingestor:
    """An ingestor writing into `store`, with the manifest of that store and collection.

    A long-lived process (the API) passes the `embedder` and `sparse` encoder it already
    loaded, so an ingest job never loads a second copy of the model.
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
        embedder or build_embedder(settings),
        sparse or Bm25Encoder(settings.sparse),
        store,
        build_manifest(settings, store.collection),
        progress,
    )


def build_chat_router(settings: Settings, model: str | None = None) -> Router:
    """The router over `settings.llm`; `model` ("provider:model") asks that model alone.

    Cost events go to `<data_dir>/costs.jsonl` and to the cost ledger (`<data_dir>/ledger.db`).
    """
    from llm_router.build import build_router
    from llm_router.costs import FanoutSink, JsonlSink
    from serving.ledger_sink import LedgerSink

    llm = settings.llm
    if model is not None:
        llm = llm.model_copy(update={"provider": model, "policy": "fixed", "fallbacks": ()})
    embedder = build_embedder(settings) if llm.semantic_cache.enabled else None
    return build_router(
        llm,
        data_dir=settings.data_dir,
        sink=FanoutSink(
            JsonlSink(settings.data_dir / "costs.jsonl"),
            LedgerSink.open(settings.data_dir, settings.ml.ledger),
        ),
        embedder=embedder,
    )
