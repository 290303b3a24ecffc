"""Document embedding: bare sentence-transformers `encode` vs ragline's document path, one run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/gpu_embed.py                    # GPU if torch sees one
    HF_HUB_OFFLINE=1 .venv/bin/python bench/gpu_embed.py --device cpu --passages 400

Passages: chunks of the stdlib pydoc corpus (scripts/stdlib_corpus.py), cut by ragline's chunker
to what the embedder reads (MiniLM: at most 256 word-pieces), repeated in order
up to `--passages`. Both sides embed the very same list on the same device:
- bare: `SentenceTransformer(model, device=D).encode(passages, batch_size=B)`, fp32 weights
  (the library's default), B = `--bare-batch-size` (default: ragline's batch size for D);
- ragline: `SentenceTransformerEmbedder(EmbeddingConfig(device=D)).embed(passages)`, normalised
  float32 rows, in calls of `--call-size` passages (ingest's `embed_batch`; 0: one call). On a
  GPU: torch, fp16, length-sorted batches of `gpu_batch_size`, the tokenizer worker; on CPU:
  the checked ONNX export (`document_backend: onnx`, the default).
Excluded: imports, model loads, the corpus, and an untimed warm-up of 256 passages per side.
Each side runs twice, alternating (bare, ragline, bare, ragline); the figure is the mean rate.
Targets (issue 19, MiniLM, one H100/H200): ragline >= 8,000 passages/s and >= 2.5x bare.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from common import describe, figure, log, rate, workdir, write_corpus

TARGET_RATE = 8000.0
TARGET_RATIO = 2.5
WARM_UP = 256


def corpus_passages(count: int, modules: int, embedder: Any) -> list[str]:
    """`count` chunk texts of the stdlib corpus, cut to the embedder's window, cycled."""
    from ragline.rag.chunking import Chunker
    from ragline.rag.config import ChunkingConfig

    chunker = Chunker(ChunkingConfig(), window=embedder.window())
    with workdir("gpu-embed") as tmp:
        folder = write_corpus(tmp / "corpus", modules=modules)
        unique = [c for f in sorted(folder.glob("*.txt")) for c in chunker.split(f.read_text())]
    log(f"{len(unique)} distinct chunks; {count} passages (cycled)")
    return [unique[i % len(unique)] for i in range(count)]


def timed(label: str, fn: Any, count: int) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - started
    log(f"{label}: {count} passages in {seconds:.2f} s = {rate(count, seconds):,.0f} passages/s")
    return rate(count, seconds), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--passages", type=int, default=0, help="0: 20,000 on a GPU, 400 on CPU")
    parser.add_argument("--modules", type=int, default=88, help="stdlib modules in the corpus")
    parser.add_argument(
        "--bare-batch-size", type=int, default=0, help="0: ragline's for the device"
    )
    parser.add_argument("--call-size", type=int, default=0, help="passages per embed() call")
    parser.add_argument("--document-backend", default="onnx", choices=["onnx", "torch"])
    args = parser.parse_args()

    describe(__doc__.splitlines()[0])
    from ragline.rag.config import EmbeddingConfig
    from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder, resolve_model

    config = EmbeddingConfig(device=args.device, document_backend=args.document_backend)
    embedder = SentenceTransformerEmbedder(config)
    plan = embedder.device_plan
    log(f"device {plan.device}, ragline plan {plan}")
    model = embedder.model
    count = args.passages or (20_000 if plan.on_gpu else 400)
    passages = corpus_passages(count, args.modules, embedder)

    from sentence_transformers import SentenceTransformer

    bare_model = SentenceTransformer(resolve_model(embedder.config.model), device=plan.device)
    bare_batch = args.bare_batch_size or plan.batch_size
    call = args.call_size or len(passages)

    def bare() -> Any:
        return bare_model.encode(passages, batch_size=bare_batch, show_progress_bar=False)

    def ours() -> Any:
        parts = [embedder.embed(passages[i : i + call]) for i in range(0, len(passages), call)]
        return np.concatenate(parts)

    bare_model.encode(passages[:WARM_UP], batch_size=bare_batch, show_progress_bar=False)
    embedder.embed(passages[:WARM_UP])
    log(f"ragline embeds documents on {embedder.document_backend} ({plan.device})")
    bare_rates, our_rates = [], []
    for round_ in (1, 2):
        bare_rate, expected = timed(f"bare encode (batch {bare_batch}) #{round_}", bare, count)
        our_rate, got = timed(f"ragline embed #{round_}", ours, count)
        bare_rates.append(bare_rate)
        our_rates.append(our_rate)
    expected = np.asarray(expected, dtype=np.float32)
    norms = np.linalg.norm(expected, axis=1) * np.linalg.norm(got, axis=1)
    cosine = float(np.min((expected * got).sum(axis=1) / np.maximum(norms, 1e-12)))
    ours_mean, bare_mean = float(np.mean(our_rates)), float(np.mean(bare_rates))
    dtype = next(model.parameters()).dtype
    log(f"lowest cosine ragline vs bare: {cosine:.6f}; ragline's weights: {dtype}")
    figure(
        "gpu_embed_passages_per_s",
        ours_mean,
        target=f">={TARGET_RATE:.0f}/s,>={TARGET_RATIO}x(GPU)",
        baseline=f"bare_encode={bare_mean:.4g}/s",
        ratio=ours_mean / bare_mean,
        extra={
            "device": plan.device,
            "precision": plan.precision,
            "batch": str(plan.batch_size),
            "bare_batch": str(bare_batch),
            "passages": str(count),
            "documents_on": embedder.document_backend,
            "min_cosine": f"{cosine:.6f}",
        },
    )


if __name__ == "__main__":
    main()
