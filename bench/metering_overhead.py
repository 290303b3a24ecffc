"""Cost metering overhead: what the metering wrappers add to a query embedding, a store query
and an ingest batch, as a ratio to the same call unwrapped.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/metering_overhead.py [--queries 300] [--batches 8]

Every door gets its embedder and store through `ragline.serving.wiring`, wrapped in
`ragline.rag.metering`: each call counts tokens (tiktoken cl100k), prices them and records one
`CostEvent` through the `ScopedSink` into a SQLite ledger (batched), inside a `cost_scope`.
Measured, per call, interleaved call by call with the unwrapped twin on the same objects (so a
drift in machine load hits both alike): (1) one query embedding (ONNX, the packaged
all-MiniLM-L6-v2) of --queries distinct questions; (2) one hybrid query on a Qdrant Edge
collection of 2,000 random points; (3) the embedding of a 512-chunk ingest batch of real
stdlib text (torch), --batches times. Baseline in the same run: the unwrapped call. Target:
metered / unwrapped p50 <= 1.05 for the query path (embedding + store query), i.e. metering
costs under 5% of a query's retrieval work.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from common import bench_settings, describe, figure, log, workdir, write_corpus
from search_latency import questions

TARGET = 1.05


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def pair(plain: Callable[[], Any], metered: Callable[[], Any], runs: int) -> tuple[float, float]:
    """p50 ms of each, alternating call by call."""
    a, b = [], []
    for i in range(runs):
        if i % 2:
            a.append(timed(plain))
            b.append(timed(metered))
        else:
            b.append(timed(metered))
            a.append(timed(plain))
    return float(np.median(a)), float(np.median(b))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300, help="timed questions per path")
    parser.add_argument("--batches", type=int, default=8, help="timed ingest batches")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[2])

    from ragline.core.costs import cost_scope
    from ragline.core.index import CollectionSpec, StorePoint, StoreQuery
    from ragline.core.types import SparseVector
    from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
    from ragline.rag.metering import MeteredEmbedder, MeteredStore
    from ragline.rag.store.edge import QdrantEdgeStore
    from ragline.serving.wiring import Accounting

    qs = questions(args.queries)
    with workdir("metering") as tmp:
        settings = bench_settings(tmp / "data", costs={"embedding_usd_per_1m_tokens": "0.02"})
        costs = Accounting(settings)
        raw = SentenceTransformerEmbedder(settings.embedding)
        raw.warm_up()
        metered = MeteredEmbedder(raw, costs.meter)
        rng = np.random.default_rng(0)
        store = QdrantEdgeStore(tmp / "qdrant", "docs")
        store.ensure_collection(CollectionSpec(dims=raw.dims))
        vectors = rng.normal(size=(2000, raw.dims)).astype(np.float32)
        points = [
            StorePoint(str(uuid.UUID(int=i)), vectors[i], SparseVector([i % 97, 500 + i % 13],
                       [1.0, 0.5]), {"text": f"p{i}"})
            for i in range(2000)
        ]  # fmt: skip
        store.upsert(points)
        store.optimize()
        metered_store = MeteredStore(store, costs.meter, "edge")
        query = StoreQuery(dense=vectors[0], sparse=SparseVector([3, 505], [1.0, 1.0]), limit=10)
        corpus = write_corpus(tmp / "corpus", 3)
        texts = [p.read_text()[i : i + 1200] for p in sorted(corpus.glob("*.txt"))
                 for i in range(0, 1200 * 200, 1200)][:512]  # fmt: skip
        log(f"{len(qs)} questions, 2,000 points, a batch of {len(texts)} chunk texts")

        results: dict[str, tuple[float, float]] = {}
        with cost_scope("bench"):
            for q in qs[:20]:  # warm-up, both sides
                raw.embed([q], "query"), metered.embed([q], "query")
            it = iter(range(10**9))
            results["query embedding"] = pair(
                lambda: raw.embed([qs[next(it) % len(qs)]], "query"),
                lambda: metered.embed([qs[next(it) % len(qs)]], "query"),
                args.queries,
            )
            results["hybrid store query"] = pair(
                lambda: store.query(query), lambda: metered_store.query(query), args.queries
            )
            raw.embed(texts[:64])
            results["ingest batch (512 chunks)"] = pair(
                lambda: raw.embed(texts), lambda: metered.embed(texts), args.batches
            )
        events = costs.ledger.flush() + len(costs.ledger.events())
        costs.close()
        store.close()

    print()
    print(f"{'call (p50 ms)':<28} {'unwrapped':>10} {'metered':>10} {'ratio':>7}")
    for name, (plain, wrapped) in results.items():
        print(f"{name:<28} {plain:>10.3f} {wrapped:>10.3f} {wrapped / plain:>7.3f}")
    plain_q = results["query embedding"][0] + results["hybrid store query"][0]
    metered_q = results["query embedding"][1] + results["hybrid store query"][1]
    ratio = metered_q / plain_q
    print(f"{events} cost events recorded; query path {plain_q:.2f} -> {metered_q:.2f} ms")
    print(f"target metered/unwrapped <= {TARGET} on the query path: "
          f"{'met' if ratio <= TARGET else 'NOT met'}")  # fmt: skip
    batch_plain, batch_metered = results["ingest batch (512 chunks)"]
    figure(
        "metered_query_path_p50_ms",
        metered_q,
        target=f"ratio<={TARGET}",
        baseline=f"unwrapped_p50_ms={plain_q:.4g}",
        ratio=ratio,
        extra={"ingest_batch_ratio": f"{batch_metered / batch_plain:.4g}"},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
