"""Cheaper vectors, measured: what float32, int8, binary and truncated dims cost in retrieval
quality, search latency and memory, on the labelled sets, so a user can pick a row.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/vector_cost.py [--set faq ...] [--max-docs 1000]
    HF_HUB_OFFLINE=1 .venv/bin/python bench/vector_cost.py --scale-points 100000  # + p50 at 100k

Every set (docstrings: stdlib summaries and their name-stripped variants; manpages; faq; long:
numpydoc) is embedded once with all-MiniLM-L6-v2 through ragline's embedder (float32,
`embedding.document_backend` as shipped), one vector per document (its first 256 word-pieces,
MiniLM's window), and its queries once. Each row then stores the same vectors in its own Qdrant
Edge collection through ragline's `QdrantEdgeStore`, with that row's `store.quantization`,
`rescore` and `oversampling`, and searches it through `store.query` (the dense leg alone, top
10; hybrid fusion would blur the differences). `index_threshold_kb=1` makes Qdrant index every
segment, so the int8 and binary copies exist even in collections this small (with the default
threshold, 10 MB, Qdrant would search float32 below ~6,500 384-d vectors); the float32 rows are
indexed the same way. All segments stay under HNSW's full-scan threshold: every row scans its
whole collection, so the rows differ only in how vectors are stored and scored.

Truncated rows keep the first 256 or 128 dims of the same vectors, re-normalised: what
`embedding.truncate_dim` gives (tests/rag/embed/test_truncate_dim.py). MiniLM is NOT a
Matryoshka model (not trained so that a prefix of its vector stands alone): these rows show
what truncation costs a model that was not made for it; a Matryoshka model loses less.

Scores: nDCG@10 per set (all queries, dev and test: nothing is tuned here; one relevant
document per query, as bench/retrieval_quality.py scores them). Latency: p50 of `store.query`
per query, search only (vectors embedded beforehand), warm (every query run once before the
timed pass). The sets are small (400-930 documents), so that p50 is mostly per-call overhead;
`--scale-points N` also times every row on N vectors (noisy mixtures of two real document
vectors, so the space is clustered like real data) with 500 of the real queries: past 10 MB a
segment gets its HNSW graph, which a quantized row traverses on its compact copy.

Bytes per vector, as the store keeps them: float32 originals (4 x dims) plus the quantized
copy, whose size is read from Qdrant's files (quantized.data / points); "in RAM" is what
search must hold in memory when the originals stay on disk (`on_disk_vectors`, rescoring then
reads only oversampling x 10 originals a query): the quantized copy, or the float32 vectors of
an unquantized row. The HNSW graph and payloads come on top, alike for every row.
"""

from __future__ import annotations

import argparse
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common import describe, figure, log, workdir
from retrieval_quality import labelled_set

K = 10
SCALE_QUERIES = 500
SETS = ("docstrings", "manpages", "faq", "long")
Matrix = np.ndarray


@dataclass(frozen=True, slots=True)
class Row:
    """One storage choice: a quantization kind with its search options, or a truncation."""

    name: str
    kind: str = "none"
    rescore: bool = True
    oversampling: float = 2.0
    dims: int | None = None  # truncate to this many dims (re-normalised)


ROWS = (
    Row("float32"),
    Row("int8 + rescore", "int8"),
    Row("int8, no rescore", "int8", rescore=False),
    Row("binary, no rescore", "binary", rescore=False),
    Row("binary + rescore x2", "binary", oversampling=2.0),
    Row("binary + rescore x4", "binary", oversampling=4.0),
    Row("truncate 256", dims=256),
    Row("truncate 128", dims=128),
)


@dataclass(frozen=True, slots=True)
class Embedded:
    """One labelled set, embedded once."""

    name: str
    doc_ids: list[str]
    docs: Matrix
    queries: Matrix
    relevant: list[str]


@dataclass(frozen=True, slots=True)
class Measured:
    """One row on one set."""

    ndcg: float
    dims: int
    latencies_ms: list[float]
    stored_bytes: float  # per vector: float32 originals + quantized copy
    ram_bytes: float  # per vector: what search holds in RAM with originals on disk


def embed_sets(names: Sequence[str], max_docs: int) -> list[Embedded]:
    """Every set through ragline's embedder, as configured by default (float32)."""
    from ragline.rag.config import EmbeddingConfig
    from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(EmbeddingConfig())
    out = []
    for name in names:
        docs, queries = labelled_set(name, max_docs)
        started = time.perf_counter()
        vectors = embedder.embed([d.text for d in docs], kind="document")
        asked = embedder.embed([q.text for q in queries], kind="query")
        log(
            f"set {name}: {len(docs)} documents, {len(queries)} queries embedded in "
            f"{time.perf_counter() - started:.1f} s ({embedder.document_backend} documents)"
        )
        ids = [d.doc_id for d in docs]
        out.append(Embedded(name, ids, vectors, asked, [q.relevant for q in queries]))
    return out


