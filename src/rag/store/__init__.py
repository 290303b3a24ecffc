"""Vector stores: the `VectorStore` protocol, its filter model, and the Qdrant adapters.

Adapters are imported from their modules (`rag.store.edge`, `rag.store.server`) so that
using one does not import the other's client library.
"""

from rag.store.filters import DateRange, Filter, HasId, Match, MatchAny, Range, source_filter
from rag.store.protocol import DEFAULT_INDEXES, CollectionSpec, StoreQuery, VectorStore

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
