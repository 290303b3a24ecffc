"""Retrieval as the doors use it: ranked (and reranked) results for queries, and hits scored by
a relevance that an abstention threshold can read.

    [result] = search(retriever, reranker, [("q1", "why does dough rise?")], where, k=5)
    hits = relevance_scored(retriever, "why does dough rise?", where, k=5, reranker=reranker)
    answer(question, hits, model, config)          # abstains when the best hit is irrelevant
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ragline.core.filters import Filter
from ragline.core.index import Hit
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
    per_document: int | None = None,
) -> list[QueryResult]:
    """Retrieve for (id, text) queries (embedded in one batch), then rerank each to `k`; at
    most `per_document` chunks of one document (None: the retriever's; 0: no cap)."""
    reranking = not isinstance(reranker, NoReranker)
    depth = max(k, retriever.config.top_k) if reranking else k
    texts = [text for _, text in queries]
    batches = retriever.search_many(texts, where, top_k=depth, per_document=per_document)
    return [
        QueryResult(qid, text, reranker.rerank(text, hits, k) if reranking else hits)
        for (qid, text), hits in zip(queries, batches, strict=True)
    ]


def relevance_scored(
    retriever: Retriever,
    question: str,
    where: Filter | None = None,
    k: int | None = None,
    reranker: Reranker | None = None,
) -> list[Hit]:
    """Hits in retrieval order (filtered by `where`, `k` of them, one per document as the
    retriever's `per_document` says), scored by a relevance that thresholds can use.

    Fused (RRF/DBSF) and BM25 scores say nothing about how relevant the best hit is, so each
    hit gets its dense cosine from the same search's dense leg (a hit that leg did not return
    gets the lowest cosine it did). With a reranker, the candidates (at least the retriever's
    `top_k`) are reordered by it and carry its scores (0..1 after its activation).
    """
    limit = k or retriever.config.top_k
    reranking = reranker is not None and not isinstance(reranker, NoReranker)
    depth = max(limit, retriever.config.top_k) if reranking else limit
    [encoded] = retriever.encode([question], where, top_k=depth)
    ranked = retriever.rank(encoded, depth)
    if reranking and reranker is not None:
        return reranker.rerank(question, ranked.hits, limit)
    if encoded is None or encoded.dense is None or encoded.sparse is None:
        return ranked.hits  # a single leg: dense scores are cosines already; sparse has none
    cosine = {h.id: h.score for h in ranked.dense}
    floor = min(cosine.values(), default=0.0)
    return [Hit(h.id, cosine.get(h.id, floor), h.payload) for h in ranked.hits]
