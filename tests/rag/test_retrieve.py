"""`Retriever` on a small real corpus (real model, real BM25), on both store adapters."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

from ragline.core.embedding import Embedder, EmbedKind, TokenWindow
from ragline.core.filters import DateRange, Filter, HasId, Match, MatchAny, Range
from ragline.core.index import Hit
from ragline.core.types import FloatMatrix
from ragline.rag.config import ChunkingConfig, EmbeddingConfig, IngestConfig, SparseConfig
from ragline.rag.embed.sparse import Bm25Encoder
from ragline.rag.ingest import Ingestor, IngestSettings, Manifest
from ragline.rag.retrieve import RetrievalConfig, Retriever
from ragline.rag.store.edge import QdrantEdgeStore
from ragline.rag.store.protocol import VectorStore
from ragline.rag.store.server import QdrantServerStore
from tests.conftest import write_pdf
from tests.rag.ingest_helpers import write_corpus

pytestmark = pytest.mark.integration

NOTES = [
    {"id": "n1", "text": "After the firmware update the controller reported fault QX7731 and "
     "was rolled back.", "lang": "en", "year": 2021, "date": "2021-03-05", "draft": False},
    {"id": "n2", "text": "Tomatoes want full sun, steady watering and stakes to climb as the "
     "vines grow.", "lang": "en", "year": 2023, "date": "2023-07-15", "draft": True},
    {"id": "n3", "text": "Der Zug nach Berlin fährt um acht Uhr vom Hauptbahnhof ab.",
     "lang": "de", "year": 2024, "date": "2024-01-10", "draft": False},
]  # fmt: skip
MANUAL = [
    "Installation: unpack the archive and run the setup script.",
    "Configuration: edit the settings file to choose a network port.",
    "Troubleshooting: if the server will not start, read the log file.",
]
FILES = {"rivers.md", "baking.txt", "orbits.md", "manual.pdf", "n1", "n2", "n3"}


class SpyEmbedder:
    """The real embedder, recording each call's size and kind."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.calls: list[tuple[int, EmbedKind]] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dims(self) -> int:
        return self.inner.dims

    def window(self) -> TokenWindow | None:
        return self.inner.window()

    def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> FloatMatrix:
        self.calls.append((len(texts), kind))
        return self.inner.embed(texts, kind)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_corpus(tmp_path_factory.mktemp("corpus"), repeat=2)
    (root / "notes.jsonl").write_text("\n".join(json.dumps(n) for n in NOTES) + "\n")
    write_pdf(root / "manual.pdf", MANUAL)
    return root


def ingest(store: VectorStore, tmp: Path, embedder: Embedder, corpus: Path) -> None:
    settings = IngestSettings(
        ingest=IngestConfig(),
        chunking=ChunkingConfig(chunk_size=48, chunk_overlap=8),
        embedding=EmbeddingConfig(),
        sparse=SparseConfig(),
    )
    manifest = Manifest(tmp / "manifest.sqlite", "test", store.collection)
    try:
        report = Ingestor(settings, embedder, Bm25Encoder(SparseConfig()), store, manifest).run(
            [corpus]
        )
    finally:
        manifest.close()
    assert not report.failed


@pytest.fixture(scope="module", params=["edge", "server"])
def store(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,
    corpus: Path,
) -> Iterator[VectorStore]:
    tmp = tmp_path_factory.mktemp(request.param)
    adapter: VectorStore = (
        QdrantEdgeStore(tmp / "qdrant", "kb")
        if request.param == "edge"
        else QdrantServerStore("kb", url=":memory:")
    )
    ingest(adapter, tmp, embedder, corpus)
    yield adapter
    adapter.close()


@pytest.fixture
def retriever(store: VectorStore, embedder: Embedder) -> Retriever:
    return Retriever(store, embedder, Bm25Encoder(SparseConfig()))


