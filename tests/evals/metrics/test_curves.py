"""Interpolated precision-recall (against trec_eval) and top-hit calibration."""

from __future__ import annotations

import doctest
import random

import pytest
import pytrec_eval

from ragline.evals.metrics import curves
from ragline.evals.metrics.curves import (
    RECALL_LEVELS,
    PrCurve,
    interpolated_pr,
    top_hit_calibration,
)
from ragline.evals.metrics.retrieval import rank_from_scores

pytestmark = pytest.mark.unit

TWO_THIRDS = 2 / 3


def test_rel_non_rel_with_two_relevant_by_hand() -> None:
    # precision at the relevant ranks: 1/1 (recall 0.5) and 2/3 (recall 1.0); trec_eval reaches
    # recall level r once int(r * 2 + 0.9) relevant docs are seen: 1 doc for r <= 0.5, 2 after
    curve = interpolated_pr({"q1": ["a", "x", "b"]}, {"q1": {"a": 1, "b": 2, "c": 0}})
    assert curve.recall == RECALL_LEVELS
    assert curve.precision == pytest.approx([1.0] * 6 + [TWO_THIRDS] * 5, abs=1e-12)
    assert curve.queries == 1


def test_interpolation_takes_the_best_precision_further_down() -> None:
    # ranks: non, rel, rel, non, rel; precision 0, 1/2, 2/3, 2/4, 3/5
    # recall 1/3 is reached at rank 2 (P = 0.5) but rank 3 does better (2/3): interpolated 2/3
    # levels 0.0-0.7 need <= 2 docs (int(0.7 * 3 + 0.9) is 2 in floating point): 2/3; then 3/5
    run = {"q": ["n1", "r1", "r2", "n2", "r3"]}
    qrels = {"q": {"r1": 1, "r2": 1, "r3": 3, "n1": 0}}
    assert interpolated_pr(run, qrels).precision == pytest.approx(
        [TWO_THIRDS] * 8 + [0.6] * 3, abs=1e-12
    )


def test_relevant_docs_never_retrieved_leave_high_recall_at_zero() -> None:
    # 3 relevant, 2 retrieved (ranks 2 and 4, P = 1/2 both): recall 1.0 is never reached
    curve = interpolated_pr({"q": ["x", "a", "y", "b"]}, {"q": {"a": 1, "b": 1, "c": 1}})
    assert curve.precision == pytest.approx([0.5] * 8 + [0.0] * 3, abs=1e-12)


def test_averaging_skips_unjudged_and_no_relevant_queries_and_zeros_missing_ones() -> None:
    run = {
        "perfect": ["a"],
        "no_rel": ["a"],
        "unjudged": ["a", "b"],  # not in qrels: ignored
    }
    qrels = {
        "perfect": {"a": 1},
        "no_rel": {"a": 0, "b": -1},  # no relevant document: skipped, as trec_eval's mean does
        "missing": {"a": 1},  # judged but not in the run: scores 0 at every level
    }
    curve = interpolated_pr(run, qrels)
    assert curve.queries == 2
    assert curve.precision == pytest.approx([0.5] * 11, abs=1e-12)


def test_depth_cuts_each_ranking() -> None:
    run = {"q": ["a", "x", "x2", "b"]}
    qrels = {"q": {"a": 1, "b": 1}}
    full = interpolated_pr(run, qrels)
    assert full.precision[-1] == pytest.approx(0.5)  # b at rank 4
    cut = interpolated_pr(run, qrels, depth=3)
    assert cut.precision == pytest.approx([1.0] * 6 + [0.0] * 5, abs=1e-12)


def test_bad_input_is_refused_with_a_fix() -> None:
    with pytest.raises(ValueError, match="first_occurrences"):
        interpolated_pr({"q": ["a", "b", "a"]}, {"q": {"a": 1}})
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        interpolated_pr({"q": ["a"]}, {"q": {"a": 1}}, depth=0)
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        interpolated_pr({"q": ["a"]}, {"q": {"a": 1}}, depth=True)


def test_no_query_with_a_relevant_document_gives_an_unmeasured_curve() -> None:
    for qrels in ({"q": {"a": 0}}, {}):
        curve = interpolated_pr({"q": ["a"]}, qrels)
        assert curve.queries == 0
        assert curve.recall == RECALL_LEVELS
        assert curve.precision == (0.0,) * 11


