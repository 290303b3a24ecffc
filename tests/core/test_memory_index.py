"""`MemoryIndex` against the `VectorIndex` contract, and its filters against Qdrant's meaning."""

from __future__ import annotations

import numpy as np
import pytest

from ragline.core.filters import DateRange, Filter, HasId, Match, MatchAny, Range
from ragline.core.index import CollectionSpec, StorePoint, StoreQuery
from ragline.core.memory_index import MemoryIndex, matches
from ragline.rag.testing.index import IndexFactory, VectorIndexConformance


class TestMemoryIndex(VectorIndexConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def make_index(cls) -> IndexFactory:
        return lambda: MemoryIndex("cache")


PAYLOAD = {"tag": ["a", "b"], "n": 3, "flag": True, "when": "2024-06-15T08:30:00Z"}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Filter(must=(Match("tag", "b"),)), True),  # any element of a list matches
        (Filter(must=(Match("n", 3),)), True),
        (Filter(must=(Match("flag", 1),)), False),  # a bool is not the integer 1
        (Filter(must=(Match("n", True),)), False),
        (Filter(must=(MatchAny("n", (1, 2)),)), False),
        (Filter(must=(Range("n", gt=2, lte=3),)), True),
        (Filter(must=(Range("flag", gte=0),)), False),  # booleans are not numbers
        (Filter(must=(Range("missing", gte=0),)), False),
        (Filter(must=(DateRange("when", gte="2024-06-15T10:00:00+02:00"),)), True),
        (Filter(must=(DateRange("when", lt="2024-06-15T08:30:00"),)), False),  # naive is UTC
        (Filter(must=(HasId(frozenset({"p1"})),)), True),
        (Filter(must_not=(Match("n", 3),)), False),
        (Filter(should=(Match("n", 4), Match("flag", True))), True),
        (Filter(should=(Match("n", 4),)), False),
    ],
)
def test_filters_mean_what_they_mean_in_qdrant(where: Filter, expected: bool) -> None:
    assert matches(where, "p1", PAYLOAD) is expected


@pytest.mark.unit
def test_sparse_queries_and_wrong_widths_are_refused() -> None:
    index = MemoryIndex()
    index.ensure_collection(CollectionSpec(dims=2, indexes={}))
    with pytest.raises(ValueError, match="3 dims, not 2"):
        index.upsert([StorePoint("p", np.ones(3, dtype=np.float32), None, {})])
    with pytest.raises(ValueError, match="dense queries only"):
        index.query(StoreQuery())
