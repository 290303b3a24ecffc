"""Retrieval quality: ragline's default against its fusion variants and against the peers
(LlamaIndex QueryFusionRetriever, LangChain EnsembleRetriever, plain dense, plain BM25),
nDCG@10 / Recall@10 / MRR@10 over documents, on dev and test splits of every labelled set.

    make peers    # once: the peers' own venv (.venv-peers), never ragline's dependencies
    HF_HUB_OFFLINE=1 .venv/bin/python bench/retrieval_quality.py [--set faq --set long ...]

The sets (each with a provenance note in its loader; split 50/50 by relevant document,
bench/labelled_sets.py `split_of`):
- `summary` and `noname`: stdlib docstrings, the summary sentence (and the same without the
  object's own name: vocabulary mismatch) -> the rest of the docstring (labelled_sets.py);
- `manpages`: a man page's NAME summary -> its DESCRIPTION (manpage_set.py);
- `faq`: questions of FAQ files shipped by Debian packages and toolchains -> their answers
  (faq_set.py);
- `long`: multi-paragraph descriptions from numpy/scipy/pandas/scikit-learn docstrings ->
  the object's signature and parameters (numpydoc_set.py).
Each set's documents go through the real pipeline (JSONL loader, chunker, MiniLM, BM25, Qdrant
Edge) into a temp collection. `ragline` is `Retriever.search_many` with the shipped
RetrievalConfig, end to end. The variants re-fuse the same two legs (fetched once per query)
with other methods and depths (bench/quality_variants.py). The peers get the same chunks and
the same MiniLM vectors (bench/peer_run.py). Scoring is per document (a document counts at
its best chunk's rank). Means come with a bootstrap 95% CI over queries (1000 resamples, seed
0), as do the paired differences ragline - each peer, on each split.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import numpy as np

from common import bench_settings, describe, ingest, log, rate, workdir
from faq_set import faq_set
from labelled_sets import Doc, Query, split_of, stdlib_docstring_set, write_jsonl
from manpage_set import manpage_set
from numpydoc_set import numpydoc_set
from peer_run import PEERS, peer_rankings
from quality_variants import (
    VARIANTS,
    Variant,
    dense_windows,
    doc_leg,
    fetch_legs,
    with_doc_leg,
)

K = 10
RESAMPLES = 1000
SEED = 0
METRICS = ("ndcg10", "recall10", "mrr10")
SETS = ("docstrings", "manpages", "faq", "long")

Scores = dict[str, np.ndarray]  # metric -> per-query values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=SETS, help="repeatable; default all")
    parser.add_argument("--max-docs", type=int, default=400, help="documents per set")
    parser.add_argument("--no-peers", action="store_true", help="skip the peers' venv")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[2])
    table: dict[str, dict[str, dict[str, Scores]]] = {}  # kind -> split -> system -> scores
    for name in args.set or SETS:
        docs, queries = labelled_set(name, args.max_docs)
        with workdir(f"quality-{name}", args.keep) as tmp:
            for kind, rows in run_set(name, docs, queries, tmp, not args.no_peers).items():
                table[kind] = rows
    report(table)
    return 0


def labelled_set(name: str, max_docs: int) -> tuple[list[Doc], list[Query]]:
    if name == "manpages":
        return manpage_set(max_docs)
    if name == "faq":
        return faq_set(max_docs)
    if name == "long":
        return numpydoc_set(max_docs)
    return stdlib_docstring_set(max_docs=max_docs)


def run_set(
    name: str, docs: list[Doc], queries: list[Query], tmp: object, peers: bool
) -> dict[str, dict[str, dict[str, Scores]]]:
    """Ingest one set, run ragline, the variants and the peers; scores per kind and split."""
    from pathlib import Path

    from ragline.serving.wiring import Accounting, build_retriever, build_store

    assert isinstance(tmp, Path)
    corpus = write_jsonl(docs, tmp / "corpus" / f"{name}.jsonl").parent
    settings = bench_settings(tmp / "data")
    report_ = ingest(settings, [corpus])
    log(
        f"set {name}: {len(docs)} documents, {len(queries)} queries; ingest "
        f"{report_.chunks_written} chunks in {report_.seconds:.1f} s "
        f"({rate(report_.chunks_written, report_.seconds):.1f} chunks/s)"
    )
    if report_.failed or report_.documents != len(docs):
        raise SystemExit(f"ingest wrote {report_.documents} of {len(docs)} documents")
    costs = Accounting(settings)
    retriever = build_retriever(settings, settings.retrieval, build_store(settings), costs)
    texts = [q.text for q in queries]
    rankings: dict[str, list[list[str]]] = {}
    batches = retriever.search_many(texts, top_k=K, payload_keys=("source_document",))
    rankings["ragline"] = [[str(h.payload["source_document"]) for h in b] for b in batches]
    legs = fetch_legs(retriever, texts)
    for variant, run in VARIANTS.items():
        rankings[variant] = [run(dense, sparse) for dense, sparse in legs]
    chunks = all_chunks(retriever.store)
    log(f"embedding {len(chunks)} chunks for the document leg and the peers ...")
    chunk_vectors = retriever.embedder.embed([c[1] for c in chunks], kind="document")
    windows = retriever.embed_queries(texts)
    log(f"long queries: {sum(len(w) > 1 for w in windows)} of {len(texts)} span several windows")
    first = np.stack([w[0] for w in windows])
    docs_, doc_scores = doc_leg(first, [c[2] for c in chunks], chunk_vectors)
    base = Variant("dbsf")
    rankings["doc-leg"] = [
        with_doc_leg(lg, docs_, s, base) for lg, s in zip(legs, doc_scores, strict=True)
    ]
    truncated = retriever.embedder.embed(texts, kind="query")
    for name, ranked in dense_windows(windows, [c[2] for c in chunks], chunk_vectors).items():
        rankings[f"dense-{name}"] = ranked
    if peers:
        systems, seconds = peer_rankings(
            chunks, chunk_vectors, [(q.query_id, q.text) for q in queries], truncated
        )
        log("peers: " + ", ".join(f"{p} {seconds[p]:.1f} s" for p in PEERS))
        for peer in PEERS:
            rankings[f"peer:{peer}"] = [systems[peer][q.query_id] for q in queries]
    retriever.store.close()
    out: dict[str, dict[str, dict[str, Scores]]] = {}
    for kind in sorted({q.kind for q in queries}):
        for split in ("dev", "test"):
            picked = [
                i for i, q in enumerate(queries) if q.kind == kind and split_of(q.relevant) == split
            ]
            out.setdefault(kind, {})[split] = {
                system: per_query([queries[i] for i in picked], [ranked[i] for i in picked])
                for system, ranked in rankings.items()
            }
    return out


def all_chunks(store: object) -> list[tuple[str, str, str]]:
    """Every chunk of the collection as (id, text, source_document), in id order."""
    keys = ("text", "source_document")
    page, offset = store.scroll(512, payload_keys=keys)  # type: ignore[attr-defined]
    hits = list(page)
    while offset is not None:
        page, offset = store.scroll(512, offset, payload_keys=keys)  # type: ignore[attr-defined]
        hits += page
    return [(h.id, str(h.payload["text"]), str(h.payload["source_document"])) for h in hits]


def scores(ranking: Sequence[str], relevant: str) -> dict[str, float]:
    """nDCG@10, Recall@10 and MRR@10 for one query with one relevant document."""
    if relevant not in ranking[:K]:
        return dict.fromkeys(METRICS, 0.0)
    rank = list(ranking).index(relevant) + 1
    return {"ndcg10": 1 / math.log2(rank + 1), "recall10": 1.0, "mrr10": 1 / rank}


def per_query(queries: Sequence[Query], rankings: Sequence[Sequence[str]]) -> Scores:
    rows = [scores(r, q.relevant) for q, r in zip(queries, rankings, strict=True)]
    return {m: np.array([row[m] for row in rows]) for m in METRICS}


def bootstrap(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """Mean and percentile 95% CI of the mean over `RESAMPLES` resamples of the queries."""
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    picks = rng.integers(0, len(values), size=(RESAMPLES, len(values)))
    means = values[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(low), float(high)


def report(table: dict[str, dict[str, dict[str, Scores]]]) -> None:
    """nDCG@10 of every system per kind and split; then ragline - each peer on test."""
    rng = np.random.default_rng(SEED)
    kinds = list(table)
    systems = list(next(iter(table.values()))["test"])
    print()
    print("nDCG@10 (dev / test), n = queries per split")
    print(f"{'system':<16}" + "".join(f"{kind:>22}" for kind in kinds))
    sizes = ""
    for kind in kinds:
        dev, test = (len(table[kind][split][systems[0]]["ndcg10"]) for split in ("dev", "test"))
        sizes += f"{f'n={dev}/{test}':>22}"
    print(f"{'':<16}{sizes}")
    for system in systems:
        cells = ""
        for kind in kinds:
            dev, test = (table[kind][split][system]["ndcg10"].mean() for split in ("dev", "test"))
            cells += f"{dev:>15.3f} / {test:.3f}"
        print(f"{system:<16}{cells}")
    print()
    print("test split, ragline - peer, nDCG@10: mean [95% paired bootstrap CI]")
    for kind in kinds:
        test = table[kind]["test"]
        peers = [s for s in systems if s.startswith("peer:")]
        best = max(peers, key=lambda p: test[p]["ndcg10"].mean(), default=None)
        for peer in peers:
            diff = test["ragline"]["ndcg10"] - test[peer]["ndcg10"]
            mean, low, high = bootstrap(diff, rng)
            mark = " <- best peer" if peer == best else ""
            print(f"{kind:<9} {peer:<16} {mean:+.3f} [{low:+.3f}, {high:+.3f}]{mark}")
    print()
    for kind in kinds:
        for split in ("dev", "test"):
            for system, values in table[kind][split].items():
                print(
                    f"FIGURE ndcg10 set={kind} split={split} system={system} "
                    f"value={values['ndcg10'].mean():.4f} recall10={values['recall10'].mean():.4f} "
                    f"mrr10={values['mrr10'].mean():.4f} n={len(values['ndcg10'])}"
                )


if __name__ == "__main__":
    raise SystemExit(main())
