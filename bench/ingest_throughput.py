"""Ingest throughput: the full pipeline's chunks/s as a ratio to bare `SentenceTransformer.encode`.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ingest_throughput.py [--modules 30]

Pipeline side: `Ingestor.run` on a fresh collection (walk, hash, load, chunk, dense embedding,
BM25 sparse encoding, upsert into Qdrant Edge, flush, manifest), built by the wiring as
`ragline ingest` builds it: embedder and store metered, a cost event per embedding batch and
per upsert batch into a SQLite ledger. Baseline side: the model's own
`encode` on the very chunk texts the pipeline embeds, with the configured batch size, in the
same process, once before and once after the pipeline (their mean is the baseline). Excluded
from both sides: imports, loading the embedding model, building the chunker (it loads the
tokenizers), and an untimed warm-up encode of the first 256 chunks. Target: ratio >= 0.9.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from common import (
    bench_settings,
    describe,
    figure,
    log,
    rate,
    workdir,
    write_corpus,
)

TARGET_RATIO = 0.9
WARM_UP_TEXTS = 256  # an untimed encode of the first chunks: later passes run warmer


def chunk_texts(ingestor: Any, corpus: Path) -> list[str]:
    """The chunk texts the pipeline embeds: the same walk, loaders and chunker, in order.

    The chunker is a twin of the ingestor's (same settings and embedder), not the ingestor's
    own, so nothing it might cache makes the timed run faster.
    """
    from ragline.rag.ingest import Ingestor
    from ragline.rag.ingest.pipeline import prepare
    from ragline.rag.loaders import Candidate, walk

    twin = Ingestor(
        ingestor.settings, ingestor.embedder, ingestor.sparse, ingestor.store, ingestor.manifest
    )
    chunker, config = twin.chunker(), ingestor.settings.ingest
    texts: list[str] = []
    for item in walk(corpus, config.include, config.exclude):
        if isinstance(item, Candidate):
            prepared = prepare((item, config.jsonl_text_field), chunker)
            if not isinstance(prepared, str):
                texts.extend(chunk.text for chunk in prepared[1])
    return texts


def bare_encode(model: Any, texts: list[str], settings: Any, label: str) -> float:
    """Seconds for the model's own `encode` of `texts`, as the embedder calls it."""
    log(f"{label}: model.encode on the {len(texts)} chunk texts ...")
    started = time.perf_counter()
    model.encode(
        texts,
        batch_size=settings.embedding.batch_size,
        normalize_embeddings=settings.embedding.normalize,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    seconds = time.perf_counter() - started
    log(f"{label}: {len(texts)} chunks in {seconds:.1f} s = {rate(len(texts), seconds):.1f}/s")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--modules",
        type=int,
        default=30,
        help="stdlib modules in the corpus (1-88; 30: ~1.8k chunks)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[2])

    from ragline.serving.wiring import Accounting, build_ingestor, build_store

    with workdir("ingest", args.keep) as tmp, Accounting(bench_settings(tmp / "data")) as costs:
        corpus = write_corpus(tmp / "corpus", args.modules)
        settings = bench_settings(tmp / "data")
        # metered, as `ragline ingest` builds it: cost events for every embedding and upsert
        store = build_store(settings, costs=costs)
        ingestor = build_ingestor(settings, store, costs=costs)
        embedder = ingestor.embedder.inner  # the SentenceTransformerEmbedder under the meter

        log("loading the embedding model and the chunker's tokenizer (not timed)")
        embedder.warm_up()
        ingestor.chunker()  # built once per run: loads tiktoken's and the model's tokenizers
        model = embedder.model
        started = time.perf_counter()
        texts = chunk_texts(ingestor, corpus)
        chunk_s = time.perf_counter() - started
        log(f"cutting the corpus into {len(texts)} chunks took {chunk_s:.1f} s (not timed here)")
        model.encode(texts[:WARM_UP_TEXTS], batch_size=settings.embedding.batch_size)
        log(f"model loaded in {embedder.load_seconds:.1f} s; warm-up encode done")

        # bare, pipeline, bare: the mean of the two bare passes cancels a steady drift in load
        before_s = bare_encode(model, texts, settings, "baseline 1/2")
        log("pipeline: Ingestor.run on the corpus ...")
        report = ingestor.run([corpus])
        pipe_chunks, pipe_s = report.chunks_written, report.seconds
        log(
            f"pipeline: {pipe_chunks} chunks in {pipe_s:.1f} s = {rate(pipe_chunks, pipe_s):.1f}/s "
            f"(embedding {report.embed_seconds:.1f} s, "
            f"everything else {pipe_s - report.embed_seconds:.1f} s)"
        )
        store.close()
        ingestor.manifest.close()
        if report.skipped or pipe_chunks != len(texts):
            raise SystemExit(f"the pipeline wrote {pipe_chunks} chunks, skipped {report.skipped}")
        after_s = bare_encode(model, texts, settings, "baseline 2/2")

    bare_s = (before_s + after_s) / 2
    pipe_rate, bare_rate = rate(pipe_chunks, pipe_s), rate(len(texts), bare_s)
    ratio = pipe_rate / bare_rate
    rows = [
        ("bare model.encode, before", before_s),
        ("pipeline (Ingestor.run)", pipe_s),
        ("bare model.encode, after", after_s),
        ("bare model.encode, mean", bare_s),
    ]
    print()
    print(f"{'side':<28} {'chunks':>7} {'seconds':>8} {'chunks/s':>9}")
    for name, seconds in rows:
        print(f"{name:<28} {len(texts):>7} {seconds:>8.1f} {rate(len(texts), seconds):>9.1f}")
    print(f"ratio pipeline / bare encode (mean): {ratio:.3f} (target >= {TARGET_RATIO})")
    figure(
        "ingest_chunks_per_s",
        pipe_rate,
        target=f"ratio>={TARGET_RATIO}",
        baseline=f"encode_chunks_per_s={bare_rate:.4g}",
        ratio=ratio,
        extra={"chunks": str(pipe_chunks), "modules": str(args.modules)},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
