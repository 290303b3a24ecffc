"""Qdrant Edge upsert: points/s of `QdrantEdgeStore.upsert` (batches of 1024) plus `flush()`.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/edge_upsert.py [--points 100000]

Points: 384-d float32 unit vectors (random: no model runs), BM25 sparse vectors of real text
(~1 KB windows of the stdlib pydoc corpus) and the payload the ingest writes (text,
source_document, source_path, chunk_index, date_created, page_number, section_heading), in a
collection with ragline's default payload indexes. Timed: every `upsert` call (which builds the
engine's points from ours: the adapter's work) and the final `flush()`. Not timed: making the
vectors, BM25 encoding, building our StorePoints (then frozen out of the cyclic GC), creating
the collection. Baseline, same points and batches: qdrant-client's local on-disk mode
(`QdrantServerStore` with a directory as url, i.e. `QdrantClient(path=...)`) on the first
--baseline-points points; it is pure Python and slow. Target: >= 10,000 points/s for Edge.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from common import batches, describe, figure, log, rate, workdir, write_corpus

TARGET = 10_000
DIMS = 384
TEXT_CHARS = 1000
DATE = "2026-01-15T09:30:00Z"
_IDS = uuid.UUID("0e5c1a52-8f0e-4d55-9a5e-7d6f1f2b3c4d")


def windows(corpus: Path, count: int) -> list[tuple[str, str, str]]:
    """`count` distinct ~1 KB windows of real text: (text, file name, file path)."""
    files = sorted(corpus.glob("*.txt"))
    parts = [f.read_text(encoding="utf-8") for f in files]
    starts = np.cumsum([0] + [len(p) for p in parts[:-1]]).tolist()
    whole = "".join(parts)
    stride = max(1, (len(whole) - 2 * TEXT_CHARS) // count)
    out = []
    for i in range(count):
        begin = (i * stride) % (len(whole) - 2 * TEXT_CHARS)
        begin = whole.find(" ", begin) + 1 or begin  # start on a word
        end = whole.rfind(" ", begin, begin + TEXT_CHARS)
        text = whole[begin : end if end > begin else begin + TEXT_CHARS]
        source = files[bisect.bisect_right(starts, begin) - 1]
        out.append((text, source.name, str(source)))
    return out


def to_points(texts: list[tuple[str, str, str]], dense: Any, sparse: list[Any]) -> list[Any]:
    """StorePoints with the payload an ingest writes, one per (text, file name, file path)."""
    from ragline.core.index import StorePoint

    chunk_index: dict[str, int] = {}
    points = []
    for i, (text, name, path) in enumerate(texts):
        index = chunk_index[name] = chunk_index.get(name, -1) + 1
        payload: dict[str, Any] = {
            "text": text,
            "source_document": name,
            "source_path": path,
            "chunk_index": index,
            "date_created": DATE,
            "page_number": index // 4 + 1,
            "section_heading": f"{name.removesuffix('.txt')} > part {index // 20 + 1}",
        }
        points.append(StorePoint(str(uuid.uuid5(_IDS, str(i))), dense[i], sparse[i], payload))
    return points


def make_points(corpus: Path, count: int) -> list[Any]:
    """Our StorePoints, ready to upsert (none of this is timed)."""
    from ragline.rag.config import SparseConfig
    from ragline.rag.embed.sparse import Bm25Encoder

    texts = windows(corpus, count)
    log(f"{count} text windows, {np.mean([len(t) for t, _, _ in texts]):.0f} chars on average")
    dense = np.random.default_rng(7).standard_normal((count, DIMS), dtype=np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    started = time.perf_counter()
    sparse = Bm25Encoder(SparseConfig()).encode_documents([t for t, _, _ in texts])
    log(f"BM25-encoded them in {time.perf_counter() - started:.1f} s (not timed)")
    return to_points(texts, dense, sparse)


def timed_upserts(store: Any, points: list[Any], batch: int, label: str) -> float:
    """Seconds for upserting `points` in batches, then flushing; logs progress."""
    from ragline.core.index import CollectionSpec

    store.ensure_collection(CollectionSpec(dims=DIMS))
    step = max(1, len(points) // batch // 5) * batch
    started = time.perf_counter()
    for done, chunk in enumerate(batches(points, batch), 1):
        store.upsert(chunk)
        if (done * batch) % step == 0 and done * batch < len(points):
            elapsed = time.perf_counter() - started
            log(f"{label}: {done * batch} points upserted in {elapsed:.1f} s")
    store.flush()
    seconds = time.perf_counter() - started
    stored = store.count()
    if stored != len(points):
        raise SystemExit(f"{label}: {stored} points stored, {len(points)} upserted")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000, help="points to upsert into Edge")
    parser.add_argument(
        "--baseline-points",
        type=int,
        default=10_000,
        help="points for the qdrant-client local-mode baseline (0 to skip)",
    )
    parser.add_argument("--batch", type=int, default=1024, help="points per upsert call")
    parser.add_argument(
        "--repeat", type=int, default=3, help="Edge runs (fresh collection each); median reported"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[2])

    from ragline.rag.store.edge import QdrantEdgeStore
    from ragline.rag.store.server import QdrantServerStore

    with workdir("upsert", args.keep) as tmp:
        points = make_points(write_corpus(tmp / "corpus", 88), args.points)
        # The prepared points are millions of Python objects that an ingest never holds at
        # once; keep the cyclic GC from rescanning them during the timed part of both sides.
        gc.collect()
        gc.freeze()

        runs = []
        for run in range(args.repeat):
            edge = QdrantEdgeStore(tmp / "edge", f"bench{run}")
            edge_s = timed_upserts(edge, points, args.batch, "edge")
            edge.drop()
            runs.append(rate(len(points), edge_s))
            log(f"edge run {run + 1}: {len(points)} points in {edge_s:.2f} s = {runs[-1]:,.0f}/s")
        # This VM's speed drifts from run to run; the median of a few runs is the figure.
        edge_rate = statistics.median(runs)
        log("edge runs (points/s): " + ", ".join(f"{r:,.0f}" for r in runs))

        base = points[: args.baseline_points]
        base_rate = float("nan")
        if base:
            local = QdrantServerStore("bench", url=str(tmp / "local"))
            base_s = timed_upserts(local, base, args.batch, "qdrant-client local")
            local.close()
            base_rate = rate(len(base), base_s)
            log(f"local: {len(base)} points in {base_s:.2f} s = {base_rate:,.0f} points/s")

    ratio = edge_rate / base_rate
    print()
    print(f"{'engine':<34} {'points':>8} {'points/s':>10}")
    print(f"{'Qdrant Edge (QdrantEdgeStore)':<34} {len(points):>8} {edge_rate:>10,.0f}")
    print(f"{'qdrant-client local, on disk':<34} {len(base):>8} {base_rate:>10,.0f}")
    print(f"Edge: {edge_rate:,.0f} points/s (target >= {TARGET:,}); {ratio:.1f}x the baseline")
    figure(
        "edge_upsert_points_per_s",
        edge_rate,
        target=f">={TARGET}",
        baseline=f"qdrant_client_local_points_per_s={base_rate:.4g}",
        ratio=ratio,
        extra={"points": str(len(points)), "baseline_points": str(len(base))},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
