"""Document embedding on CPU: torch fp32, ONNX Runtime fp32 and ONNX Runtime int8 (dynamic
quantization of MiniLM), their passages/s and nDCG@10 on the labelled sets, in one run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/onnx_int8.py [--set faq ...] [--max-docs 1000]

Three embedders, ragline's `SentenceTransformerEmbedder` with `embedding.document_backend`
torch, onnx (the shipped default) and onnx-int8 (`ragline.rag.embed.onnx_int8`: int8 weights,
per-channel scales, activations quantized on the fly), embed the same documents of every set
(one vector per document, its first 256 word-pieces), each after a warm-up that loads it (and
makes the int8 copy, whose one-time cost is reported apart). The order of the three rotates
from set to set, so a load change on the machine does not always hit the same one.
Throughput: documents / seconds of the `embed` call. Quality: the queries are embedded once,
by the default query path (fp32 ONNX, as in production: int8 is for documents only), and each
backend's document vectors are ranked by cosine (exact, numpy), nDCG@10 with one relevant
document per query (all queries of a set). Also the lowest and mean cosine of each backend's
document vectors to torch's.

The rule of the issue: onnx-int8 becomes the default only if its nDCG@10 is within 0.005 of
torch fp32 on every set AND its rate is at least 1.5x the current default's (onnx fp32).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from common import describe, figure, log
from vector_cost import SETS, K, labelled_set, ndcg

BACKENDS = ("torch", "onnx", "onnx-int8")
MAX_NDCG_LOSS = 0.005
MIN_SPEEDUP = 1.5
WARM_UP_DOCS = 16


@dataclass
class Tally:
    """One backend over the sets: seconds and documents embedded, nDCG@10 per set."""

    seconds: float = 0.0
    documents: int = 0
    ndcg: dict[str, float] = field(default_factory=dict)
    cosine_min: dict[str, float] = field(default_factory=dict)
    cosine_mean: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.documents / self.seconds if self.seconds > 0 else float("nan")


def embedders() -> dict[str, object]:
    """The three document backends, plus "queries": the default embedder for every query."""
    from ragline.rag.config import EmbeddingConfig
    from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder

    made: dict[str, object] = {
        name: SentenceTransformerEmbedder(EmbeddingConfig(document_backend=name))
        for name in BACKENDS
    }
    made["queries"] = SentenceTransformerEmbedder(EmbeddingConfig())
    return made


def warm_up(models: dict[str, object], texts: Sequence[str]) -> None:
    """Load every backend (and make the int8 copy) before anything is timed."""
    for name in BACKENDS:
        model = models[name]
        model.embed(list(texts), kind="document")  # type: ignore[attr-defined]
        actual = model.document_backend  # type: ignore[attr-defined]
        if actual != name:
            why = getattr(model, "int8_unavailable", None) or getattr(model, "onnx_unavailable", "")
            raise SystemExit(f"asked for {name} documents, got {actual}: {why}")
        log(f"{name}: loaded in {model.load_seconds:.1f} s")  # type: ignore[attr-defined]


def ranked(docs: np.ndarray, queries: np.ndarray, ids: Sequence[str]) -> list[list[str]]:
    """The top `K` document ids of each query by cosine (rows are unit vectors)."""
    scores = queries @ docs.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    return [[ids[i] for i in row] for row in top]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def run_set(
    name: str, turn: int, models: dict[str, object], tallies: dict[str, Tally], cap: int
) -> None:
    """Embed one set's documents with every backend (rotated order) and score them."""
    docs, queries = labelled_set(name, cap)
    texts = [d.text for d in docs]
    ids = [d.doc_id for d in docs]
    asked = models["queries"].embed([q.text for q in queries], kind="query")  # type: ignore[attr-defined]
    order = BACKENDS[turn % 3 :] + BACKENDS[: turn % 3]
    vectors: dict[str, np.ndarray] = {}
    for backend in order:
        started = time.perf_counter()
        vectors[backend] = models[backend].embed(texts, kind="document")  # type: ignore[attr-defined]
        seconds = time.perf_counter() - started
        tally = tallies[backend]
        tally.seconds += seconds
        tally.documents += len(texts)
        rate = len(texts) / seconds
        log(f"set {name}: {backend} {len(texts)} documents in {seconds:.1f} s ({rate:.1f}/s)")
    for backend in BACKENDS:
        rankings = ranked(vectors[backend], asked, ids)
        tally = tallies[backend]
        tally.ndcg[name] = float(
            np.mean([ndcg(r, q.relevant) for r, q in zip(rankings, queries, strict=True)])
        )
        near = cosines(vectors[backend], vectors["torch"])
        tally.cosine_min[name], tally.cosine_mean[name] = float(near.min()), float(near.mean())


