"""Vector stores: the `VectorStore` protocol, its filter model, and the Qdrant adapters.

Adapters are imported from their modules (`ragline.rag.store.edge`, `ragline.rag.store.server`) so
that using one does not import the other's client library.
"""

from ragline.core.filters import DateRange, Filter, HasId, Match, MatchAny, Range
from ragline.core.index import DEFAULT_INDEXES, CollectionSpec, StoreQuery
from ragline.rag.store.filters import source_filter
from ragline.rag.store.protocol import VectorStore

__all__ = [
    "DEFAULT_INDEXES",
    "CollectionSpec",
    "DateRange",
    "Filter",
    "HasId",
    "Match",
    "MatchAny",
    "Range",
    "StoreQuery",
    "VectorStore",
    "source_filter",
]
