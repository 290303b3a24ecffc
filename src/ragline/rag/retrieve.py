"""Query-time retrieval: embed a query (dense, sparse or both), search one collection, and
return the best chunk of each of the best documents.

    retriever = Retriever(store, embedder, Bm25Encoder(SparseConfig()), RetrievalConfig())
    hits = retriever.search("why does dough rise?", filter=parse_filters(["page_number>=2"]))
    batches = retriever.search_many(["first question", "second question"])  # one embed call
    hits = retriever.search("q", top_k=10, per_document=3)  # up to 3 chunks of one document

Hybrid mode asks the store for each leg apart (dense cosine, BM25) and fuses them here
(`ragline.rag.fusion`), so every fusion works on every store adapter and the dense leg's
cosines stay at hand as a relevance score (`ranked`). Results are cut to documents: `top_k`
hits from `top_k` distinct `source_document`s unless `per_document` allows more; when the
legs' candidates hold too few documents, they run again without the documents found. A
query longer than the embedder's window is embedded in windows (runs of whole sentences), each
searched, and a chunk's dense score is its best cosine over them, so all of the question
counts. A query with no searchable term (only stopwords) has an empty sparse vector: hybrid
then searches the dense leg alone and sparse mode finds nothing. Results are best first with
equal scores ordered by point id, so a rerun gives the same list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragline.core.embedding import Embedder, SparseEncoder, TokenWindow
from ragline.core.filters import Filter, HasId, MatchAny
from ragline.core.index import Hit, StoreQuery
from ragline.core.types import SparseVector
from ragline.rag.fusion import ClientFusion, by_document, fuse
from ragline.rag.store.protocol import VectorStore

Mode = Literal["dense", "sparse", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "sparse", "hybrid")
MAX_DEPTH = 4096  # the most candidates a leg may be asked for
MAX_PASSES = 8  # leg queries again without the documents found, while too few came
_DOC_ONLY = ("source_document",)
# Shorter queries fit a 128-token window even at 2 word-pieces a word: no tokenizer call.
MIN_WINDOWED_WORDS = 64
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


class RetrievalConfig(BaseModel):
    """How queries search the store.

    RetrievalConfig(mode="hybrid", top_k=10, prefetch_k=50, fusion="convex", alpha=0.6)

    In hybrid mode each leg returns `prefetch_k` candidates (more when the results asked for
    need it) and `fusion` merges them (`ragline.rag.fusion`: rrf, dbsf, convex, adaptive).
    `weights` are (dense, sparse) multipliers of each leg's share; `alpha` is the dense share
    of `convex`. `per_document` caps the chunks of one document among the results (1: every
    result is another document; 0: no cap); a search's own `per_document` overrides it.

    The defaults were chosen by measurement on the dev splits of five labelled sets (short
    summaries, the same without names, man pages, FAQ questions, multi-paragraph queries) and
    reported on their test splits (docs/benchmarks.md section 4): convex fusion with 0.6 on
    the dense leg, 50 per leg, had the best mean nDCG@10 and the largest worst-set margin over
    the best peer; RRF k=60 (the old default) was below plain dense search on short summaries.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = "hybrid"
    top_k: int = Field(10, gt=0, le=1000, description="results a search returns")
    prefetch_k: int = Field(50, gt=0, le=MAX_DEPTH, description="hybrid: candidates per leg")
    fusion: ClientFusion = "convex"
    rrf_k: int = Field(60, gt=0, description="RRF constant in 1/(k + rank)")
    weights: tuple[float, float] | None = Field(
        None, description="hybrid leg weights (dense, sparse), each > 0"
    )
    alpha: float = Field(0.6, ge=0, le=1, description="convex fusion: the dense leg's share")
    per_document: int = Field(
        1, ge=0, description="most chunks of one document among the results; 0: no cap"
    )
    query_windows: bool = Field(
        True, description="search a query longer than the model's window window by window"
    )

    @model_validator(mode="after")
    def _positive_weights(self) -> RetrievalConfig:
        if self.weights is not None and min(self.weights) <= 0:
            raise ValueError(f"weights must both be > 0 (dense, sparse), got {self.weights}")
        return self


@dataclass(frozen=True, slots=True)
class Encoded:
    """One query after the model work: what each leg asks of the store (None: no such leg).
    A query longer than the embedder's window has its further windows in `windows`; the dense
    leg is then the best cosine of each chunk over all of them."""

    dense: StoreQuery | None
    sparse: StoreQuery | None
    windows: tuple[StoreQuery, ...] = ()

    def map(self, change: Callable[[StoreQuery], StoreQuery]) -> Encoded:
        """The same legs, each query passed through `change`."""
        return Encoded(
            change(self.dense) if self.dense else None,
            change(self.sparse) if self.sparse else None,
            tuple(change(w) for w in self.windows),
        )


