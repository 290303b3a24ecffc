"""Retrieval quality: nDCG@10, Recall@10 and MRR@10 of sparse, dense and hybrid search.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/retrieval_quality.py [--modules 36] [--max-docs 400]
    HF_HUB_OFFLINE=1 .venv/bin/python bench/retrieval_quality.py --set manpages [--max-docs 600]

The default labelled set is built from the running interpreter's standard-library docstrings
(bench/labelled_sets.py): the query is a docstring's summary sentence, the one relevant
document is the signature plus the rest of that docstring. Query types: `summary` (as
written) and `noname` (the summary without the words of the object's own name, a
vocabulary-mismatch variant). `--set manpages` uses this machine's section-1 man pages
instead (bench/manpage_set.py: NAME summary -> DESCRIPTION), short keyword-like queries.
The documents go through the real pipeline (JSONL loader,
chunker, MiniLM embeddings, BM25, Qdrant Edge) into a temp collection; each mode then runs
every query through `Retriever.search_many` with the configured retrieval settings (by default
RRF k=60, 50 per leg). Scoring is per document: a hit's `source_document` is its record id, a
document counts at its best chunk's rank. Means come with a bootstrap 95% CI over queries
(1000 resamples, seed 0), as does the paired difference hybrid - best single mode.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from common import bench_settings, describe, figure, ingest, log, rate, workdir
from labelled_sets import MODULES, Doc, Query, stdlib_docstring_set, write_jsonl
from manpage_set import manpage_set
from ragline.core.index import Hit

K = 10
CHUNK_DEPTH = 40  # chunks asked per query, so that K distinct documents remain after dedupe
RESAMPLES = 1000
SEED = 0
METRICS = ("ndcg10", "recall10", "mrr10")
SINGLE = ("sparse", "dense")


def doc_ranking(hits: Sequence[Hit], k: int = K) -> list[str]:
    """The first `k` distinct documents of a chunk ranking, each at its best chunk's rank."""
    docs: list[str] = []
    for hit in hits:
        doc = str(hit.payload.get("source_document"))
        if doc not in docs:
            docs.append(doc)
        if len(docs) == k:
            break
    return docs


def scores(ranking: list[str], relevant: str) -> dict[str, float]:
    """nDCG@10, Recall@10 and MRR@10 for one query with one relevant document."""
    if relevant not in ranking[:K]:
        return dict.fromkeys(METRICS, 0.0)
    rank = ranking.index(relevant) + 1
    return {"ndcg10": 1 / math.log2(rank + 1), "recall10": 1.0, "mrr10": 1 / rank}


