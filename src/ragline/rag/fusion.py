"""Fusing a dense and a sparse ranking into one, and cutting a chunk ranking to documents.

    fused = fuse(dense_hits, sparse_hits, "dbsf")
    best = by_document(fused, k=10, per_document=1)      # 10 distinct documents

Every method sees each leg's hits (best first, with the leg's own scores) and returns the
union, best first, equal scores ordered by id:

- `rrf`: sum over legs of weight / (k + rank), rank from 1. It sees ranks only, so a weak
  leg's guesses pull as hard as a strong leg's confident first hit.
- `dbsf`: Qdrant's distribution-based score fusion: each leg's scores mapped through
  (s - (mean - 3 std)) / (6 std), then summed (a hit missing from a leg adds 0).
- `convex`: each leg min-max scaled to 0..1, then `alpha` * dense + (1 - alpha) * sparse.
- `adaptive`: `dbsf`, each leg weighted by how far its best score stands above the rest of
  its list (the top score's z-score over the leg): a leg that cannot tell its hits apart
  (BM25 on a question worded unlike its answer) counts for little, a leg with a clear
  winner (BM25 on a long query that shares the answer's rare words) counts for more.

The retrieval benchmark (bench/retrieval_quality.py, docs/benchmarks.md section 4) measured
them all on every labelled set; `RetrievalConfig.fusion` says which one is the default.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Literal

from ragline.core.index import Hit

ClientFusion = Literal["rrf", "dbsf", "convex", "adaptive"]
FUSIONS: tuple[ClientFusion, ...] = ("rrf", "dbsf", "convex", "adaptive")


def fuse(
    dense: Sequence[Hit],
    sparse: Sequence[Hit],
    method: ClientFusion,
    *,
    rrf_k: int = 60,
    weights: tuple[float, float] | None = None,
    alpha: float = 0.5,
) -> list[Hit]:
    """One ranking from the two legs; `weights` are (dense, sparse) for rrf, dbsf and
    adaptive (multiplied into each leg's share), `alpha` the dense share for convex."""
    w_dense, w_sparse = weights or (1.0, 1.0)
    if method == "rrf":
        legs = [_rrf(dense, rrf_k), _rrf(sparse, rrf_k)]
    elif method == "dbsf":
        legs = [_dbsf(dense), _dbsf(sparse)]
    elif method == "convex":
        legs = [_minmax(dense), _minmax(sparse)]
        w_dense, w_sparse = alpha, 1.0 - alpha
    elif method == "adaptive":
        legs = [_dbsf(dense), _dbsf(sparse)]
        w_dense *= confidence(dense)
        w_sparse *= confidence(sparse)
    else:
        raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}; got {method!r}")
    payloads = {h.id: h.payload for h in (*sparse, *dense)}
    total: dict[str, float] = {}
    for weight, leg in zip((w_dense, w_sparse), legs, strict=True):
        for point, score in leg.items():
            total[point] = total.get(point, 0.0) + weight * score
    hits = [Hit(point, score, payloads[point]) for point, score in total.items()]
    return sorted(hits, key=lambda h: (-h.score, h.id))


def confidence(leg: Sequence[Hit]) -> float:
    """How clearly a leg's first hit beats the rest: the top score's z-score over the leg's
    scores (0 for a leg of fewer than 3 hits or no spread), capped at 10."""
    scores = [h.score for h in leg]
    if len(scores) < 3:
        return 1.0 if scores else 0.0
    spread = statistics.pstdev(scores)
    if spread <= 0:
        return 0.0
    return min(10.0, max(0.0, (max(scores) - statistics.fmean(scores)) / spread))


def by_document(hits: Sequence[Hit], k: int, per_document: int | None = 1) -> list[Hit]:
    """The first `k` hits keeping at most `per_document` chunks of one `source_document`
    (None: no limit); a hit without one counts as its own document."""
    if per_document is None:
        return list(hits[:k])
    seen: dict[object, int] = {}
    kept: list[Hit] = []
    for hit in hits:
        doc = hit.payload.get("source_document", hit.id)
        if seen.get(doc, 0) >= per_document:
            continue
        seen[doc] = seen.get(doc, 0) + 1
        kept.append(hit)
        if len(kept) == k:
            break
    return kept


def documents(hits: Sequence[Hit]) -> int:
    """How many distinct `source_document` values `hits` hold."""
    return len({h.payload.get("source_document", h.id) for h in hits})


def _rrf(leg: Sequence[Hit], k: int) -> dict[str, float]:
    return {h.id: 1.0 / (k + rank) for rank, h in enumerate(leg, start=1)}


def _dbsf(leg: Sequence[Hit]) -> dict[str, float]:
    scores = [h.score for h in leg]
    if not scores:
        return {}
    mean = statistics.fmean(scores)
    spread = statistics.pstdev(scores)
    if spread <= 0:
        return {h.id: 0.5 for h in leg}
    low, width = mean - 3 * spread, 6 * spread
    return {h.id: (h.score - low) / width for h in leg}


def _minmax(leg: Sequence[Hit]) -> dict[str, float]:
    if not leg:
        return {}
    high = max(h.score for h in leg)
    low = min(h.score for h in leg)
    if high <= low:
        return {h.id: 1.0 for h in leg}
    return {h.id: (h.score - low) / (high - low) for h in leg}
