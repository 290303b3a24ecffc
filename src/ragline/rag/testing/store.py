"""The `VectorStore` contract, checked against small hand-made data.

Every adapter's tests inherit `VectorStoreConformance` and provide one class-scoped fixture,
`make_store`: a factory of adapters, each bound to a fresh collection that does not exist yet.
(A factory rather than one store, so that read-only tests can share one filled collection:
creating a collection with its payload indexes is the slow part.)

    class TestMyStore(VectorStoreConformance):
        @pytest.fixture(scope="class")
        @classmethod
        def make_store(cls, tmp_path_factory: pytest.TempPathFactory) -> StoreFactory:
            return lambda: MyStore(tmp_path_factory.mktemp("store"), "docs")
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
import pytest
from numpy.typing import NDArray

from ragline.core.filters import DateRange, Filter, HasId, Match, MatchAny, Range
from ragline.core.index import DEFAULT_INDEXES, CollectionSpec, Fusion, Hit, StorePoint, StoreQuery
from ragline.core.types import Payload, SparseVector
from ragline.rag.errors import StoreError
from ragline.rag.store.filters import source_filter
from ragline.rag.store.protocol import VectorStore

StoreFactory = Callable[[], VectorStore]

DIMS = 8
SPEC = CollectionSpec(dims=DIMS)
_NAMESPACE = uuid.UUID("0b5c3d2e-7a41-4f0e-9d8c-6a1e2f3b4c5d")


def point_id(name: str) -> str:
    """A UUID id, as ingest makes them; their order is unrelated to the names."""
    return str(uuid.uuid5(_NAMESPACE, name))


def _unit_vectors(count: int, seed: int) -> NDArray[np.float32]:
    rows = np.random.default_rng(seed).normal(size=(count, DIMS)).astype(np.float32)
    normed: NDArray[np.float32] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return normed


IDS = [point_id(f"p{i}") for i in range(6)]
VECTORS = _unit_vectors(6, seed=7)
COMMON_TERM, RARE_TERM = 7, 9
FUSIONS: tuple[Fusion, ...] = ("rrf", "dbsf")


def _sparse(i: int) -> SparseVector:
    """A unique term 100+i for each point; term 7 in p0-p4 with distinct weights; term 9 in p5."""
    if i < 5:
        return SparseVector([100 + i, COMMON_TERM], [1.0, 0.1 * (i + 1)])
    return SparseVector([100 + i, RARE_TERM], [1.0, 0.5])


_ROWS: list[tuple[str, int | None, str | None, str, str, float, bool]] = [
    # source_document, page_number, section_heading, date_created, tag, weight, reviewed
    ("guide.md", 1, "Intro", "2024-01-15T00:00:00Z", "alpha", 0.1, True),
    ("guide.md", 2, "Setup", "2024-03-01T00:00:00Z", "beta", 0.5, False),
    ("guide.md", 3, "Usage", "2024-05-01T00:00:00Z", "alpha", 0.9, False),
    ("faq.md", 1, "Questions", "2024-06-15T08:30:00Z", "gamma", 1.5, True),
    ("faq.md", 2, "Questions", "2024-09-30T12:00:00Z", "beta", 2.5, False),
    ("notes.txt", None, None, "2024-12-31T23:59:59Z", "delta", 3.0, False),
]


def _payload(i: int) -> Payload:
    document, page, heading, created, tag, weight, reviewed = _ROWS[i]
    payload: Payload = {
        "text": f"chunk {i}",
        "source_document": document,
        "source_path": f"/docs/{document}",
        "chunk_index": 0,
        "date_created": created,
        "tag": tag,
        "weight": weight,
        "reviewed": reviewed,
    }
    if page is not None:
        payload["page_number"] = page
    if heading is not None:
        payload["section_heading"] = heading
    return payload


POINTS = [StorePoint(IDS[i], VECTORS[i], _sparse(i), _payload(i)) for i in range(6)]


def ids_of(*indexes: int) -> set[str]:
    return {IDS[i] for i in indexes}


def in_order(hits: list[Hit]) -> bool:
    keys = [(-h.score, h.id) for h in hits]
    return keys == sorted(keys)


# (filter, indexes of the points it selects)
FILTER_CASES = [
    pytest.param(Filter(must=(Match("source_document", "guide.md"),)), {0, 1, 2}, id="keyword"),
    pytest.param(Filter(must=(Match("tag", "beta"),)), {1, 4}, id="keyword-unindexed"),
    pytest.param(Filter(must=(Match("page_number", 2),)), {1, 4}, id="int"),
    pytest.param(Filter(must=(Match("reviewed", True),)), {0, 3}, id="bool-true"),
    pytest.param(Filter(must=(Match("reviewed", False),)), {1, 2, 4, 5}, id="bool-false"),
    pytest.param(Filter(must=(MatchAny("tag", ("alpha", "delta")),)), {0, 2, 5}, id="any-str"),
    pytest.param(Filter(must=(MatchAny("page_number", (1, 3)),)), {0, 2, 3}, id="any-int"),
    pytest.param(Filter(must=(Range("weight", gte=0.5, lte=1.5),)), {1, 2, 3}, id="range-incl"),
    pytest.param(Filter(must=(Range("weight", gt=0.5, lt=2.5),)), {2, 3}, id="range-excl"),
    pytest.param(Filter(must=(Range("page_number", gte=2),)), {1, 2, 4}, id="range-int"),
    pytest.param(
        Filter(must=(DateRange("date_created", gte="2024-03-01T00:00:00Z", lte="2024-06-30"),)),
        {1, 2, 3},
        id="date-between",
    ),
    pytest.param(
        Filter(must=(DateRange("date_created", gt="2024-06-15T08:30:00Z"),)), {4, 5}, id="date-gt"
    ),
    pytest.param(
        Filter(must=(DateRange("date_created", lt="2024-03-01T00:00:00Z"),)), {0}, id="date-lt"
    ),
    pytest.param(
        Filter(must=(DateRange("date_created", gte="2024-06-15T10:30:00+02:00"),)),
        {3, 4, 5},
        id="date-offset",
    ),
    pytest.param(Filter(must=(HasId(frozenset(ids_of(0, 5))),)), {0, 5}, id="has-id"),
    pytest.param(Filter(must=(HasId(frozenset()),)), set(), id="has-id-empty"),
    pytest.param(
        Filter(must_not=(Match("source_document", "guide.md"),)), {3, 4, 5}, id="must-not"
    ),
    pytest.param(
        Filter(should=(Match("tag", "gamma"), Match("tag", "delta"))), {3, 5}, id="should"
    ),
    pytest.param(source_filter("faq.md"), {3, 4}, id="source-name"),
    pytest.param(source_filter("/docs/notes.txt"), {5}, id="source-path"),
    pytest.param(
        Filter(must=(Match("source_document", "guide.md"),), must_not=(Match("tag", "alpha"),)),
        {1},
        id="must-and-must-not",
    ),
    pytest.param(
        Filter(
            must=(Range("weight", gte=0.5),),
            should=(Match("tag", "alpha"), HasId(frozenset(ids_of(4)))),
        ),
        {2, 4},
        id="must-and-should",
    ),
]


@pytest.mark.integration
class VectorStoreConformance:
    """Tests every `VectorStore` adapter passes. Subclasses provide the `store` fixture."""

    @pytest.fixture(scope="class")
    @classmethod
    def make_store(cls) -> StoreFactory:
        raise NotImplementedError("an adapter's test class provides the `make_store` fixture")

    @pytest.fixture
    def store(self, make_store: StoreFactory) -> Iterator[VectorStore]:
        """A store whose collection does not exist yet; dropped afterwards."""
        store = make_store()
        yield store
        store.drop()
        store.close()

    @pytest.fixture
    def filled(self, store: VectorStore) -> VectorStore:
        """A store holding `POINTS`, for tests that change it."""
        store.ensure_collection(SPEC)
        store.upsert(POINTS)
        return store

    @pytest.fixture(scope="class")
    @classmethod
    def loaded(cls, make_store: StoreFactory) -> Iterator[VectorStore]:
        """A store holding `POINTS`, shared by the tests of a class that only read."""
        store = make_store()
        store.ensure_collection(SPEC)
        store.upsert(POINTS)
        yield store
        store.drop()
        store.close()

    # --- collections -----------------------------------------------------------------------

    def test_is_a_vector_store(self, store: VectorStore) -> None:
        assert isinstance(store, VectorStore)

    def test_ensure_collection_creates_it(self, store: VectorStore) -> None:
        assert not store.exists()
        store.ensure_collection(SPEC)
        assert store.exists()
        assert store.count() == 0
        assert store.collection in store.list_collections()

    def test_optimize_keeps_every_point_searchable(self, filled: VectorStore) -> None:
        before = filled.count()
        filled.optimize()
        filled.optimize()  # nothing left to do the second time
        assert filled.count() == before == len(POINTS)
        nearest = filled.query(StoreQuery(dense=POINTS[0].dense, limit=1))
        assert nearest[0].id == POINTS[0].id

    def test_ensure_collection_is_idempotent(self, filled: VectorStore) -> None:
        filled.ensure_collection(SPEC)
        filled.ensure_collection(SPEC)
        assert filled.count() == len(POINTS)
        assert filled.list_collections().count(filled.collection) == 1

    def test_other_dims_are_refused_with_a_remedy(self, filled: VectorStore) -> None:
        with pytest.raises(StoreError, match=r"8-d.*4-d.*(another collection|drop)"):
            filled.ensure_collection(CollectionSpec(dims=4))
        assert filled.count() == len(POINTS)

    def test_ensure_collection_adds_indexes_to_an_existing_one(self, filled: VectorStore) -> None:
        filled.ensure_collection(
            CollectionSpec(dims=DIMS, indexes={**DEFAULT_INDEXES, "tag": "keyword"})
        )
        assert filled.count(Filter(must=(Match("tag", "alpha"),))) == 2

    def test_drop_removes_the_collection(self, filled: VectorStore) -> None:
        filled.drop()
        assert not filled.exists()
        assert filled.count() == 0
        assert filled.collection not in filled.list_collections()
        filled.ensure_collection(SPEC)
        assert filled.count() == 0

    def test_missing_collection(self, store: VectorStore) -> None:
        assert store.count() == 0
        assert store.count(Filter(must=(Match("tag", "alpha"),))) == 0
        assert store.delete(Filter(must=(Match("tag", "alpha"),))) == 0
        with pytest.raises(StoreError, match="does not exist"):
            store.query(StoreQuery(dense=VECTORS[0]))
        with pytest.raises(StoreError, match="does not exist"):
            store.upsert(POINTS)
        store.drop()  # dropping what is not there is a no-op
        assert not store.exists()

    # --- upsert, count, delete -------------------------------------------------------------

    def test_upsert_is_idempotent(self, filled: VectorStore) -> None:
        filled.upsert(POINTS)
        filled.upsert([])
        filled.flush()
        assert filled.count() == len(POINTS)

    def test_upsert_replaces_the_payload(self, filled: VectorStore) -> None:
        new: Payload = {"source_document": "moved.md", "tag": "omega"}
        filled.upsert([StorePoint(IDS[0], VECTORS[0], _sparse(0), new)])
        assert filled.count() == len(POINTS)
        [hit] = filled.query(StoreQuery(dense=VECTORS[0], limit=1))
        assert hit.id == IDS[0]
        assert hit.payload == new
        assert filled.count(Filter(must=(Match("tag", "alpha"),))) == 1
        assert filled.count(Filter(must=(Match("source_document", "moved.md"),))) == 1

    def test_payload_round_trips(self, loaded: VectorStore) -> None:
        hits = loaded.query(StoreQuery(dense=VECTORS[0], limit=len(POINTS)))
        assert {h.id: h.payload for h in hits} == {p.id: p.payload for p in POINTS}

    def test_count_with_and_without_filter(self, loaded: VectorStore) -> None:
        assert loaded.count() == 6
        assert loaded.count(None) == 6
        assert loaded.count(Filter()) == 6
        assert loaded.count(Filter(must=(Match("source_document", "faq.md"),))) == 2
        assert loaded.count(Filter(must=(Match("source_document", "nope.md"),))) == 0

    def test_delete_removes_only_matches(self, filled: VectorStore) -> None:
        assert filled.delete(Filter(must=(Match("tag", "beta"),))) == 2
        assert filled.count() == 4
        assert self._all_ids(filled) == ids_of(0, 2, 3, 5)
        assert filled.delete(Filter(must=(Match("tag", "beta"),))) == 0
        assert filled.count() == 4

    def test_delete_stale_chunks_of_one_source(self, filled: VectorStore) -> None:
        """The ingest pattern: drop the chunks of a re-read file that it no longer produces."""
        stale = Filter(
            must=(Match("source_path", "/docs/guide.md"),),
            must_not=(HasId(frozenset(ids_of(1))),),
        )
        assert filled.delete(stale) == 2
        assert self._all_ids(filled) == ids_of(1, 3, 4, 5)

    def test_delete_every_chunk_of_an_emptied_source(self, filled: VectorStore) -> None:
        stale = Filter(must=(Match("source_path", "/docs/faq.md"),), must_not=(HasId(frozenset()),))
        assert filled.delete(stale) == 2
        assert self._all_ids(filled) == ids_of(0, 1, 2, 5)

    # --- filters -----------------------------------------------------------------------------

    @pytest.mark.parametrize(("where", "expected"), FILTER_CASES)
    def test_filter_on_count_and_query(
        self, loaded: VectorStore, where: Filter, expected: set[int]
    ) -> None:
        assert loaded.count(where) == len(expected)
        hits = loaded.query(StoreQuery(dense=VECTORS[0], limit=len(POINTS), filter=where))
        assert {h.id for h in hits} == ids_of(*expected)

    # --- queries -----------------------------------------------------------------------------

    def test_query_needs_a_vector(self, loaded: VectorStore) -> None:
        with pytest.raises(ValueError, match="dense vector, a sparse vector or both"):
            loaded.query(StoreQuery())

    def test_dense_query_is_cosine_nearest_first(self, loaded: VectorStore) -> None:
        hits = loaded.query(StoreQuery(dense=VECTORS[2], limit=len(POINTS)))
        assert hits[0].id == IDS[2]
        cosine = {IDS[i]: float(VECTORS[2] @ VECTORS[i]) for i in range(len(POINTS))}
        for hit in hits:
            assert hit.score == pytest.approx(cosine[hit.id], abs=1e-5)
        assert in_order(hits)

    def test_dense_query_accepts_an_unnormalised_vector(self, loaded: VectorStore) -> None:
        hits = loaded.query(StoreQuery(dense=VECTORS[4] * 3.0, limit=1))
        assert hits[0].id == IDS[4]
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)

    def test_limit_is_respected(self, loaded: VectorStore) -> None:
        for limit in (0, 1, 3):
            assert len(loaded.query(StoreQuery(dense=VECTORS[0], limit=limit))) == limit
            hybrid = StoreQuery(dense=VECTORS[0], sparse=_sparse(0), limit=limit)
            assert len(loaded.query(hybrid)) == limit

    def test_sparse_query_returns_only_overlapping_points(self, loaded: VectorStore) -> None:
        hits = loaded.query(StoreQuery(sparse=SparseVector([103], [1.0]), limit=len(POINTS)))
        assert [h.id for h in hits] == [IDS[3]]

    def test_sparse_query_weighs_terms_by_idf(self, loaded: VectorStore) -> None:
        """p4 and p5 hold the query terms with the same weight, but p5's term is rare.

        Without the IDF modifier they would tie (and p4/p5 would be ordered by id).
        """
        query = SparseVector([COMMON_TERM, RARE_TERM], [1.0, 1.0])
        hits = loaded.query(StoreQuery(sparse=query, limit=len(POINTS)))
        assert [h.id for h in hits[:2]] == [IDS[5], IDS[4]]
        assert hits[0].score > 2 * hits[1].score
        assert [h.id for h in hits[1:]] == [IDS[4], IDS[3], IDS[2], IDS[1], IDS[0]]

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_hybrid_holds_the_best_of_each_leg(self, loaded: VectorStore, fusion: Fusion) -> None:
        """p1 is nearest to the dense query, p4 best on the sparse one (p1 is second there)."""
        query = StoreQuery(dense=VECTORS[1], sparse=self._hybrid_sparse(), limit=2, fusion=fusion)
        hits = loaded.query(query)
        assert {h.id for h in hits} == ids_of(1, 4)
        assert in_order(hits)

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_payload_keys_select_what_comes_back(self, loaded: VectorStore, fusion: Fusion) -> None:
        whole = StoreQuery(dense=VECTORS[1], sparse=self._hybrid_sparse(), limit=3, fusion=fusion)
        picked = loaded.query(replace(whole, payload_keys=("source_document",)))
        full = loaded.query(whole)
        assert [h.id for h in picked] == [h.id for h in full]
        assert all(set(h.payload) == {"source_document"} for h in picked)
        assert all("text" in h.payload for h in full)
        dense_only = loaded.query(StoreQuery(dense=VECTORS[1], limit=2, payload_keys=()))
        assert dense_only and all(h.payload == {} for h in dense_only)

    def test_rrf_scores_are_reciprocal_ranks(self, loaded: VectorStore) -> None:
        hits = loaded.query(StoreQuery(dense=VECTORS[1], sparse=self._hybrid_sparse(), limit=6))
        scores = {h.id: h.score for h in hits}
        # p1: first on dense, second on sparse (ranks count from 0)
        assert scores[IDS[1]] == pytest.approx(1 / 60 + 1 / 61, rel=1e-4)
        assert hits[0].id == IDS[1]
        assert in_order(hits)

    def test_rrf_weights_favour_a_leg(self, loaded: VectorStore) -> None:
        """At rrf_k=1 a weight of 3 decides which leg's best comes first."""
        sparse = self._hybrid_sparse()
        for weights, first in (((3.0, 1.0), IDS[1]), ((1.0, 3.0), IDS[4])):
            query = StoreQuery(dense=VECTORS[1], sparse=sparse, limit=3, rrf_k=1, weights=weights)
            hits = loaded.query(query)
            assert hits[0].id == first, weights
            assert in_order(hits)

    def test_hybrid_applies_the_filter(self, loaded: VectorStore) -> None:
        where = Filter(must_not=(Match("source_document", "faq.md"),))
        for fusion in FUSIONS:
            query = StoreQuery(
                dense=VECTORS[1], sparse=self._hybrid_sparse(), limit=6, filter=where, fusion=fusion
            )
            assert {h.id for h in loaded.query(query)} == ids_of(0, 1, 2, 5)

    def test_equal_scores_are_ordered_by_id(self, filled: VectorStore) -> None:
        """Four copies of one vector tie; the order (and the cut at `limit`) goes by id."""
        tied = [point_id(f"tie{i}") for i in range(4)]
        vector = _unit_vectors(1, seed=99)[0]
        sparse = SparseVector([500], [1.0])
        filled.upsert(
            [StorePoint(i, vector, sparse, {"tag": "tie"}) for i in sorted(tied, reverse=True)]
        )
        expected = sorted(tied)
        for query in (
            StoreQuery(dense=vector, limit=4),
            StoreQuery(sparse=sparse, limit=4),
            StoreQuery(dense=vector, sparse=sparse, limit=4, fusion="dbsf"),
        ):
            runs = [[h.id for h in filled.query(query)] for _ in range(3)]
            assert runs == [expected] * 3
        cut = filled.query(StoreQuery(dense=vector, limit=2))
        assert [h.id for h in cut] == expected[:2]

    # --- scroll ------------------------------------------------------------------------------

    def test_scroll_pages_through_every_point_in_id_order(self, loaded: VectorStore) -> None:
        pages: list[list[Hit]] = []
        page, offset = loaded.scroll(4)
        pages.append(page)
        while offset is not None:
            page, offset = loaded.scroll(4, offset)
            pages.append(page)
        assert [len(p) for p in pages] == [4, 2]
        hits = [h for p in pages for h in p]
        assert [h.id for h in hits] == sorted(IDS)
        assert {h.id: h.payload for h in hits} == {p.id: p.payload for p in POINTS}
        assert all(h.score == 0.0 for h in hits)

    def test_scroll_offset_is_the_first_id_of_the_next_page(self, loaded: VectorStore) -> None:
        first, offset = loaded.scroll(2)
        assert [h.id for h in first] == sorted(IDS)[:2]
        assert offset == sorted(IDS)[2]
        rest, end = loaded.scroll(10, offset)
        assert [h.id for h in rest] == sorted(IDS)[2:]
        assert end is None
        assert loaded.scroll(len(POINTS))[1] is None  # an exactly full page is the last one

    def test_scroll_applies_the_filter_and_payload_keys(self, loaded: VectorStore) -> None:
        where = Filter(must=(Match("source_document", "guide.md"),))
        keys = ("source_document", "page_number")
        hits, offset = loaded.scroll(10, where=where, payload_keys=keys)
        assert offset is None
        assert [h.id for h in hits] == sorted(ids_of(0, 1, 2))
        assert all(set(h.payload) == set(keys) for h in hits)
        bare, _ = loaded.scroll(10, payload_keys=())
        assert len(bare) == len(POINTS) and all(h.payload == {} for h in bare)
        with pytest.raises(ValueError, match="at least 1"):
            loaded.scroll(0)

    def test_scroll_of_an_empty_or_missing_collection(self, store: VectorStore) -> None:
        with pytest.raises(StoreError, match="does not exist"):
            store.scroll(10)
        store.ensure_collection(SPEC)
        assert store.scroll(10) == ([], None)

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _hybrid_sparse() -> SparseVector:
        """Matches p4 (weight 1) and p1 (weight 0.5) only."""
        return SparseVector([104, 101], [1.0, 0.5])

    @staticmethod
    def _all_ids(store: VectorStore) -> set[str]:
        return {h.id for h in store.query(StoreQuery(dense=VECTORS[0], limit=100))}