def bootstrap(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """Mean and percentile 95% CI of the mean over `RESAMPLES` resamples of the queries."""
    picks = rng.integers(0, len(values), size=(RESAMPLES, len(values)))
    means = values[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(low), float(high)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--modules", type=int, default=len(MODULES), help=f"stdlib modules (1-{len(MODULES)})"
    )
    parser.add_argument("--set", choices=("docstrings", "manpages"), default="docstrings")
    parser.add_argument("--max-docs", type=int, help="documents in the set (400 / 600)")
    parser.add_argument(
        "--fusion",
        action="append",
        default=[],
        help="extra hybrid variant to compare, e.g. rrf,k=60,prefetch=10 or dbsf,prefetch=20 "
        "or rrf,k=10,weights=2:1 (repeatable; same ingest)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[2])

    from ragline.rag.retrieve import MODES
    from ragline.serving.wiring import Accounting, build_retriever, build_store

    docs, queries = labelled_set(args.set, args.modules, args.max_docs)
    by_kind: dict[str, list[Query]] = {}
    for query in queries:
        by_kind.setdefault(query.kind, []).append(query)
    log(
        f"set {args.set}: {len(docs)} documents from {len({d.module for d in docs})} modules; "
        "queries " + ", ".join(f"{kind} {len(qs)}" for kind, qs in by_kind.items())
    )
    results: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    with workdir("quality", args.keep) as tmp:
        corpus = write_jsonl(docs, tmp / "corpus" / f"{args.set}.jsonl").parent
        settings = bench_settings(tmp / "data")
        log("ingesting (loading the model included) ...")
        report = ingest(settings, [corpus])
        log(
            f"ingest: {report.documents} documents, {report.chunks_written} chunks in "
            f"{report.seconds:.1f} s ({rate(report.chunks_written, report.seconds):.1f} chunks/s)"
        )
        if report.failed or report.documents != len(docs):
            raise SystemExit(f"ingest wrote {report.documents} of {len(docs)} documents")

        costs = Accounting(settings)
        retriever = build_retriever(settings, settings.retrieval, build_store(settings), costs)
        log(
            f"retrieval: top {K} documents from {CHUNK_DEPTH} chunks; hybrid "
            f"{settings.retrieval.fusion} k={settings.retrieval.rrf_k} "
            f"prefetch {settings.retrieval.prefetch_k}"
        )
        for kind, kind_queries in by_kind.items():
            results[kind] = {}
            for mode in MODES:
                started = time.perf_counter()
                batches = retriever.search_many(
                    [q.text for q in kind_queries], top_k=CHUNK_DEPTH, mode=mode
                )
                results[kind][mode] = per_query(kind_queries, batches)
                seconds = time.perf_counter() - started
                log(f"{kind:8} {mode:7} {len(kind_queries)} queries in {seconds:.1f} s")
            for spec in args.fusion:
                variant = variant_retriever(retriever, spec)
                batches = variant.search_many(
                    [q.text for q in kind_queries], top_k=CHUNK_DEPTH, mode="hybrid"
                )
                results[kind][spec] = per_query(kind_queries, batches)
        retriever.store.close()

    report_results(results, len(docs))
    return 0


def labelled_set(name: str, modules: int, max_docs: int | None) -> tuple[list[Doc], list[Query]]:
    """The documents and queries of one labelled set."""
    if name == "manpages":
        return manpage_set(max_docs or 600)
    return stdlib_docstring_set(modules, max_docs or 400)


def variant_retriever(base: Any, spec: str) -> Any:
    """The base retriever with another fusion: "rrf,k=10,prefetch=20,weights=2:1"."""
    from ragline.rag.retrieve import Retriever

    name, *options = spec.split(",")
    fields: dict[str, Any] = {"fusion": name}
    for option in options:
        key, value = option.split("=")
        if key == "k":
            fields["rrf_k"] = int(value)
        elif key == "prefetch":
            fields["prefetch_k"] = int(value)
        elif key == "weights":
            fields["weights"] = tuple(float(w) for w in value.split(":"))
        else:
            raise SystemExit(f"--fusion {spec!r}: unknown option {key!r} (k, prefetch, weights)")
    config = base.config.model_copy(update=fields)
    return Retriever(base.store, base.embedder, base.sparse_encoder, config)


def per_query(queries: list[Query], batches: list[list[Hit]]) -> dict[str, np.ndarray]:
    """Each metric as an array over the queries, in order."""
    rows = [scores(doc_ranking(h), q.relevant) for q, h in zip(queries, batches, strict=True)]
    return {m: np.array([row[m] for row in rows]) for m in METRICS}


def report_results(results: dict[str, dict[str, dict[str, np.ndarray]]], n_docs: int) -> None:
    """The table with CIs, the paired differences and the FIGURE lines."""
    rng = np.random.default_rng(SEED)
    print()
    print(f"{'queries':<8} {'mode':<7} {'n':>4}  " + "  ".join(f"{m:<22}" for m in METRICS))
    for kind, modes in results.items():
        for mode, values in modes.items():
            cells = []
            for metric in METRICS:
                mean, low, high = bootstrap(values[metric], rng)
                cells.append(f"{mean:.3f} [{low:.3f}, {high:.3f}]  ")
            n = len(values["ndcg10"])
            print(f"{kind:<8} {mode:<7} {n:>4}  " + "".join(f"{c:<24}" for c in cells))
    print()
    for kind, modes in results.items():
        best = max(SINGLE, key=lambda m: modes[m]["ndcg10"].mean())
        for metric in METRICS:
            diff = modes["hybrid"][metric] - modes[best][metric]
            mean, low, high = bootstrap(diff, rng)
            print(
                f"{kind:<8} {metric:<9} hybrid - {best:<6} = {mean:+.3f} [{low:+.3f}, {high:+.3f}]"
                f"  (hybrid better on {int((diff > 0).sum())}, worse on {int((diff < 0).sum())})"
            )
    print()
    for kind, modes in results.items():
        for mode, values in modes.items():
            print(
                f"FIGURE retrieval_ndcg10_{mode}={values['ndcg10'].mean():.4f} "
                f"recall10={values['recall10'].mean():.4f} mrr10={values['mrr10'].mean():.4f} "
                f"queries={kind} n={len(values['ndcg10'])} docs={n_docs}"
            )
        best = max(SINGLE, key=lambda m: modes[m]["ndcg10"].mean())
        hybrid, other = modes["hybrid"]["ndcg10"].mean(), modes[best]["ndcg10"].mean()
        figure(
            "retrieval_ndcg10_hybrid",
            hybrid,
            target="hybrid>max(sparse,dense)",
            baseline=f"{best}={other:.4f}",
            ratio=hybrid / other if other else float("inf"),
            extra={"queries": kind},
        )


if __name__ == "__main__":
    raise SystemExit(main())
