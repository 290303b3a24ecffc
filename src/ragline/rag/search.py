"""Retrieval as the doors use it: ranked (and reranked) results for queries, and hits scored by
a relevance that an abstention threshold can read.

    [result] = search(retriever, reranker, [("q1", "why does dough rise?")], where, k=5)
    hits = relevance_scored(retriever, "why does dough rise?", where, k=5)
    answer(question, hits, model, config)          # abstains when the best hit is irrelevant
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ragline.core.filters import Filter
from ragline.core.index import Hit, StoreQuery
from ragline.rag.rerank import NoReranker, Reranker
from ragline.rag.retrieve import Retriever


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One query's ranked hits."""

    query_id: str
    text: str
    hits: list[Hit]


def search(
    retriever: Retriever,
    reranker: Reranker,
    queries: Sequence[tuple[str, str]],
    where: Filter | None,
    k: int,
) -> list[QueryResult]:
    """Retrieve for (id, text) queries (embedded in one batch), then rerank each to `k`."""
    reranking = not isinstance(reranker, NoReranker)
    depth = max(k, retriever.config.top_k) if reranking else k
    batches = retriever.search_many([text for _, text in queries], where, top_k=depth)
    return [
        QueryResult(qid, text, reranker.rerank(text, hits, k) if reranking else hits)
        for (qid, text), hits in zip(queries, batches, strict=True)
    ]


def relevance_scored(
    retriever: Retriever,
    question: str,
    where: Filter | None = None,
    k: int | None = None,
) -> list[Hit]:
    """Hits in retrieval order (filtered by `where`, `k` of them), scored by dense cosine: a
    relevance that thresholds can use.

    Fused (RRF/DBSF) and BM25 scores say nothing about how relevant the best hit is, so the
    abstention threshold reads the cosine of each hit from a dense search with the same query
    vector (embedded once); a hit the dense leg did not return gets the lowest cosine it did.
    """
    [found] = retriever.store_queries([question], where, top_k=k)
    if found is None:
        return []
    hits = retriever.store.query(found)
    if retriever.config.mode == "dense" or found.dense is None:
        return hits
    dense = StoreQuery(dense=found.dense, limit=found.prefetch_limit, filter=where)
    cosine = {h.id: h.score for h in retriever.store.query(dense)}
    floor = min(cosine.values(), default=0.0)
    return [Hit(h.id, cosine.get(h.id, floor), h.payload) for h in hits]
