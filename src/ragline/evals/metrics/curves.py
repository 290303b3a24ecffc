"""Curves for evaluation reports: interpolated precision-recall and top-hit calibration.

Pure functions on typed values; `ragline.evals.plots` draws what they return.

- `interpolated_pr` is trec_eval's ``iprec_at_recall``: per query, the highest precision at any
  rank at or below the rank where recall reaches each of 0.0, 0.1, ..., 1.0, then the mean over
  queries. Like trec_eval, a recall level is turned into a number of relevant documents with
  ``int(level * num_rel + 0.9)``, so small queries round up to whole documents.
- `top_hit_calibration` asks how well the top hit's retrieval score predicts that the top hit is
  relevant: scores are min-max scaled over the run to [0, 1] and binned like any probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ragline.evals.metrics.classical import ReliabilityCurve, ece, reliability_curve

RECALL_LEVELS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""trec_eval's 11 standard recall levels (literals, so ``level * num_rel`` rounds as in C)."""


@dataclass(frozen=True, slots=True)
class PrCurve:
    """Mean interpolated precision at each recall level, over ``queries`` judged queries.

    Example:
        >>> curve = interpolated_pr({"q1": ["a", "x", "b"]}, {"q1": {"a": 1, "b": 1}})
        >>> curve.recall[:2], curve.precision[:2], curve.queries
        ((0.0, 0.1), (1.0, 1.0), 1)
    """

    recall: tuple[float, ...]
    precision: tuple[float, ...]
    queries: int


def _check_ranking(ranking: Sequence[str], query_id: str) -> None:
    if len(set(ranking)) != len(ranking):
        raise ValueError(
            f"the ranking for query {query_id!r} names a document twice; collapse duplicates "
            "with ragline.evals.metrics.retrieval.first_occurrences first"
        )


def _query_iprec(ranking: Sequence[str], rels: Mapping[str, int], n_rel: int) -> list[float]:
    """trec_eval's iprec_at_recall for one query (``n_rel`` >= 1 relevant documents judged)."""
    flags = np.fromiter((rels.get(doc, 0) > 0 for doc in ranking), dtype=bool, count=len(ranking))
    hit_ranks = np.flatnonzero(flags)  # 0-based positions of the relevant documents retrieved
    if hit_ranks.size == 0:
        return [0.0] * len(RECALL_LEVELS)
    precision = np.cumsum(flags) / np.arange(1, flags.size + 1)
    best_from = np.maximum.accumulate(precision[::-1])[::-1]  # max precision at this rank or lower
    out = []
    for level in RECALL_LEVELS:
        needed = int(level * n_rel + 0.9)  # relevant documents needed to reach this recall
        if needed > hit_ranks.size:
            out.append(0.0)  # the run never reaches this recall
        else:
            out.append(float(best_from[hit_ranks[max(needed, 1) - 1]]))
    return out


def interpolated_pr(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    depth: int | None = None,
) -> PrCurve:
    """11-point interpolated precision-recall, averaged over queries with a relevant document.

    ``run[qid]`` is the ranked list of doc ids, best first, without duplicates; ``depth`` cuts every
    ranking to its first ``depth`` documents (trec_eval ``-M``). Relevant means grade > 0. A
    judged query missing from ``run`` scores 0 everywhere; run queries without qrels are ignored;
    queries with no relevant document are skipped. When no query is left the curve is
    unmeasured: ``queries`` is 0 (and precision all 0.0), so check ``queries`` before using it.

    Example:
        >>> curve = interpolated_pr({"q1": ["a", "x", "b"]}, {"q1": {"a": 1, "b": 1, "c": 0}})
        >>> [round(p, 3) for p in curve.precision]
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.667, 0.667, 0.667, 0.667, 0.667]
    """
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be a positive integer or None, got {depth!r}")
    per_query: list[list[float]] = []
    for qid, rels in qrels.items():
        n_rel = sum(1 for grade in rels.values() if grade > 0)
        if n_rel == 0:
            continue
        ranking = run.get(qid, ())
        _check_ranking(ranking, qid)
        per_query.append(_query_iprec(ranking[:depth], rels, n_rel))
    if not per_query:  # nothing to average: queries == 0 marks the curve as unmeasured
        return PrCurve(recall=RECALL_LEVELS, precision=(0.0,) * len(RECALL_LEVELS), queries=0)
    columns = zip(*per_query, strict=True)
    precision = tuple(math.fsum(column) / len(per_query) for column in columns)
    return PrCurve(recall=RECALL_LEVELS, precision=precision, queries=len(per_query))


def _min_max(scores: Sequence[float]) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"top_hit_calibration: scores must be a flat sequence, got {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("top_hit_calibration: scores have NaN or infinite values; drop them first")
    lo, hi = float(s.min()), float(s.max())
    if lo == hi:
        return np.full(s.shape, 0.5)  # no spread: the score says nothing either way
    span = hi - lo
    if not math.isfinite(span):
        raise ValueError("top_hit_calibration: scores span more than a float can hold; rescale")
    return np.clip((s - lo) / span, 0.0, 1.0)


def top_hit_calibration(
    scores: Sequence[float], relevant: Sequence[bool], bins: int = 10
) -> tuple[ReliabilityCurve, float | None]:
    """Reliability curve and ECE of the top hit's score as a predictor that it is relevant.

    ``scores[i]`` is query i's top-hit retrieval score (any scale: cosine, RRF, DBSF) and
    ``relevant[i]`` whether that hit is relevant. Scores are min-max scaled over the run to
    [0, 1] (all equal -> 0.5), then binned into ``bins`` equal-width bins. A low ECE means the
    scaled score can serve as an answer-confidence threshold.

    Example:
        >>> curve, error = top_hit_calibration([0.2, 0.9, 0.5], [False, True, True], bins=2)
        >>> curve.counts, curve.fraction_positive, round(error, 4)
        ((2, 1), (0.5, 1.0), 0.1905)
    """
    if len(scores) != len(relevant):
        raise ValueError(
            f"top_hit_calibration: {len(scores)} scores but {len(relevant)} relevance flags; "
            "give one of each per query"
        )
    if len(scores) == 0:
        raise ValueError("top_hit_calibration: no queries; calibration needs at least one top hit")
    prob = _min_max(scores)
    truth = np.asarray(relevant, dtype=bool).astype(np.int64)
    return reliability_curve(truth, prob, bins=bins), ece(truth, prob, bins=bins)