def ids(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


def sources(hits: list[Hit]) -> list[str]:
    return [str(h.payload["source_document"]) for h in hits]


def test_dense_finds_a_paraphrase(retriever: Retriever) -> None:
    hits = retriever.search("What makes a loaf puff up before it bakes?", mode="dense", top_k=3)
    assert sources(hits)[0] == "baking.txt"
    assert all(0 < h.score <= 1.0001 for h in hits)  # cosine similarities


def test_sparse_finds_an_exact_term(retriever: Retriever) -> None:
    hits = retriever.search("QX7731", mode="sparse")
    assert sources(hits) == ["n1"]  # BM25: only the chunk holding the term scores


def test_sparse_with_only_stopwords_finds_nothing_and_hybrid_falls_back_to_dense(
    retriever: Retriever,
) -> None:
    assert retriever.search("the of and", mode="sparse") == []
    hybrid = retriever.search("the of and", mode="hybrid", top_k=4)
    dense = retriever.search("the of and", mode="dense", top_k=4)
    assert hybrid == dense


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fault QX7731", "n1"),  # lexical: a code the dense model has never seen
        ("What makes a loaf puff up before it bakes?", "baking.txt"),  # paraphrase
        ("What keeps a moon going around its world?", "orbits.md"),
        ("the program refuses to launch", "manual.pdf"),
    ],
)
def test_hybrid_finds_lexical_and_paraphrase_queries(
    retriever: Retriever, query: str, expected: str
) -> None:
    hits = retriever.search(query)
    assert retriever.config.mode == "hybrid"
    assert sources(hits)[0] == expected


def test_top_k_and_prefetch_depth(store: VectorStore, embedder: Embedder) -> None:
    config = RetrievalConfig(top_k=3, prefetch_k=2)
    retriever = Retriever(store, embedder, Bm25Encoder(SparseConfig()), config)
    assert len(retriever.search("water")) == 3
    # top_k above the prefetch depth still fills the page, here with every chunk there is
    assert len(retriever.search("water", top_k=12, per_document=0)) == 12
    # one chunk per document by default: all 7 documents, though the first fetch held fewer
    assert sorted(sources(retriever.search("water", top_k=12))) == sorted(FILES)


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_results_are_distinct_documents_unless_asked(retriever: Retriever, mode: str) -> None:
    """The manual has three chunks (one a page); by default one of them stands for it."""
    query = "installation configuration troubleshooting of the server"
    default = sources(retriever.search(query, mode=mode, top_k=5))
    assert len(default) == len(set(default))
    assert default.count("manual.pdf") == 1
    three = sources(retriever.search(query, mode=mode, top_k=5, per_document=3))
    assert three.count("manual.pdf") == 3
    assert three[0] == default[0]  # the best chunk still leads


@pytest.mark.parametrize("fusion", ["rrf", "dbsf", "convex", "adaptive"])
def test_every_fusion_finds_lexical_and_paraphrase_queries(
    store: VectorStore, embedder: Embedder, fusion: str
) -> None:
    config = RetrievalConfig(fusion=fusion)  # type: ignore[arg-type]
    retriever = Retriever(store, embedder, Bm25Encoder(SparseConfig()), config)
    assert sources(retriever.search("fault QX7731"))[0] == "n1"
    assert sources(retriever.search("What makes a loaf puff up before it bakes?"))[0] == (
        "baking.txt"
    )


def test_a_long_query_is_searched_whole_in_windows(store: VectorStore, embedder: Embedder) -> None:
    """Past the model's 256 word-pieces a truncated query loses its end; in windows it counts:
    the answer to a question at the end of a long preamble comes first."""
    spy = SpyEmbedder(embedder)
    retriever = Retriever(store, spy, Bm25Encoder(SparseConfig()), RetrievalConfig(mode="dense"))
    filler = "This sentence is about nothing in particular and goes on for a while. " * 30
    long = filler + "What makes a loaf of bread puff up in the oven before it bakes?"
    [windows] = retriever.embed_queries([long])
    assert len(windows) >= 2 and spy.calls[-1] == (len(windows), "query")  # one embed call
    [truncated] = embedder.embed([long], kind="query")
    assert float(windows[0] @ truncated) > 0.999  # the first window is what truncation reads
    assert sources(retriever.search(long, top_k=1)) == ["baking.txt"]
    config = RetrievalConfig(mode="dense", query_windows=False)
    plain = Retriever(store, embedder, Bm25Encoder(SparseConfig()), config)
    assert len(plain.embed_queries([long])[0]) == 1
    assert len(retriever.embed_queries(["bread crust"])[0]) == 1  # a short query: one vector


