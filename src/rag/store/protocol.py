"""The `VectorStore` seam: one collection of chunks with dense and sparse vectors.

Adapters: `QdrantEdgeStore` (embedded, on disk) and `QdrantServerStore` (qdrant-client:
a server URL, or `:memory:`). Both pass `tests/rag/store/conformance.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from rag.store.filters import Filter
from rag.types import Hit, SparseVector, StorePoint

IndexKind = Literal["keyword", "integer", "float", "datetime", "text", "bool"]
Fusion = Literal["rrf", "dbsf"]

DENSE = "dense"
SPARSE = "sparse"

DEFAULT_INDEXES: Mapping[str, IndexKind] = {
    "source_document": "keyword",
    "source_path": "keyword",
    "section_heading": "keyword",
    "page_number": "integer",
    "date_created": "datetime",
}


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """Shape of a collection: dense size (cosine), a sparse vector with IDF, payload indexes."""

    dims: int
    indexes: Mapping[str, IndexKind] = field(default_factory=lambda: dict(DEFAULT_INDEXES))


@dataclass(frozen=True, slots=True)
class StoreQuery:
    """A dense, sparse or hybrid (both, fused in the engine) query."""

    dense: NDArray[np.float32] | None = None
    sparse: SparseVector | None = None
    limit: int = 10
    filter: Filter | None = None
    fusion: Fusion = "rrf"
    prefetch_limit: int = 50
    rrf_k: int = 60
    # (dense, sparse) for weighted RRF. A weight divides the rank, so at k=60 it moves
    # little; lower rrf_k for weights to dominate.
    weights: tuple[float, float] | None = None
    # Payload keys to return with each hit; None: the whole payload (text included). Evals
    # that only score documents ask for ("source_document",) and skip ~1 KB of text per hit.
    payload_keys: tuple[str, ...] | None = None


@runtime_checkable
class VectorStore(Protocol):
    """One collection in a Qdrant engine. Upserts are idempotent (ids come from content).

    Point ids are UUID strings. On a missing collection `count` and `delete` return 0, while
    `upsert` and `query` raise `StoreError`. Dense scores are cosine similarities; hybrid
    scores are Qdrant's RRF (sum over legs of 1/((rank + 1)/weight + k - 1), rank from 0)
    or DBSF (each leg's scores scaled by mean ± 3 std, then summed).
    """

    @property
    def collection(self) -> str: ...

    def exists(self) -> bool: ...

    def ensure_collection(self, spec: CollectionSpec) -> None:
        """Create the collection, or check its dims (`StoreError`) and add missing indexes."""
        ...

    def upsert(self, points: Sequence[StorePoint]) -> None:
        """Insert points; an existing id gets the new vectors and the new payload (not merged)."""
        ...

    def delete(self, where: Filter) -> int:
        """Remove the matching points; return how many were removed."""
        ...

    def count(self, where: Filter | None = None) -> int: ...

    def query(self, query: StoreQuery) -> list[Hit]:
        """Best first; equal scores are ordered by id so results are reproducible."""
        ...

    def scroll(
        self,
        limit: int,
        offset: str | None = None,
        where: Filter | None = None,
        payload_keys: tuple[str, ...] | None = None,
    ) -> tuple[list[Hit], str | None]:
        """Up to `limit` points in id order from id `offset` on (inclusive), and the id to
        pass as the next `offset` (None after the last page). Hits carry score 0.0 and their
        payload (only `payload_keys`, if given), no vectors. A missing collection raises
        `StoreError`.

            hits, offset = store.scroll(256)
            while offset is not None:
                page, offset = store.scroll(256, offset)
                hits += page
        """
        ...

    def list_collections(self) -> list[str]: ...

    def drop(self) -> None:
        """Delete the whole collection."""
        ...

    def flush(self) -> None:
        """Make every change so far durable (on disk, or acknowledged by the server)."""
        ...

    def optimize(self) -> None:
        """Build search indexes now (HNSW) rather than paying for unindexed queries later."""
        ...

    def close(self) -> None: ...


def rank(hits: list[Hit]) -> list[Hit]:
    """Best score first, ties broken by id (engines order equal scores arbitrarily)."""
    return sorted(hits, key=lambda h: (-h.score, h.id))