@dataclass(frozen=True, slots=True)
class Ranked:
    """One query's results, and its dense leg as the store returned it (cosine scores)."""

    hits: list[Hit]
    dense: list[Hit]


class Retriever:
    """Searches one collection with dense, sparse (BM25) or hybrid queries.

    Cheap to build: the embedder loads its model on the first search (or its `warm_up()`).
    `search_many` embeds all its queries in one call, for evals and batch jobs.
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        sparse_encoder: SparseEncoder,
        config: RetrievalConfig | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse_encoder = sparse_encoder
        self.config = config or RetrievalConfig()

    def search(
        self,
        query: str,
        filter: Filter | None = None,
        top_k: int | None = None,
        mode: Mode | None = None,
        per_document: int | None = None,
    ) -> list[Hit]:
        """The best `top_k` chunks for `query` (default `config.top_k`), best first, at most
        `per_document` of one document (default `config.per_document`; 0: no cap)."""
        return self.search_many([query], filter, top_k, mode, per_document)[0]

    def search_many(
        self,
        queries: Sequence[str],
        filter: Filter | None = None,
        top_k: int | None = None,
        mode: Mode | None = None,
        per_document: int | None = None,
        payload_keys: tuple[str, ...] | None = None,
    ) -> list[list[Hit]]:
        """`search` for each query, in the order given; the queries are embedded in one batch.
        `payload_keys` limits each hit's payload (`source_document` is always kept)."""
        limit = self._limit(top_k)
        encoded = self.encode(queries, filter, limit, mode, payload_keys)
        return [self.rank(e, limit, per_document).hits for e in encoded]

    def encode(
        self,
        queries: Sequence[str],
        filter: Filter | None = None,
        top_k: int | None = None,
        mode: Mode | None = None,
        payload_keys: tuple[str, ...] | None = None,
    ) -> list[Encoded | None]:
        """The model work of `search_many` (None: nothing to search for that query), so that
        callers can time encoding and search apart."""
        mode = mode or self.config.mode
        if mode not in MODES:
            raise ValueError(f"retrieval mode must be one of {', '.join(MODES)}; got {mode!r}")
        limit = self._limit(top_k)
        if any(not text.strip() for text in queries):
            raise ValueError("a search query is empty; give it some words")
        if not queries:
            return []
        if payload_keys is not None and "source_document" not in payload_keys:
            payload_keys = (*payload_keys, "source_document")
        dense = self.embed_queries(queries) if mode != "sparse" else None
        depth = max(self.config.prefetch_k, limit)  # candidates for fusion and the cut
        base = StoreQuery(limit=depth, filter=filter, payload_keys=payload_keys)
        out: list[Encoded | None] = []
        for i, text in enumerate(queries):
            sparse = self.sparse_encoder.encode_query(text) if mode != "dense" else None
            out.append(_encoded(base, None if dense is None else dense[i], sparse))
        return out

    def rank(
        self,
        encoded: Encoded | None,
        top_k: int | None = None,
        per_document: int | None = None,
    ) -> Ranked:
        """Run one encoded query: each leg, fused, cut to `top_k` results of at most
        `per_document` chunks each (default `config.per_document`; 0: no cap).

        The legs read only each hit's `source_document`; the payloads the query asked for
        are read for the results alone. When the candidates hold too few documents, the legs
        run again four times deeper, without the documents already found (up to `MAX_PASSES`
        times); documents found later rank after those found earlier.
        """
        if encoded is None:
            return Ranked([], [])
        limit = self._limit(top_k)
        cap = self.config.per_document if per_document is None else per_document
        wanted = next(q.payload_keys for q in (encoded.dense, encoded.sparse) if q)
        light = encoded.map(lambda q: replace(q, payload_keys=_DOC_ONLY))
        hits: list[Hit] = []
        dense_seen: list[Hit] = []
        found: set[str] = set()
        for _ in range(MAX_PASSES):
            dense, fused = self._fused(light)
            dense_seen += dense
            hits += by_document(fused, limit - len(hits), cap or None)
            if len(hits) >= limit or not cap or not fused:
                break
            depth = max(q.limit for q in (light.dense, light.sparse) if q)
            if len(fused) < depth:  # the legs held every match there is
                break
            found |= {str(h.payload.get("source_document", h.id)) for h in fused}
            light = _excluding(light, found, min(MAX_DEPTH, depth * 4))
        return Ranked(self._payloads(hits, wanted), dense_seen)

    def _fused(self, encoded: Encoded) -> tuple[list[Hit], list[Hit]]:
        """(the dense leg, the legs fused): one leg alone when the other is missing."""
        dense = self._dense_leg(encoded)
        sparse = self.store.query(encoded.sparse) if encoded.sparse else []
        if not (encoded.dense and encoded.sparse):
            return dense, dense or sparse
        config = self.config
        fused = fuse(
            dense,
            sparse,
            config.fusion,
            rrf_k=config.rrf_k,
            weights=config.weights,
            alpha=config.alpha,
        )
        return dense, fused

    def _payloads(self, hits: list[Hit], keys: tuple[str, ...] | None) -> list[Hit]:
        """`hits` with the payload keys asked for (None: all), read for these points only."""
        if not hits or (keys is not None and set(keys) <= set(_DOC_ONLY)):
            return hits
        ids = frozenset(h.id for h in hits)
        page, _ = self.store.scroll(len(ids), where=Filter(must=(HasId(ids),)), payload_keys=keys)
        payloads = {h.id: h.payload for h in page}
        return [Hit(h.id, h.score, payloads.get(h.id, h.payload)) for h in hits]

    def embed_queries(self, queries: Sequence[str]) -> list[NDArray[np.float32]]:
        """Per query, its window vectors (one row for a query that fits the model's window;
        a longer one is cut into runs of whole sentences that each fit), in one embed call."""
        pieces: list[list[str]] = []
        for text in queries:
            window = self._long_window(text)
            pieces.append(_windows(text, window) if window else [text])
        flat = [p for parts in pieces for p in parts]
        vectors = self.embedder.embed(flat, kind="query")
        ends = np.cumsum([len(parts) for parts in pieces])
        return [vectors[end - len(parts) : end] for end, parts in zip(ends, pieces, strict=True)]

    def _dense_leg(self, encoded: Encoded) -> list[Hit]:
        """The dense leg; over several windows, each chunk at its best cosine."""
        if encoded.dense is None:
            return []
        hits = self.store.query(encoded.dense)
        if not encoded.windows:
            return hits
        best = {h.id: h for h in hits}
        for query in encoded.windows:
            for hit in self.store.query(query):
                if hit.id not in best or hit.score > best[hit.id].score:
                    best[hit.id] = hit
        ranked = sorted(best.values(), key=lambda h: (-h.score, h.id))
        return ranked[: encoded.dense.limit]

    def _long_window(self, text: str) -> TokenWindow | None:
        """The embedder's window when `text` may not fit in it (None: it surely fits, or the
        model has no window); the windows themselves count its tokens."""
        if not self.config.query_windows or len(text.split()) < MIN_WINDOWED_WORDS:
            return None
        return self.embedder.window()

    def _limit(self, top_k: int | None) -> int:
        limit = self.config.top_k if top_k is None else top_k
        if limit <= 0:
            raise ValueError(f"top_k must be a positive number of results; got {limit}")
        return limit


