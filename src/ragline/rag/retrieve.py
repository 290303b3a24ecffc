"""Query-time retrieval: embed a query (dense, sparse or both) and search one collection.

    retriever = Retriever(store, embedder, Bm25Encoder(SparseConfig()), RetrievalConfig())
    hits = retriever.search("why does dough rise?", filter=parse_filters(["page_number>=2"]))
    batches = retriever.search_many(["first question", "second question"])  # one embed call

Hybrid mode sends both legs to the store, which fuses them inside Qdrant (RRF k=60 by default).
A query with no searchable term (only stopwords) has an empty sparse vector: hybrid then
searches the dense leg alone and sparse mode finds nothing. Results are best first with equal
scores ordered by point id, so a rerun gives the same list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragline.core.embedding import Embedder, SparseEncoder
from ragline.core.filters import Filter
from ragline.core.index import Fusion, Hit, StoreQuery
from ragline.core.types import SparseVector
from ragline.rag.store.protocol import VectorStore

Mode = Literal["dense", "sparse", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "sparse", "hybrid")


class RetrievalConfig(BaseModel):
    """How queries search the store.

    RetrievalConfig(mode="hybrid", top_k=10, prefetch_k=20)

    In hybrid mode each leg returns `prefetch_k` candidates (never fewer than the results
    asked for) and the engine fuses them. Plain RRF adds 1/(k + rank) over the legs, so a
    chunk that sits deep in both legs can outscore one that only the strong leg ranks first.
    `weights` are (dense, sparse) for weighted RRF; a weight divides the rank, so at
    rrf_k=60 it moves little: lower `rrf_k` for weights to matter.

    The default fusion is RRF with k=60, 50 candidates per leg. DBSF (`fusion: dbsf`: each
    leg's scores normalised by mean +- 3 std, then summed) is one setting away and scored
    higher on every labelled set we have (docs/benchmarks.md section 4: nDCG@10 .729 / .450 /
    .908 against RRF's .706 / .435 / .897 on stdlib docstring summaries, the same without
    names, and man-page summaries): RRF sees only ranks, so it gives away part of a strong
    leg's lead, where DBSF keeps a leg's confident top hit far above its mean.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = "hybrid"
    top_k: int = Field(10, gt=0, le=1000, description="results a search returns")
    prefetch_k: int = Field(50, gt=0, le=10_000, description="hybrid: candidates per leg")
    fusion: Fusion = "rrf"
    rrf_k: int = Field(60, gt=0, description="RRF constant in 1/(k + rank)")
    weights: tuple[float, float] | None = Field(
        None, description="hybrid RRF weights (dense, sparse), each > 0"
    )

    @model_validator(mode="after")
    def _positive_weights(self) -> RetrievalConfig:
        if self.weights is not None and min(self.weights) <= 0:
            raise ValueError(f"weights must both be > 0 (dense, sparse), got {self.weights}")
        return self


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
    ) -> list[Hit]:
        """The best `top_k` chunks for `query` (default `config.top_k`), best first."""
        return self.search_many([query], filter=filter, top_k=top_k, mode=mode)[0]

    def search_many(
        self,
        queries: Sequence[str],
        filter: Filter | None = None,
        top_k: int | None = None,
        mode: Mode | None = None,
    ) -> list[list[Hit]]:
        """`search` for each query, in the order given; the queries are embedded in one batch."""
        return [
            self.store.query(q) if q is not None else []
            for q in self.store_queries(queries, filter, top_k, mode)
        ]

    def store_queries(
        self,
        queries: Sequence[str],
        filter: Filter | None = None,
        top_k: int | None = None,
        mode: Mode | None = None,
    ) -> list[StoreQuery | None]:
        """What `search_many` sends to the store (None: nothing to search for that query).

        All the model work happens here, so callers can time encoding and search apart.
        """
        mode = mode or self.config.mode
        if mode not in MODES:
            raise ValueError(f"retrieval mode must be one of {', '.join(MODES)}; got {mode!r}")
        limit = self.config.top_k if top_k is None else top_k
        if limit <= 0:
            raise ValueError(f"top_k must be a positive number of results; got {limit}")
        if any(not text.strip() for text in queries):
            raise ValueError("a search query is empty; give it some words")
        if not queries:
            return []
        dense = self.embedder.embed(queries, kind="query") if mode != "sparse" else None
        out: list[StoreQuery | None] = []
        for i, text in enumerate(queries):
            vector = None if dense is None else dense[i]
            sparse = self.sparse_encoder.encode_query(text) if mode != "dense" else None
            out.append(self._store_query(vector, sparse, limit, filter))
        return out

    def _store_query(
        self,
        dense: NDArray[np.float32] | None,
        sparse: SparseVector | None,
        limit: int,
        filter: Filter | None,
    ) -> StoreQuery | None:
        if sparse is not None and not sparse.indices:
            sparse = None  # only stopwords: BM25 has nothing to match
        if dense is None and sparse is None:
            return None
        config = self.config
        return StoreQuery(
            dense=dense,
            sparse=sparse,
            limit=limit,
            filter=filter,
            fusion=config.fusion,
            prefetch_limit=max(config.prefetch_k, limit),
            rrf_k=config.rrf_k,
            weights=config.weights,
        )