def truncate(rows: Matrix, dims: int | None) -> Matrix:
    """The first `dims` columns, re-normalised (all of them when `dims` is None)."""
    if dims is None:
        return rows
    prefix = rows[:, :dims]
    return np.ascontiguousarray(prefix / np.linalg.norm(prefix, axis=1, keepdims=True))


def ndcg(ranking: Sequence[str], relevant: str) -> float:
    """nDCG@10 with one relevant document."""
    top = list(ranking[:K])
    return 1 / math.log2(top.index(relevant) + 2) if relevant in top else 0.0


def quantized_bytes(path: Path) -> int:
    """Bytes of the quantized copies Qdrant wrote under a collection folder."""
    return sum(f.stat().st_size for f in path.rglob("quantized.data"))


def filled(row: Row, docs: Matrix, names: Sequence[str], root: Path) -> Any:
    """A `QdrantEdgeStore` holding `docs` (payload "doc": their names) as `row` stores them,
    every segment indexed."""
    from ragline.core.index import CollectionSpec, StorePoint
    from ragline.rag.config import Quantization
    from ragline.rag.store.edge import QdrantEdgeStore

    quantization = Quantization(kind=row.kind, rescore=row.rescore, oversampling=row.oversampling)
    store = QdrantEdgeStore(root, "cost", quantization=quantization, index_threshold_kb=1)
    store.ensure_collection(CollectionSpec(dims=docs.shape[1], indexes={}))
    ids = [str(uuid.UUID(int=i + 1)) for i in range(len(docs))]
    for start in range(0, len(ids), 512):
        store.upsert(
            [
                StorePoint(ids[i], docs[i], None, {"doc": names[i]})
                for i in range(start, min(start + 512, len(ids)))
            ]
        )
    store.flush()
    store.optimize()
    return store


def warm_requests(store: Any, queries: Matrix) -> list[Any]:
    """One top-`K` request per query, each run once (caches, lazily loaded segments)."""
    from ragline.core.index import StoreQuery

    requests = [StoreQuery(dense=q, limit=K, payload_keys=("doc",)) for q in queries]
    for request in requests:
        store.query(request)
    return requests


def measure(row: Row, data: Embedded, root: Path) -> Measured:
    """Store `data` as `row` says, search it with every query, and size what it keeps."""
    docs, queries = truncate(data.docs, row.dims), truncate(data.queries, row.dims)
    store = filled(row, docs, data.doc_ids, root)
    requests = warm_requests(store, queries)
    latencies, scores = [], []
    for request, relevant in zip(requests, data.relevant, strict=True):
        started = time.perf_counter_ns()
        hits = store.query(request)
        latencies.append((time.perf_counter_ns() - started) / 1e6)
        scores.append(ndcg([str(h.payload["doc"]) for h in hits], relevant))
    store.close()
    original = 4 * docs.shape[1]
    copy = quantized_bytes(root / "cost") / len(docs) if row.kind != "none" else 0.0
    if row.kind != "none" and copy == 0:
        raise SystemExit(f"{row.name}: Qdrant wrote no quantized copy; the row would be float32")
    dims = docs.shape[1]
    return Measured(float(np.mean(scores)), dims, latencies, original + copy, copy or original)


def scale_p50(row: Row, sets: list[Embedded], points: int, root: Path) -> float:
    """p50 ms of `row` at `points` vectors: noisy mixtures of two real document vectors
    (clustered like real data), searched with the sets' real queries (HNSW past 10 MB)."""
    pool = np.concatenate([s.docs for s in sets])
    rng = np.random.default_rng(0)
    mixed = (
        0.7 * pool[rng.integers(0, len(pool), points)]
        + 0.3 * pool[rng.integers(0, len(pool), points)]
        + 0.02 * rng.normal(size=(points, pool.shape[1])).astype(np.float32)
    )
    docs = truncate(np.asarray(mixed / np.linalg.norm(mixed, axis=1, keepdims=True)), row.dims)
    queries = truncate(np.concatenate([s.queries for s in sets])[:SCALE_QUERIES], row.dims)
    store = filled(row, np.ascontiguousarray(docs, dtype=np.float32), ["x"] * points, root)
    latencies = []
    for request in warm_requests(store, queries):
        started = time.perf_counter_ns()
        store.query(request)
        latencies.append((time.perf_counter_ns() - started) / 1e6)
    store.close()
    return float(np.percentile(latencies, 50))


