"""Ray ingest throughput: in-process vs `--engine ray` with 1 and 2 embed actors, chunks/s.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ray_ingest.py [--modules 6]

Each side runs the full pipeline as `ragline ingest` builds it (walk, hash, load, chunk, dense
embedding metered into the ledger, BM25, upsert into a fresh Qdrant Edge collection, flush,
manifest) on the same stdlib corpus. Ray sides: a local cluster with this machine's CPUs, files
loaded and chunked in Ray tasks, embedding in an actor pool (each actor gets the CPUs shared
out), the driver the single writer. Excluded from every side: imports, model loads and Ray
start-up, by an untimed warm-up ingest of a 2-module corpus into another collection first.
In-process runs first and last (their mean is the baseline). Target: Ray with one actor
>= 0.85x the in-process rate.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from common import bench_settings, describe, figure, log, rate, workdir, write_corpus

TARGET_RATIO = 0.85


def run_side(data: Path, corpus: Path, warm: Path, engine: Any) -> Any:
    """A warm-up ingest, then the timed one, with one embedder (in-process or Ray); the report."""
    from ragline.rag.ingest.ray_engine import RayEmbedder, ray_mapper
    from ragline.rag.metering import MeteredEmbedder
    from ragline.serving.wiring import Accounting, build_embedder, build_ingestor, build_store

    settings = bench_settings(data)
    on_ray = RayEmbedder(settings.embedding, engine) if engine else None
    with Accounting(settings) as costs:
        embedder = (
            MeteredEmbedder(on_ray, costs.meter) if on_ray else build_embedder(settings, costs)
        )
        mapper = ray_mapper(engine) if engine else None
        try:
            for collection, root in (("warm-up", warm), (None, corpus)):
                store = build_store(settings, collection, costs)
                ingestor = build_ingestor(
                    settings, store, costs=costs, embedder=embedder, mapper=mapper
                )
                ingestor.chunker()  # tokenizers load outside the timed run, as in-process
                report = ingestor.run([root])
                ingestor.manifest.close()
                store.close()
        finally:
            if on_ray:
                on_ray.close()
    if report.skipped or not report.chunks_written:
        raise SystemExit(f"the run wrote {report.chunks_written} chunks, skipped {report.skipped}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=6, help="stdlib modules in the corpus")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[2])

    import ray

    from ragline.rag.ingest.ray_engine import RayOptions

    cpus = os.cpu_count() or 1
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    sides: list[tuple[str, Any]] = [
        ("in-process, before", None),
        ("ray, 1 embed actor", RayOptions(actors=1)),
        ("ray, 2 embed actors", RayOptions(actors=2)),
        ("in-process, after", None),
    ]
    results: list[tuple[str, int, float]] = []
    with workdir("ray-ingest", args.keep) as tmp:
        corpus = write_corpus(tmp / "corpus", args.modules)
        warm = write_corpus(tmp / "warm", 2)
        for n, (name, engine) in enumerate(sides):
            log(f"{name}: warm-up, then the timed ingest ...")
            report = run_side(tmp / f"data-{n}", corpus, warm, engine)
            results.append((name, report.chunks_written, report.seconds))
            log(f"{name}: {report.chunks_written} chunks in {report.seconds:.1f} s")
    ray.shutdown()

    local_s = (results[0][2] + results[3][2]) / 2
    chunks = results[0][1]
    print()
    print(f"{'side':<24} {'chunks':>7} {'seconds':>8} {'chunks/s':>9} {'x local':>8}")
    for name, count, seconds in results:
        ratio = rate(count, seconds) / rate(chunks, local_s)
        print(f"{name:<24} {count:>7} {seconds:>8.1f} {rate(count, seconds):>9.1f} {ratio:>8.2f}")
    one = rate(results[1][1], results[1][2]) / rate(chunks, local_s)
    print(f"ray 1 actor / in-process (mean): {one:.3f} (target >= {TARGET_RATIO}; {cpus} CPUs)")
    figure(
        "ray_ingest_1_actor_chunks_per_s",
        rate(results[1][1], results[1][2]),
        target=f"ratio>={TARGET_RATIO}",
        baseline=f"in_process_chunks_per_s={rate(chunks, local_s):.4g}",
        ratio=one,
        extra={
            "chunks": str(chunks),
            "modules": str(args.modules),
            "ray_2_actors_chunks_per_s": f"{rate(results[2][1], results[2][2]):.4g}",
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
