"""One golden item answered as `ragline ask` would answer it: the suite's pipeline built once
(`ItemAnswerer`), and what the system did with the item (`AnsweredItem`), whichever way the
answer was obtained (here, in Ray actors, or from a batch: `answered_item`).

    answerer = ItemAnswerer(settings, costs, suite)
    answered = answerer(item)          # retrieval, answer, checks; `answered.seconds`
    answered_item(item, hits, settings, answer_or_error)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ragline.core.index import Hit
from ragline.evals.datasets import GoldenItem
from ragline.evals.metrics.generation import GenerationItem
from ragline.evals.metrics.retrieval import first_occurrences
from ragline.evals.suite import SuiteConfig
from ragline.llm_router.errors import ProviderError
from ragline.llm_router.router import Router
from ragline.rag.answer import Answer, answer, context_block, select_context
from ragline.serving.settings import Settings
from ragline.serving.wiring import Accounting


@dataclass(frozen=True, slots=True)
class AnsweredItem:
    """What the system did with one golden item (`error`: the model gave no answer)."""

    documents: tuple[str, ...]  # retrieved documents, best first
    top_score: float | None  # the best hit's dense cosine (abstention's relevance score)
    generation: GenerationItem
    cost_usd: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    error: str | None = None
    seconds: float = 0.0  # question to checked answer: search, rerank, answer, checks


class ItemAnswerer:
    """The suite's store, retriever, reranker and router, built once: answers one item a call,
    as `ragline ask` would."""

    def __init__(self, settings: Settings, costs: Accounting, suite: SuiteConfig) -> None:
        from ragline.rag.rerank import make_reranker
        from ragline.serving.wiring import build_chat_router, build_retriever, build_store

        store = build_store(settings, suite.collection_name, costs)
        self.settings, self.depth = settings, suite.depth
        self.retriever = build_retriever(settings, settings.retrieval, store, costs)
        self.router = build_chat_router(settings, costs)
        self.reranker = make_reranker(settings.rerank)
        # load the models now, as `ragline serve` does at start-up: an item's seconds are what
        # a caller of a running system waits, not the first item's model load
        for part in (self.retriever.embedder, self.reranker):
            warm = getattr(part, "warm_up", None)
            if callable(warm):
                warm()
        self.router.warm_up()

    def __call__(self, item: GoldenItem) -> AnsweredItem:
        from ragline.rag.search import relevance_scored

        started = time.perf_counter()
        hits = relevance_scored(self.retriever, item.question, k=self.depth, reranker=self.reranker)
        answered = _answer_one(item, hits, self.router, self.settings)
        return replace(answered, seconds=time.perf_counter() - started)

    def close(self) -> None:
        self.router.close()
        self.retriever.store.close()


def _answer_one(
    item: GoldenItem, ranked: Sequence[Hit], router: Router, settings: Settings
) -> AnsweredItem:
    try:
        result = answer(item.question, ranked, router, settings.answer)
    except ProviderError as exc:
        return answered_item(item, ranked, settings, exc)
    return answered_item(item, ranked, settings, result)


def answered_item(
    item: GoldenItem, ranked: Sequence[Hit], settings: Settings, result: Answer | ProviderError
) -> AnsweredItem:
    """What the system did with `item`: the documents retrieved (`ranked`), the context shown,
    and the answer (or the model's failure to give one)."""
    names = (str(h.payload.get("source_document", h.id)) for h in ranked)
    documents = tuple(first_occurrences(names))
    top = max((h.score for h in ranked), default=None)
    shown = select_context(ranked, settings.answer)
    contexts = tuple(context_block(i, hit).text for i, hit in enumerate(shown, start=1))
    base = GenerationItem(
        question=item.question,
        answer="",
        gold_answers=item.answers,
        gold_sources=item.sources,
        contexts=contexts,
        should_abstain=item.should_abstain,
    )
    if isinstance(result, ProviderError):
        return AnsweredItem(documents, top, base, error=f"{type(result).__name__}: {result}")
    cited = tuple(dict.fromkeys(c.document for c in result.citations if not c.inferred))
    generation = GenerationItem(
        question=item.question,
        answer=result.text,
        gold_answers=item.answers,
        cited=cited,
        gold_sources=item.sources,
        contexts=contexts,
        abstained=result.abstained,
        should_abstain=item.should_abstain,
    )
    usage = result.usage
    return AnsweredItem(
        documents, top, generation, result.cost_usd, usage.tokens_in, usage.tokens_out
    )