def run(sets: list[Embedded], tmp: Path) -> dict[str, dict[str, Measured]]:
    """row name -> set name -> what was measured."""
    table: dict[str, dict[str, Measured]] = {}
    for row in ROWS:
        for data in sets:
            folder = tmp / f"{data.name}-{len(table)}"
            table.setdefault(row.name, {})[data.name] = measure(row, data, folder)
        cells = ", ".join(f"{s} {m.ndcg:.3f}" for s, m in table[row.name].items())
        log(f"{row.name}: nDCG@10 {cells}")
    return table


def report(
    table: dict[str, dict[str, Measured]], sets: Sequence[str], scaled: dict[str, float]
) -> None:
    """The Markdown table for docs/benchmarks.md, then one FIGURE line per row; `scaled`:
    p50 ms per row at --scale-points vectors (empty: not measured)."""
    base = summary(table["float32"])
    print(f"nDCG@10 per set; p50 over all {len(next(iter(table.values())))} sets' queries")
    head = " | ".join(f"nDCG@10 {s}" for s in sets)
    print()
    print(
        f"| row | dims | {head} | mean | vs float32 | p50 ms | "
        + ("p50 ms at scale | " if scaled else "")
        + "bytes/vector kept | in RAM | GB per 1M vectors kept / in RAM |"
    )
    print("|---" * (len(sets) + 8 + bool(scaled)) + "|")
    for row in ROWS:
        cells = table[row.name]
        mean, p50, kept, ram = summary(cells)
        print(
            f"| {row.name} | {next(iter(cells.values())).dims} | "
            + " | ".join(f"{cells[s].ndcg:.3f}" for s in sets)
            + f" | {mean:.3f} | {mean - base[0]:+.3f} | {p50:.2f} | "
            + (f"{scaled[row.name]:.2f} | " if scaled else "")
            + f"{kept:.0f} | {ram:.0f} | "
            f"{kept / 1000:.2f} / {ram / 1000:.2f} |"  # bytes a vector x 1e6 / 1e9
        )
    print()
    for row in ROWS:
        mean, p50, kept, ram = summary(table[row.name])
        slug = row.name.replace(" + ", "_").replace(", ", "_").replace(" ", "_")
        figure(
            f"vector_cost_ndcg10[{slug}]",
            mean,
            target="pick a row",
            baseline="float32 same run",
            ratio=mean / base[0],
            extra={
                "p50_ms": f"{p50:.3f}",
                "p50_ratio": f"{p50 / base[1]:.3f}",
                "bytes_kept": f"{kept:.0f}",
                "bytes_ram": f"{ram:.0f}",
                "ram_ratio": f"{ram / base[3]:.4f}",
                **(
                    {
                        "p50_ms_at_scale": f"{scaled[row.name]:.3f}",
                        "p50_at_scale_ratio": f"{scaled[row.name] / scaled['float32']:.3f}",
                    }
                    if scaled
                    else {}
                ),
                **{f"ndcg10_{s}": f"{table[row.name][s].ndcg:.4f}" for s in sets},
            },
        )


def summary(cells: dict[str, Measured]) -> tuple[float, float, float, float]:
    """Mean nDCG@10 over sets, p50 ms over all queries, bytes kept and in RAM per vector."""
    mean = float(np.mean([m.ndcg for m in cells.values()]))
    p50 = float(np.percentile([x for m in cells.values() for x in m.latencies_ms], 50))
    vectors = next(iter(cells.values()))
    return mean, p50, vectors.stored_bytes, vectors.ram_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=SETS, help="repeatable; default all")
    parser.add_argument("--max-docs", type=int, default=1000, help="documents per set, at most")
    parser.add_argument(
        "--scale-points", type=int, default=0, help="also time each row at this many vectors"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[2])
    names = args.set or list(SETS)
    sets = embed_sets(names, args.max_docs)
    scaled: dict[str, float] = {}
    with workdir("vector-cost", args.keep) as tmp:
        table = run(sets, tmp)
        for i, row in enumerate(ROWS if args.scale_points else ()):
            scaled[row.name] = scale_p50(row, sets, args.scale_points, tmp / f"scale-{i}")
            log(f"{row.name}: p50 {scaled[row.name]:.2f} ms at {args.scale_points} vectors")
    report(table, names, scaled)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
