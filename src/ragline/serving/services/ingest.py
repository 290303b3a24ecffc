"""Ingest files into a collection: `ragline ingest` and the API's ingest jobs call this.

    with Accounting(settings) as costs, cost_scope("ingest-1"):
        report = ingest_paths(settings, costs, store, [Path("docs")], progress)

The embedder and sparse encoder default to fresh ones; a long-lived process passes those it
already loaded. Embedding and vector-store writes are metered to the current cost scope.
With `engine=RayOptions(...)` files load and chunk in Ray tasks and embed in a Ray actor pool;
this process stays the single writer, so the collection is the one the in-process run makes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ragline.core.embedding import Embedder, SparseEncoder
from ragline.rag.ingest import IngestReport, Progress
from ragline.rag.ingest.ray_engine import RayOptions
from ragline.rag.store.protocol import VectorStore
from ragline.serving.settings import Settings
from ragline.serving.wiring import Accounting, build_ingestor


def ingest_paths(
    settings: Settings,
    costs: Accounting,
    store: VectorStore,
    paths: Sequence[Path],
    progress: Progress | None = None,
    *,
    embedder: Embedder | None = None,
    sparse: SparseEncoder | None = None,
    engine: RayOptions | None = None,
) -> IngestReport:
    """Load, chunk, embed and upsert `paths` into `store`; unchanged files are skipped, changed
    ones replaced, deleted ones pruned (the manifest of that store and collection)."""
    if engine is not None:
        return _ingest_on_ray(settings, costs, store, paths, progress, engine)
    ingestor = build_ingestor(
        settings, store, progress, costs=costs, embedder=embedder, sparse=sparse
    )
    try:
        return ingestor.run(list(paths))
    finally:
        ingestor.manifest.close()


def _ingest_on_ray(
    settings: Settings,
    costs: Accounting,
    store: VectorStore,
    paths: Sequence[Path],
    progress: Progress | None,
    engine: RayOptions,
) -> IngestReport:
    """`ingest_paths` with load + chunk in Ray tasks and embedding in a Ray actor pool."""
    from ragline.rag.ingest.ray_engine import RayEmbedder, ray_mapper, ray_session
    from ragline.rag.metering import MeteredEmbedder

    with ray_session(engine), RayEmbedder(settings.embedding, engine) as embedder:
        ingestor = build_ingestor(
            settings,
            store,
            progress,
            costs=costs,
            embedder=MeteredEmbedder(embedder, costs.meter),
            mapper=ray_mapper(engine),
        )
        try:
            return ingestor.run(list(paths))
        finally:
            ingestor.manifest.close()