def test_pr_curve_is_frozen() -> None:
    curve = PrCurve(recall=(0.0,), precision=(1.0,), queries=1)
    with pytest.raises(AttributeError):
        curve.queries = 2  # type: ignore[misc]


Scored = dict[str, dict[str, float]]
Judged = dict[str, dict[str, int]]


def _random_case(seed: int, n_queries: int) -> tuple[Scored, Judged]:
    rng = random.Random(seed)
    scored: Scored = {}
    qrels: Judged = {}
    docs = [f"d{i}" for i in range(40)]
    for q in range(n_queries):
        judged = rng.sample(docs, rng.randint(1, 15))
        top = 0 if rng.random() < 0.1 else 3  # about one query in ten has nothing relevant
        qrels[f"q{q}"] = {d: rng.randint(-1, top) for d in judged}
        retrieved = rng.sample(docs, rng.randint(1, 30))
        scored[f"q{q}"] = {d: float(rng.randint(0, 5)) for d in retrieved}  # many ties
    return scored, qrels


def test_matches_pytrec_eval_iprec_at_recall() -> None:
    scored, qrels = _random_case(seed=11, n_queries=30)
    trec = pytrec_eval.RelevanceEvaluator(qrels, {"iprec_at_recall"}).evaluate(scored)
    run = {q: rank_from_scores(s) for q, s in scored.items()}
    keys = [f"iprec_at_recall_{level:.2f}" for level in RECALL_LEVELS]
    judged = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    assert 3 <= len(judged) < len(qrels)  # the seed gives queries both with and without relevant
    for qid in judged:  # per query, so an error cannot cancel out in the mean
        ours = interpolated_pr({qid: run[qid]}, {qid: qrels[qid]})
        assert ours.precision == pytest.approx([trec[qid][k] for k in keys], abs=1e-9), qid
    for qid in set(qrels) - set(judged):  # trec_eval gives 0 where we skip the query
        assert all(trec[qid][k] == 0.0 for k in keys)
    curve = interpolated_pr(run, qrels)
    assert curve.queries == len(judged)
    means = [sum(trec[q][k] for q in judged) / len(judged) for k in keys]
    assert curve.precision == pytest.approx(means, abs=1e-9)
    assert len(set(curve.precision)) > 3  # a curve with real shape, not a constant


def test_calibration_known_bins() -> None:
    # min-max: (-2, 0, 2, 6) -> (0, 0.25, 0.5, 1); bins (0, .25], (.25, .5], (.5, .75], (.75, 1]
    curve, error = top_hit_calibration([-2.0, 0.0, 2.0, 6.0], [False, False, True, True], bins=4)
    assert curve.bin_edges == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert curve.counts == (2, 1, 0, 1)
    assert curve.mean_predicted == (0.125, 0.5, None, 1.0)
    assert curve.fraction_positive == (0.0, 1.0, None, 1.0)
    # ECE = (|0.25 - 0| + |0.5 - 1| + |1 - 1|) / 4 = 0.1875
    assert error == pytest.approx(0.1875, abs=1e-12)


def test_calibration_is_scale_free() -> None:
    cosine = [0.31, 0.62, 0.48, 0.9, 0.12, 0.77]
    relevant = [False, True, False, True, False, True]
    base = top_hit_calibration(cosine, relevant, bins=5)
    shifted = top_hit_calibration([10 + 100 * s for s in cosine], relevant, bins=5)
    assert shifted[0].counts == base[0].counts
    assert shifted[1] == pytest.approx(base[1], abs=1e-12)


def test_equal_scores_all_map_to_one_half() -> None:
    curve, error = top_hit_calibration([0.016, 0.016, 0.016, 0.016], [True, False, False, False])
    assert curve.counts[4] == 4 and sum(curve.counts) == 4  # 0.5 falls in (0.4, 0.5]
    assert curve.mean_predicted[4] == 0.5
    assert error == pytest.approx(0.25)  # |0.5 - 1/4|


def test_calibration_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="no queries"):
        top_hit_calibration([], [])
    with pytest.raises(ValueError, match="3 scores but 2 relevance flags"):
        top_hit_calibration([0.1, 0.2, 0.3], [True, False])
    with pytest.raises(ValueError, match="NaN"):
        top_hit_calibration([0.1, float("nan")], [True, False])
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        top_hit_calibration([0.1, 0.2], [True, False], bins=0)


def test_docstring_examples_hold() -> None:
    failed, attempted = doctest.testmod(curves, optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failed == 0