def report(tallies: dict[str, Tally], sets: Sequence[str]) -> None:
    """The Markdown table, the default decision, and the FIGURE line."""
    torch, onnx, int8 = (tallies[b] for b in BACKENDS)
    print()
    head = " | ".join(f"nDCG@10 {s}" for s in sets)
    print(
        f"| document backend | passages/s | vs torch | vs onnx fp32 | {head} | "
        "lowest / mean cosine to torch |"
    )
    print("|---" * (len(sets) + 5) + "|")
    for backend in BACKENDS:
        tally = tallies[backend]
        cells = " | ".join(f"{tally.ndcg[s]:.3f}" for s in sets)
        low = min(tally.cosine_min.values())
        mean = float(np.mean(list(tally.cosine_mean.values())))
        print(
            f"| {backend} | {tally.rate:.1f} | {tally.rate / torch.rate:.2f}x | "
            f"{tally.rate / onnx.rate:.2f}x | {cells} | {low:.4f} / {mean:.4f} |"
        )
    # A loss is torch's nDCG@10 less int8's: a gain (negative loss) never fails the rule.
    losses = {s: torch.ndcg[s] - int8.ndcg[s] for s in sets}
    speedup = int8.rate / onnx.rate
    quality = all(loss <= MAX_NDCG_LOSS for loss in losses.values())
    fast = speedup >= MIN_SPEEDUP
    print()
    print(
        "int8 nDCG@10 loss vs torch fp32 (torch - int8): "
        + ", ".join(f"{s} {loss:+.4f}" for s, loss in losses.items())
        + f" (<= {MAX_NDCG_LOSS} on every set: {'yes' if quality else 'no'}); "
        f"rate vs onnx fp32 (the current default): {speedup:.2f}x (>= {MIN_SPEEDUP}: "
        f"{'yes' if fast else 'no'}) -> default: "
        + ("onnx-int8" if quality and fast else "onnx (unchanged)")
    )
    figure(
        "onnx_int8_speedup",
        speedup,
        target=f">={MIN_SPEEDUP} with nDCG@10 loss <= {MAX_NDCG_LOSS} on every set",
        baseline="onnx fp32 same run",
        ratio=speedup,
        extra={
            "int8_per_s": f"{int8.rate:.1f}",
            "onnx_per_s": f"{onnx.rate:.1f}",
            "torch_per_s": f"{torch.rate:.1f}",
            "vs_torch": f"{int8.rate / torch.rate:.3f}",
            "max_ndcg_loss": f"{max(losses.values()):.4f}",
            "quality_holds": str(quality).lower(),
        },
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=SETS, help="repeatable; default all")
    parser.add_argument("--max-docs", type=int, default=1000, help="documents per set, at most")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[2])
    names = args.set or list(SETS)
    models = embedders()
    first, _ = labelled_set(names[0], args.max_docs)
    warm_up(models, [d.text for d in first[:WARM_UP_DOCS]])
    tallies = {b: Tally() for b in BACKENDS}
    for turn, name in enumerate(names):
        run_set(name, turn, models, tallies, args.max_docs)
    report(tallies, names)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
