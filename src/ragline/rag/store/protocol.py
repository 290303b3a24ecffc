"""The `VectorStore` seam: one collection of chunks with dense and sparse vectors.

A `VectorStore` is a `ragline.core.index.VectorIndex` (upsert, delete, count, query, ...) plus
what a document collection needs: paging through it, listing, dropping and optimizing.
Adapters register in `ragline.rag.store.registry` (edge, server) and pass the conformance
suite `ragline.rag.testing.VectorStoreConformance`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ragline.core.filters import Filter
from ragline.core.index import Hit, VectorIndex


@runtime_checkable
class VectorStore(VectorIndex, Protocol):
    """One collection in a Qdrant engine. Upserts are idempotent (ids come from content).

    Point ids are UUID strings. On a missing collection `count` and `delete` return 0, while
    `upsert` and `query` raise `StoreError`. Dense scores are cosine similarities; hybrid
    scores are Qdrant's RRF (sum over legs of 1/((rank + 1)/weight + k - 1), rank from 0)
    or DBSF (each leg's scores scaled by mean ± 3 std, then summed).
    """

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

    def optimize(self) -> None:
        """Build search indexes now (HNSW) rather than paying for unindexed queries later."""
        ...
