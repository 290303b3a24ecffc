"""The retrieval variants bench/retrieval_quality.py compares, each a document ranking per
query computed from the same two legs (fetched once per query, `DEPTH` deep).

    legs = fetch_legs(retriever, texts)                 # [(dense hits, sparse hits), ...]
    rankings = {name: [variant(d, s) for d, s in legs] for name, variant in VARIANTS.items()}

Every variant runs ragline's own code (`ragline.rag.fusion.fuse` and `by_document`), on each
leg cut to its first `depth` hits, so a row of the table is what that configuration would
return. `doc-leg` adds a third leg at document granularity: the cosine of the query with
each document's mean chunk vector (computed by the bench from the chunk vectors).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ragline.core.index import Hit
from ragline.rag.fusion import by_document, fuse

DEPTH = 100  # the deepest any variant reads a leg
K = 10

Legs = tuple[list[Hit], list[Hit]]


@dataclass(frozen=True, slots=True)
class Variant:
    """A fusion method with its options, reading `depth` hits of each leg."""

    method: str
    depth: int = 50
    rrf_k: int = 60
    weights: tuple[float, float] | None = None
    alpha: float = 0.5

    def __call__(self, dense: list[Hit], sparse: list[Hit]) -> list[str]:
        d, s = dense[: self.depth], sparse[: self.depth]
        if self.method == "dense":
            fused = d
        elif self.method == "sparse":
            fused = s
        else:
            fused = fuse(
                d,
                s,
                self.method,  # type: ignore[arg-type]
                rrf_k=self.rrf_k,
                weights=self.weights,
                alpha=self.alpha,
            )
        return doc_ids(by_document(fused, K))


def doc_ids(hits: Sequence[Hit]) -> list[str]:
    return [str(h.payload.get("source_document")) for h in hits]


VARIANTS: dict[str, Callable[[list[Hit], list[Hit]], list[str]]] = {
    "dense": Variant("dense", depth=DEPTH),
    "sparse": Variant("sparse", depth=DEPTH),
    "rrf60/50": Variant("rrf"),  # the old default
    "rrf60/10": Variant("rrf", depth=10),
    "rrf10/20": Variant("rrf", depth=20, rrf_k=10),
    "rrf60/50 w2:1": Variant("rrf", weights=(2.0, 1.0)),
    "dbsf/20": Variant("dbsf", depth=20),
    "dbsf/50": Variant("dbsf"),
    "dbsf/100": Variant("dbsf", depth=100),
    "convex.3/50": Variant("convex", alpha=0.3),
    "convex.5/50": Variant("convex", alpha=0.5),
    "convex.7/50": Variant("convex", alpha=0.7),
    "convex.6/50": Variant("convex", alpha=0.6),
    "convex.5/20": Variant("convex", depth=20),
    "convex.5/100": Variant("convex", depth=100),
    "convex.6/100": Variant("convex", depth=100, alpha=0.6),
    "adaptive/20": Variant("adaptive", depth=20),
    "adaptive/50": Variant("adaptive"),
    "adaptive/100": Variant("adaptive", depth=100),
}


def fetch_legs(retriever: object, texts: Sequence[str]) -> list[Legs]:
    """Each query's dense and sparse leg, `DEPTH` hits each (payload: source_document)."""
    from ragline.rag.retrieve import Retriever

    assert isinstance(retriever, Retriever)
    out: list[Legs] = []
    for start in range(0, len(texts), 64):
        batch = texts[start : start + 64]
        encoded = retriever.encode(
            batch, top_k=DEPTH, mode="hybrid", payload_keys=("source_document",)
        )
        for e in encoded:
            dense = retriever.store.query(e.dense) if e and e.dense else []
            sparse = retriever.store.query(e.sparse) if e and e.sparse else []
            out.append((dense, sparse))
    return out


def doc_leg(
    query_vectors: np.ndarray, chunk_docs: Sequence[str], chunk_vectors: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """The documents and, per query, its cosine with each document's mean chunk vector."""
    docs = sorted(set(chunk_docs))
    index = {d: i for i, d in enumerate(docs)}
    means = np.zeros((len(docs), chunk_vectors.shape[1]), dtype=np.float32)
    for doc, vector in zip(chunk_docs, chunk_vectors, strict=True):
        means[index[doc]] += vector
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    return docs, query_vectors @ means.T


def with_doc_leg(
    legs: Legs, docs: Sequence[str], doc_scores: np.ndarray, base: Variant
) -> list[str]:
    """`base` fused at document level with the document leg (DBSF over documents): each
    chunk leg becomes a document ranking (best chunk's score), the three are DBSF-fused."""
    dense, sparse = legs[0][: base.depth], legs[1][: base.depth]
    top = np.argsort(-doc_scores)[: base.depth]
    third = [Hit(docs[i], float(doc_scores[i]), {"source_document": docs[i]}) for i in top]
    first = fuse(_per_doc(dense), _per_doc(sparse), "dbsf")
    fused = fuse(first, third, "dbsf", weights=(2.0, 1.0))
    return doc_ids(fused[:K])


def dense_windows(
    query_windows: Sequence[np.ndarray], chunk_docs: Sequence[str], chunk_vectors: np.ndarray
) -> dict[str, list[list[str]]]:
    """Plain dense document rankings per long-query strategy, from each query's window
    vectors (row 0 = the first window): `first` (what a truncating model reads), `mean` (the
    normalised mean, ragline's), `max` (a chunk's best cosine over the windows)."""
    out: dict[str, list[list[str]]] = {"first": [], "mean": [], "max": []}
    for windows in query_windows:
        mean = windows.mean(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        sims = windows @ chunk_vectors.T
        for name, scores in (("first", sims[0]), ("mean", mean @ chunk_vectors.T),
                             ("max", sims.max(axis=0))):  # fmt: skip
            ranked = np.argsort(-scores, kind="stable")[:DEPTH]
            docs: list[str] = []
            for i in ranked:
                if chunk_docs[i] not in docs:
                    docs.append(chunk_docs[i])
                if len(docs) == K:
                    break
            out[name].append(docs)
    return out


def _per_doc(hits: Sequence[Hit]) -> list[Hit]:
    """A chunk ranking as a document ranking: each document once, at its best chunk."""
    best = by_document(hits, len(hits))
    return [Hit(str(h.payload.get("source_document")), h.score, h.payload) for h in best]
