"""The `VectorIndex` contract (`ragline.core.index`), checked against small hand-made data:
what the semantic cache, or any other user of a plain vector index, relies on.

Every index adapter's tests inherit `VectorIndexConformance` and provide a class-scoped
`make_index` fixture: a factory of adapters, each bound to a fresh collection.

    class TestMyIndex(VectorIndexConformance):
        @pytest.fixture(scope="class")
        @classmethod
        def make_index(cls, tmp_path_factory: pytest.TempPathFactory) -> IndexFactory:
            return lambda: MyIndex(tmp_path_factory.mktemp("index"), "cache")

Points carry a dense vector only (no sparse leg): the index may be a cache of anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
import pytest

from ragline.core.filters import Filter, HasId, Match, Range
from ragline.core.index import CollectionSpec, IndexKind, StorePoint, StoreQuery, VectorIndex
from ragline.core.types import Payload

IndexFactory = Callable[[], VectorIndex]

DIMS = 6
INDEXES: dict[str, IndexKind] = {"scope": "keyword", "expires": "float"}
SPEC = CollectionSpec(dims=DIMS, indexes=INDEXES)
_NAMESPACE = uuid.UUID("5d0e6a8c-2b1f-4c3e-9a7d-1e2f3a4b5c6d")
_ROWS = np.random.default_rng(11).normal(size=(5, DIMS)).astype(np.float32)
VECTORS = _ROWS / np.linalg.norm(_ROWS, axis=1, keepdims=True)
SCOPES = ("a", "a", "a", "b", "b")
EXPIRES = (10.0, 20.0, 30.0, 40.0, 50.0)


def entry_id(i: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"entry-{i}"))


def _payload(i: int) -> Payload:
    return {"scope": SCOPES[i], "expires": EXPIRES[i], "answer": f"answer {i}"}


POINTS = [StorePoint(entry_id(i), VECTORS[i], None, _payload(i)) for i in range(5)]


@pytest.mark.integration
class VectorIndexConformance:
    """Tests every `VectorIndex` adapter passes. Subclasses provide `make_index`."""

    @pytest.fixture(scope="class")
    @classmethod
    def make_index(cls) -> IndexFactory:
        raise NotImplementedError("an adapter's test class provides the `make_index` fixture")

    @pytest.fixture
    def index(self, make_index: IndexFactory) -> Iterator[VectorIndex]:
        """An index holding `POINTS`."""
        index = make_index()
        index.ensure_collection(SPEC)
        index.upsert(POINTS)
        yield index
        index.close()

    def test_is_a_vector_index(self, index: VectorIndex) -> None:
        assert isinstance(index, VectorIndex)
        assert index.collection

    def test_a_new_collection_is_missing_then_empty(self, make_index: IndexFactory) -> None:
        index = make_index()
        assert not index.exists()
        assert index.count() == 0
        assert index.delete(Filter(must=(Match("scope", "a"),))) == 0
        index.ensure_collection(SPEC)
        assert index.exists() and index.count() == 0
        index.close()

    def test_other_dims_are_refused(self, index: VectorIndex) -> None:
        with pytest.raises(Exception, match=r"\d+-d|dims"):
            index.ensure_collection(CollectionSpec(dims=DIMS + 1, indexes=INDEXES))

    def test_nearest_first_with_cosine_scores(self, index: VectorIndex) -> None:
        hits = index.query(StoreQuery(dense=VECTORS[2], limit=3))
        assert hits[0].id == entry_id(2)
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        expected = sorted(range(5), key=lambda i: -float(VECTORS[i] @ VECTORS[2]))[:3]
        assert [h.id for h in hits] == [entry_id(i) for i in expected]
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert hits[0].payload == _payload(2)

    def test_filters_keyword_and_range_on_query_and_count(self, index: VectorIndex) -> None:
        live_a = Filter(must=(Match("scope", "a"), Range("expires", gt=15.0)))
        hits = index.query(StoreQuery(dense=VECTORS[0], limit=5, filter=live_a))
        assert {h.id for h in hits} == {entry_id(1), entry_id(2)}
        assert index.count(live_a) == 2
        assert index.count(Filter(must=(Range("expires", lte=20.0),))) == 2

    def test_upsert_is_idempotent_and_replaces_the_payload(self, index: VectorIndex) -> None:
        index.upsert([replace(POINTS[0], payload={**_payload(0), "answer": "new"})])
        assert index.count() == 5
        [hit] = index.query(StoreQuery(dense=VECTORS[0], limit=1))
        assert hit.payload["answer"] == "new"

    def test_delete_by_id_and_by_filter(self, index: VectorIndex) -> None:
        assert index.delete(Filter(must=(HasId(frozenset({entry_id(4)})),))) == 1
        assert index.delete(Filter(must=(Range("expires", lte=20.0),))) == 2
        assert index.count() == 2
        hits = index.query(StoreQuery(dense=VECTORS[0], limit=5))
        assert {h.id for h in hits} == {entry_id(2), entry_id(3)}

    def test_flush_keeps_everything(self, index: VectorIndex) -> None:
        index.flush()
        assert index.count() == 5
