"""Ask a question of a collection: retrieve, score relevance, answer with verified citations
(or abstain). `ragline ask` and `POST /v1/query` call `ask`; golden eval suites run the same
two steps (`relevance_scored`, then `answer`) item by item.

    with cost_scope(request_id, key="alice") as scope:
        asked = ask("Why does dough rise?", retriever, router, settings.answer, reranker=reranker)
    asked.answer.text, asked.answer.citations, scope.total_usd()
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from ragline.core.chat import ChatModel, ChatRequest, Completion, StreamChunk
from ragline.core.filters import Filter
from ragline.core.index import Hit
from ragline.llm_router.router import Router
from ragline.rag.answer import Answer, AnswerConfig, answer
from ragline.rag.rerank import Reranker
from ragline.rag.retrieve import Retriever
from ragline.rag.search import relevance_scored


@dataclass(frozen=True, slots=True)
class Asked:
    """A question's answer, the hits it was answered from, and how long retrieval took."""

    question: str
    answer: Answer
    hits: list[Hit]
    retrieval_ms: float


def ask(
    question: str,
    retriever: Retriever,
    model: ChatModel,
    config: AnswerConfig,
    where: Filter | None = None,
    k: int | None = None,
    reranker: Reranker | None = None,
) -> Asked:
    """Retrieve `k` hits of distinct documents (filtered by `where`) scored by dense relevance,
    or reordered and scored by `reranker`, then answer from them; `ProviderError` when no model
    could answer."""
    started = time.perf_counter()
    hits = relevance_scored(retriever, question, where, k, reranker)
    retrieval_ms = (time.perf_counter() - started) * 1000
    result = answer(question, hits, model, config)
    return Asked(question, result, hits, retrieval_ms)


@dataclass(frozen=True, slots=True)
class BoundRouter:
    """A `ChatModel` that sends through `router` as one caller and request (for `answer`).

    answer(question, hits, BoundRouter(router, key="alice", request_id="r1"), config)
    """

    router: Router
    key: str
    request_id: str

    @property
    def name(self) -> str:
        return self.router.name

    def complete(self, request: ChatRequest) -> Completion:
        return self.router.complete(request, key=self.key, request_id=self.request_id)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        return self.router.stream(request, key=self.key, request_id=self.request_id)
