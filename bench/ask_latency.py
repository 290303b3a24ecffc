"""`ragline ask` end to end with the extractive provider, in one warm process.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ask_latency.py [--modules 3] [--questions 60]

Corpus: the repo's docs/ plus the pydoc text of the first --modules stdlib modules, ingested
with the default settings into a temp data dir (not timed). Then what the CLI's `ask` builds:
`build_retriever(settings, settings.retrieval, store, costs)` and `build_chat_router(settings,
costs, "extractive")` (the LLM router, its exact cache included: each timed question is new to
it), both metered into a ledger, and per question the service `ragline ask` calls,
`ragline.serving.services.query.ask`. After --warm-up questions, each of --questions questions
(first lines of stdlib docstrings) is timed end to end (routing, retrieval with relevance
scoring, answer, cost events), and, interleaved with it question by
question (so drifting machine load hits every row alike), the parts on their own:
the hybrid search, a dense search of the prefetch depth, `relevance_scored` (since commit
15598f8 it embeds the query once and sends the same vector to both store queries), a bench-only
copy of the code before that commit (two `Retriever.search` calls, two embeddings), and
`answer()`. Baselines in the same run: one plain hybrid
`Retriever.search` and the bare MiniLM query embedding. Target: p50 <= 50 ms.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from common import ROOT, bench_settings, describe, log, workdir, write_corpus
from search_latency import percentiles, questions

TARGET_P50_MS = 50.0


def timed(fn: Callable[[str], Any], qs: Sequence[str]) -> list[float]:
    """Milliseconds of `fn(q)` for each question."""
    out = []
    for q in qs:
        started = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - started) * 1000)
    return out


def two_embed_relevance(retriever: Any, question: str) -> list[Any]:
    """`relevance_scored` before commit 15598f8: a hybrid and a dense search, two embeddings."""
    from ragline.core.index import Hit

    hits = retriever.search(question)
    dense = retriever.search(question, mode="dense", top_k=retriever.config.prefetch_k)
    cosine = {h.id: h.score for h in dense}
    floor = min(cosine.values(), default=0.0)
    return [Hit(h.id, cosine.get(h.id, floor), h.payload) for h in hits]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=3, help="stdlib modules besides docs/")
    parser.add_argument("--questions", type=int, default=60, help="timed questions")
    parser.add_argument("--warm-up", type=int, default=10, help="untimed questions first")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[2])

    from ragline.llm_router.registry import resolve
    from ragline.rag.answer import answer
    from ragline.rag.search import relevance_scored
    from ragline.serving.services.query import ask as ask_service
    from ragline.serving.wiring import (
        Accounting,
        build_chat_router,
        build_ingestor,
        build_retriever,
        build_store,
    )

    qs = questions(args.warm_up + args.questions)
    warm, timed_qs = qs[: args.warm_up], qs[args.warm_up :]
    with workdir("ask", args.keep) as tmp, Accounting(bench_settings(tmp / "data")) as costs:
        corpus = write_corpus(tmp / "corpus", args.modules)
        settings = bench_settings(tmp / "data")
        store = build_store(settings, costs=costs)
        ingestor = build_ingestor(settings, store, costs=costs)
        report = ingestor.run([ROOT / "docs", corpus])
        store.close()
        ingestor.manifest.close()
        log(f"ingested {report.chunks_written} chunks in {report.seconds:.1f} s (not timed)")

        retriever = build_retriever(
            settings, settings.retrieval, build_store(settings, costs=costs), costs
        )
        router = build_chat_router(settings, costs, "extractive")

        def ask(q: str) -> None:
            ask_service(q, retriever, router, settings.answer)  # metered, as `ragline ask` is

        model = resolve("extractive", settings.llm)
        embedder, config = retriever.embedder, retriever.config
        hits = {q: relevance_scored(retriever, q) for q in qs}
        abstained = sum(not answer(q, hits[q], model, settings.answer).citations for q in timed_qs)
        steps: dict[str, Callable[[str], Any]] = {
            "ask end to end (services.query.ask)": ask,
            "bare MiniLM query embedding": lambda q: embedder.embed([q], "query"),
            "BM25 query encoding": retriever.sparse_encoder.encode_query,
            "hybrid Retriever.search (baseline)": retriever.search,
            "dense Retriever.search, top prefetch_k": lambda q: retriever.search(
                q, mode="dense", top_k=config.prefetch_k
            ),
            "relevance_scored (2 leg queries, 1 embed)": lambda q: relevance_scored(retriever, q),
            "same, old code: 2 embeds (bench-only)": lambda q: two_embed_relevance(retriever, q),
            "answer() with the extractive model": lambda q: answer(
                q, hits[q], model, settings.answer
            ),
        }
        # Every step runs on each question in turn, so a drift in machine load hits all alike.
        for fn in steps.values():
            timed(fn, warm)
        parts: dict[str, list[float]] = {name: [] for name in steps}
        for q in timed_qs:
            for name, fn in steps.items():
                parts[name] += timed(fn, [q])
        end_to_end = parts.pop("ask end to end (services.query.ask)")
        log(f"ask end to end: p50 {np.median(end_to_end):.1f} ms")
        same = sum(
            [h.id for h in two_embed_relevance(retriever, q)] == [h.id for h in hits[q]]
            for q in timed_qs
        )
        retriever.store.close()
        router.close()

    print()
    print(f"{'step (ms per question)':<44} {'p50':>8} {'p95':>8} {'p99':>8}")
    for name, ms in [("ask end to end (services.query.ask)", end_to_end), *parts.items()]:
        p50, p95, p99 = percentiles(ms)
        print(f"{name:<44} {p50:>8.2f} {p95:>8.2f} {p99:>8.2f}")
    p50 = percentiles(end_to_end)[0]
    base = percentiles(parts["hybrid Retriever.search (baseline)"])[0]
    embed = percentiles(parts["bare MiniLM query embedding"])[0]
    saved = (
        percentiles(parts["same, old code: 2 embeds (bench-only)"])[0]
        - percentiles(parts["relevance_scored (2 leg queries, 1 embed)"])[0]
    )
    print(
        f"{len(timed_qs)} questions, {report.chunks_written} chunks, {abstained} abstained; "
        f"the old two-embedding code gives the same hits for {same}/{len(timed_qs)}; "
        f"one embedding saves ~{saved:.1f} ms p50 (the bare embedding is {embed:.1f} ms)"
    )
    met = p50 <= TARGET_P50_MS
    print(f"target p50 <= {TARGET_P50_MS} ms: {'met' if met else 'NOT met'}")
    print(
        f"FIGURE ask_extractive_p50_ms={p50:.4g} target=p50<={TARGET_P50_MS} "
        f"baseline=hybrid_search_p50_ms={base:.4g} ratio={p50 / base:.4g} "
        f"query_embed_p50_ms={embed:.4g} second_embed_saving_ms={saved:.4g} "
        f"chunks={report.chunks_written} questions={len(timed_qs)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
