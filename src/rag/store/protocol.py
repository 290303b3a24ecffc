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
    "chunk_index": "integer",
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
    weights: tuple[float, float] | None = None  # (dense, sparse) for weighted RRF


@runtime_checkable
class VectorStore(Protocol):
    """One collection in a Qdrant engine. Upserts are idempotent (ids come from content)."""

    @property
    def collection(self) -> str: ...

    def exists(self) -> bool: ...

    def ensure_collection(self, spec: CollectionSpec) -> None: ...

    def upsert(self, points: Sequence[StorePoint]) -> None: ...

    def delete(self, where: Filter) -> int:
        """Remove the matching points; return how many were removed."""
        ...

    def count(self, where: Filter | None = None) -> int: ...

    def query(self, query: StoreQuery) -> list[Hit]:
        """Best first; equal scores are ordered by id so results are reproducible."""
        ...

    def list_collections(self) -> list[str]: ...

    def drop(self) -> None:
        """Delete the whole collection."""
        ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def rank(hits: list[Hit]) -> list[Hit]:
    """Best score first, ties broken by id (engines order equal scores arbitrarily)."""
    return sorted(hits, key=lambda h: (-h.score, h.id))
