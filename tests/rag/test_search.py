"""`ragline.rag.search`: hybrid hits scored by dense cosine (so the abstention threshold of
`ragline ask` and /v1/query means something), and reranking of retrieval's candidates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ragline.core.embedding import Embedder
from ragline.core.index import Hit
from ragline.rag.config import SparseConfig
from ragline.rag.embed.sparse import Bm25Encoder
from ragline.rag.retrieve import RetrievalConfig, Retriever
from ragline.rag.search import relevance_scored, search
from tests.rag.ingest_helpers import ingest_once, write_corpus

pytestmark = pytest.mark.integration


def test_hybrid_order_with_cosine_scores(tmp_path: Path, embedder: Embedder) -> None:
    from ragline.rag.store.edge import QdrantEdgeStore

    ingest_once(tmp_path, embedder, write_corpus(tmp_path / "corpus"))
    store = QdrantEdgeStore(tmp_path / "qdrant", "test")
    rrf = RetrievalConfig(fusion="rrf")  # fused scores that are plainly not cosines
    hybrid = Retriever(store, embedder, Bm25Encoder(SparseConfig()), rrf)
    dense = Retriever(store, embedder, Bm25Encoder(SparseConfig()), RetrievalConfig(mode="dense"))
    question = "Why does bread dough rise?"

    scored = relevance_scored(hybrid, question)
    plain = hybrid.search(question)
    cosine = {h.id: h.score for h in dense.search(question, top_k=50, per_document=0)}
    store.close()

    assert [h.id for h in scored] == [h.id for h in plain]
    assert all(0.0 <= h.score <= 1.0 for h in scored)
    assert scored[0].score == pytest.approx(cosine[scored[0].id], abs=1e-5)
    assert scored[0].score > 0.3 > max(h.score for h in plain)  # RRF scores are tiny
    assert scored[0].payload["source_document"] == "baking.txt"


def test_unrelated_question_scores_low(tmp_path: Path, embedder: Embedder) -> None:
    from ragline.rag.store.edge import QdrantEdgeStore

    ingest_once(tmp_path, embedder, write_corpus(tmp_path / "corpus"))
    store = QdrantEdgeStore(tmp_path / "qdrant", "test")
    retriever = Retriever(store, embedder, Bm25Encoder(SparseConfig()), RetrievalConfig())
    best = max(h.score for h in relevance_scored(retriever, "Who won the 1998 football cup?"))
    store.close()
    assert best < 0.2  # below answer.min_relevance: ragline abstains without a model call


class Reverse:
    """A `Reranker` that puts retrieval's order upside down (scores: 0, 1, 2, ...)."""

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int) -> list[Hit]:
        return [Hit(h.id, float(i), h.payload) for i, h in enumerate(reversed(hits))][:top_n]


def test_a_reranker_sees_top_k_candidates_and_keeps_k(tmp_path: Path, embedder: Embedder) -> None:
    from ragline.rag.store.edge import QdrantEdgeStore

    ingest_once(tmp_path, embedder, write_corpus(tmp_path / "corpus"))
    store = QdrantEdgeStore(tmp_path / "qdrant", "test")
    retriever = Retriever(store, embedder, Bm25Encoder(SparseConfig()), RetrievalConfig())
    question = "What makes a loaf puff up before it bakes?"
    try:
        plain = retriever.search(question, top_k=10)
        [result] = search(retriever, Reverse(), [("q", question)], None, k=2)
    finally:
        store.close()
    assert result.query_id == "q" and result.text == question
    assert [h.id for h in result.hits] == [h.id for h in reversed(plain)][:2]


def test_relevance_scored_reranks_when_given_a_reranker(tmp_path: Path, embedder: Embedder) -> None:
    """`ask`, /v1/query and QA evals read their hits here: with a reranker, its order and
    scores are what the abstention threshold sees."""
    from ragline.rag.store.edge import QdrantEdgeStore

    ingest_once(tmp_path, embedder, write_corpus(tmp_path / "corpus"))
    store = QdrantEdgeStore(tmp_path / "qdrant", "test")
    retriever = Retriever(store, embedder, Bm25Encoder(SparseConfig()), RetrievalConfig())
    question = "What makes a loaf puff up before it bakes?"
    try:
        candidates = retriever.search(question)  # top_k (10) candidates, one per document
        reranked = relevance_scored(retriever, question, k=2, reranker=Reverse())
    finally:
        store.close()
    assert [h.id for h in reranked] == [h.id for h in reversed(candidates)][:2]
    assert [h.score for h in reranked] == [0.0, 1.0]