def test_results_are_reproducible_and_search_many_equals_search(
    store: VectorStore, embedder: Embedder
) -> None:
    spy = SpyEmbedder(embedder)
    retriever = Retriever(store, spy, Bm25Encoder(SparseConfig()))
    queries = ["river deltas", "bread crust", "QX7731 fault", "planets and the Sun"]
    for mode in ("dense", "sparse", "hybrid"):
        spy.calls.clear()
        batched = retriever.search_many(queries, mode=mode, top_k=5)
        assert spy.calls == ([] if mode == "sparse" else [(4, "query")])  # one batch, queries
        single = [retriever.search(q, mode=mode, top_k=5) for q in queries]
        assert [ids(hits) for hits in batched] == [ids(hits) for hits in single]
        for one, many in zip(single, batched, strict=True):
            assert [h.score for h in one] == pytest.approx([h.score for h in many], abs=1e-5)
        assert retriever.search_many(queries, mode=mode, top_k=5) == batched
    assert retriever.search_many([]) == []


FilterCase = tuple[Filter, set[str]]
FILTER_CASES: dict[str, FilterCase] = {
    "match": (Filter(must=(Match("source_document", "orbits.md"),)), {"orbits.md"}),
    "match int": (Filter(must=(Match("year", 2023),)), {"n2"}),
    "match bool": (Filter(must=(Match("draft", True),)), {"n2"}),
    "match any": (Filter(must=(MatchAny("lang", ("de", "fr")),)), {"n3"}),
    "match any int": (Filter(must=(MatchAny("year", (2021, 2024)),)), {"n1", "n3"}),
    "range": (Filter(must=(Range("page_number", gte=2),)), {"manual.pdf"}),
    "date range": (
        Filter(must=(DateRange("date_created", lt="2023-01-01T00:00:00Z"),)),
        {"n1"},
    ),
    "must not": (
        Filter(must_not=(MatchAny("source_document", ("rivers.md", "baking.txt", "orbits.md")),)),
        {"manual.pdf", "n1", "n2", "n3"},
    ),
    "should": (
        Filter(should=(Match("lang", "de"), Range("year", lte=2021))),
        {"n1", "n3"},
    ),
}


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
def test_each_filter_type_restricts_the_results(retriever: Retriever, case: str) -> None:
    where, expected = FILTER_CASES[case]
    for mode in ("dense", "hybrid"):
        hits = retriever.search("information", filter=where, top_k=50, mode=mode)
        assert set(sources(hits)) == expected, mode
    if case == "range":
        hits = retriever.search("server settings", filter=where, top_k=50, per_document=0)
        assert {h.payload["page_number"] for h in hits} == {2, 3}


def test_has_id_filter(retriever: Retriever) -> None:
    everything = retriever.search("water", top_k=50, mode="dense")
    assert set(sources(everything)) == FILES
    chosen = frozenset(h.id for h in everything[5:8])
    hits = retriever.search("water", filter=Filter(must=(HasId(chosen),)), top_k=50)
    assert {h.id for h in hits} == chosen


def test_bad_queries_and_settings_are_refused(retriever: Retriever) -> None:
    bad: list[Callable[[], object]] = [
        lambda: retriever.search("   "),
        lambda: retriever.search("water", top_k=0),
        lambda: retriever.search("water", mode="fuzzy"),  # type: ignore[arg-type]
    ]
    for call in bad:
        with pytest.raises(ValueError):
            call()
    with pytest.raises(ValidationError, match="weights"):
        RetrievalConfig(weights=(1.0, 0.0))
    with pytest.raises(ValidationError, match="extra"):
        RetrievalConfig(top_n=3)  # type: ignore[call-arg]
