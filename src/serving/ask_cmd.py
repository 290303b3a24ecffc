"""`ragline ask "question"`: retrieve, answer with citations, print (or print one JSON object).

The command in `cli.py` stays thin: it builds a retriever from the settings and calls `run_ask`.

    code = run_ask(question, retriever.search, build_chat_router(settings), settings.answer,
                   out, err, as_json=True)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape

from llm_router.errors import ProviderError
from llm_router.protocol import ChatModel
from rag.answer import Answer, AnswerConfig, answer
from rag.retrieve import Retriever
from rag.store.filters import Filter
from rag.store.protocol import StoreQuery
from rag.types import Hit

Retrieve = Callable[[str], Sequence[Hit]]


def run_ask(
    question: str,
    retrieve: Retrieve,
    model: ChatModel,
    config: AnswerConfig,
    out: Console,
    err: Console,
    *,
    as_json: bool = False,
) -> int:
    """Answer `question` and print it; the exit code: 0 answered or abstained, 2 model error."""
    try:
        started = time.perf_counter()
        hits = retrieve(question)
        retrieval_ms = (time.perf_counter() - started) * 1000
        result = answer(question, hits, model, config)
    except ProviderError as exc:
        err.print(f"[bold red]model error:[/] {escape(str(exc))}")
        return 2
    if len(result.attempts) > 1:
        tried = ", ".join(result.attempts[:-1])
        err.print(f"note: tried {tried}; answered with {result.model}", markup=False)
    if as_json:
        data = {"question": question, **result.to_dict(), "retrieval_ms": round(retrieval_ms, 3)}
        out.print(json.dumps(data, ensure_ascii=False), markup=False, highlight=False)
    else:
        print_answer(out, result, retrieval_ms)
    return 0


def print_answer(console: Console, result: Answer, retrieval_ms: float) -> None:
    """The answer text, then its citations, then model, latency and token counts."""
    console.print(result.text, markup=False, highlight=False)
    if result.citations:
        console.print("\ncitations:")
    for i, cited in enumerate(result.citations, start=1):
        where = cited.document + (f", page {cited.page}" if cited.page is not None else "")
        section = f" · {cited.section}" if cited.section else ""
        flag = " (not cited in the text: top context block)" if cited.inferred else ""
        console.print(
            f"  [{i}] {where}{section}  chunk {cited.chunk_id}  score {cited.score:.3f}{flag}",
            markup=False,
            highlight=False,
        )
    console.print(
        f"\n{result.model} · retrieval {retrieval_ms:.0f} ms · answer {result.latency_ms:.0f} ms"
        f" · tokens {result.usage.tokens_in} in / {result.usage.tokens_out} out"
        f" · ${result.cost_usd:.6f}",
        markup=False,
        highlight=False,
    )


@dataclass
class RetrievalWork:
    """What a retrieval spent, for the cost ledger: query-embedding seconds, store queries."""

    embed_s: float = 0.0
    store_queries: int = 0


def relevance_scored(
    retriever: Retriever,
    question: str,
    where: Filter | None = None,
    k: int | None = None,
    work: RetrievalWork | None = None,
) -> list[Hit]:
    """Hits in retrieval order (filtered by `where`, `k` of them), scored by dense cosine: a
    relevance that thresholds can use.

    Fused (RRF/DBSF) and BM25 scores say nothing about how relevant the best hit is, so the
    abstention threshold reads the cosine of each hit from a dense search with the same query
    vector (embedded once); a hit the dense leg did not return gets the lowest cosine it did.
    """
    work = work if work is not None else RetrievalWork()
    started = time.perf_counter()
    [found] = retriever.store_queries([question], where, top_k=k)
    work.embed_s += time.perf_counter() - started
    if found is None:
        return []
    hits = retriever.store.query(found)
    work.store_queries += 1
    if retriever.config.mode == "dense" or found.dense is None:
        return hits
    dense = StoreQuery(dense=found.dense, limit=found.prefetch_limit, filter=where)
    cosine = {h.id: h.score for h in retriever.store.query(dense)}
    work.store_queries += 1
    floor = min(cosine.values(), default=0.0)
    return [Hit(h.id, cosine.get(h.id, floor), h.payload) for h in hits]
