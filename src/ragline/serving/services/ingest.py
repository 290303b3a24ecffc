"""Ingest files into a collection: `ragline ingest` and the API's ingest jobs call this.

    with Accounting(settings) as costs, cost_scope("ingest-1"):
        report = ingest_paths(settings, costs, store, [Path("docs")], progress)

The embedder and sparse encoder default to fresh ones; a long-lived process passes those it
already loaded. Embedding and vector-store writes are metered to the current cost scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ragline.core.embedding import Embedder, SparseEncoder
from ragline.rag.ingest import IngestReport, Progress
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
) -> IngestReport:
    """Load, chunk, embed and upsert `paths` into `store`; unchanged files are skipped, changed
    ones replaced, deleted ones pruned (the manifest of that store and collection)."""
    ingestor = build_ingestor(
        settings, store, progress, costs=costs, embedder=embedder, sparse=sparse
    )
    try:
        return ingestor.run(list(paths))
    finally:
        ingestor.manifest.close()