def _encoded(
    base: StoreQuery, windows: NDArray[np.float32] | None, sparse: SparseVector | None
) -> Encoded | None:
    if sparse is not None and not sparse.indices:
        sparse = None  # only stopwords: BM25 has nothing to match
    if windows is None and sparse is None:
        return None
    return Encoded(
        replace(base, dense=windows[0]) if windows is not None else None,
        replace(base, sparse=sparse) if sparse is not None else None,
        tuple(replace(base, dense=w) for w in windows[1:]) if windows is not None else (),
    )


def _excluding(encoded: Encoded, documents: set[str], depth: int) -> Encoded:
    """`encoded` `depth` deep, its filter also excluding the chunks of `documents`."""
    gone = MatchAny("source_document", tuple(sorted(documents)))

    def narrowed(query: StoreQuery) -> StoreQuery:
        base = query.filter or Filter()
        where = replace(base, must_not=(*base.must_not, gone))
        return replace(query, filter=where, limit=depth)

    return encoded.map(narrowed)


def _windows(text: str, window: TokenWindow) -> list[str]:
    """`text` as consecutive runs of whole sentences, each within the model's window (a
    sentence longer than that is its own window and is truncated by the model)."""
    budget = window.max_tokens  # already less the model's special tokens
    windows: list[str] = []
    current: list[str] = []
    used = 0
    for sentence in filter(None, (s.strip() for s in _SENTENCE.split(text))):
        size = window.count(sentence)
        if current and used + size > budget:
            windows.append(" ".join(current))
            current, used = [], 0
        current.append(sentence)
        used += size
    if current:
        windows.append(" ".join(current))
    return windows if len(windows) > 1 else [text]
