"""The vector index seam: points with a dense (and optional sparse) vector and a payload,
queried by similarity under payload filters.

    index.ensure_collection(CollectionSpec(dims=384, indexes={"scope": "keyword"}))
    index.upsert([StorePoint(id, vector, None, {"scope": "abc"})])
    index.query(StoreQuery(dense=vector, limit=4, filter=Filter(must=(Match("scope", "abc"),))))

`VectorIndex` is the narrow part every Qdrant adapter offers (the semantic cache needs no
more); `ragline.rag.store.VectorStore` adds what a document collection needs on top
(scroll, list, drop, optimize). Adapters: `QdrantEdgeStore` (embedded), `QdrantServerStore`
(qdrant-client), `ragline.core.memory_index.MemoryIndex` (in-process, exact, for tests and
small caches). `ragline.rag.testing` holds the conformance suite they all pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ragline.core.filters import Filter
from ragline.core.types import Payload, SparseVector

IndexKind = Literal["keyword", "integer", "float", "datetime", "text", "bool"]
Fusion = Literal["rrf", "dbsf"]

DENSE = "dense"
SPARSE = "sparse"

# The payload fields of ragline's chunks, indexed unless a spec says otherwise.
DEFAULT_INDEXES: Mapping[str, IndexKind] = {
    "source_document": "keyword",
    "source_path": "keyword",
    "section_heading": "keyword",
    "page_number": "integer",
    "date_created": "datetime",
}


@dataclass(frozen=True, slots=True)
class StorePoint:
    """What an index keeps: an id (a UUID string), a dense vector, an optional sparse vector
    and a payload."""

    id: str
    dense: NDArray[np.float32]
    sparse: SparseVector | None
    payload: Payload


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result."""

    id: str
    score: float
    payload: Payload


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
class VectorIndex(Protocol):
    """One collection of points in a vector engine. Upserts are idempotent by id.

    On a missing collection `count` and `delete` return 0, while `upsert` and `query` raise
    the adapter's store error. Dense scores are cosine similarities.
    """

    @property
    def collection(self) -> str: ...

    def exists(self) -> bool: ...

    def ensure_collection(self, spec: CollectionSpec) -> None:
        """Create the collection, or check its dims and add missing payload indexes."""
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

    def flush(self) -> None:
        """Make every change so far durable (on disk, or acknowledged by the server)."""
        ...

    def close(self) -> None: ...


def rank(hits: list[Hit]) -> list[Hit]:
    """Best score first, ties broken by id (engines order equal scores arbitrarily)."""
    return sorted(hits, key=lambda h: (-h.score, h.id))
