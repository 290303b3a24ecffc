from __future__ import annotations

import math
import random

import pytest
import pytrec_eval
from hypothesis import given, settings
from hypothesis import strategies as st

from ragline.evals.metrics.retrieval import (
    average_precision,
    evaluate_run,
    first_occurrences,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    rank_from_scores,
    recall_at_k,
    reciprocal_rank,
)

pytestmark = pytest.mark.unit

GRADED = {"d1": 3, "d2": 2, "d3": 0, "d4": 1}
GRADED_RANKING = ["d3", "d1", "d5", "d4", "d2"]


def test_graded_ndcg_by_hand() -> None:
    # DCG@5  = 0/log2(2) + 3/log2(3) + 0/log2(4) + 1/log2(5) + 2/log2(6)
    #        = 0 + 1.892789 + 0 + 0.430677 + 0.773706 = 3.097172
    # IDCG@5 = 3/log2(2) + 2/log2(3) + 1/log2(4) = 3 + 1.261860 + 0.5 = 4.761860
    # nDCG@5 = 3.097172 / 4.761860 = 0.650412
    expected5 = (3 / math.log2(3) + 1 / math.log2(5) + 2 / math.log2(6)) / (
        3 + 2 / math.log2(3) + 1 / 2
    )
    assert expected5 == pytest.approx(0.650412, abs=1e-6)
    assert ndcg_at_k(GRADED_RANKING, GRADED, 5) == pytest.approx(expected5, abs=1e-12)
    # nDCG@3 = (3/log2(3)) / 4.761860 = 1.892789 / 4.761860 = 0.397489 (ideal top 3 is 3,2,1)
    assert ndcg_at_k(GRADED_RANKING, GRADED, 3) == pytest.approx(0.397489, abs=1e-6)
    # nDCG@1 = 0 / 3
    assert ndcg_at_k(GRADED_RANKING, GRADED, 1) == 0.0
    assert ndcg_at_k(["d1", "d2", "d4"], GRADED, 3) == pytest.approx(1.0)


def test_map_counts_relevant_docs_never_retrieved() -> None:
    rels = {"a": 1, "b": 1, "c": 1, "d": 0}
    ranking = ["a", "x", "b", "d"]
    # relevant at ranks 1 and 3: precisions 1/1 and 2/3; "c" is never retrieved and counts 0
    # AP = (1 + 2/3) / 3 = 5/9
    assert average_precision(ranking, rels) == pytest.approx(5 / 9, abs=1e-12)
    assert reciprocal_rank(ranking, rels) == 1.0
    assert recall_at_k(ranking, rels, 2) == pytest.approx(1 / 3)  # a of {a, b, c}
    assert precision_at_k(ranking, rels, 2) == 0.5  # a, x
    assert precision_at_k(ranking, rels, 10) == pytest.approx(2 / 10)  # divides by k, like P_10
    assert hit_at_k(ranking, rels, 1) == 1.0


def test_reciprocal_rank_with_and_without_cut() -> None:
    rels = {"b": 2}
    ranking = ["x", "y", "b"]
    assert reciprocal_rank(ranking, rels) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranking, rels, k=3) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranking, rels, k=2) == 0.0
    assert hit_at_k(ranking, rels, 2) == 0.0


def test_empty_ranking_scores_zero_not_unmeasured() -> None:
    rels = {"a": 1}
    assert recall_at_k([], rels, 5) == 0.0
    assert average_precision([], rels) == 0.0
    assert reciprocal_rank([], rels) == 0.0
    assert ndcg_at_k([], rels, 5) == 0.0
    assert precision_at_k([], rels, 5) == 0.0
    assert hit_at_k([], rels, 5) == 0.0


def test_query_without_relevant_docs_is_unmeasured() -> None:
    rels = {"a": 0, "b": -1}
    ranking = ["a", "b"]
    assert recall_at_k(ranking, rels, 2) is None
    assert average_precision(ranking, rels) is None
    assert reciprocal_rank(ranking, rels) is None
    assert ndcg_at_k(ranking, rels, 2) is None
    # precision and hit are still defined: nothing relevant was retrieved
    assert precision_at_k(ranking, rels, 2) == 0.0
    assert hit_at_k(ranking, rels, 2) == 0.0


def test_negative_grades_give_no_gain() -> None:
    # like trec_eval: b (-1) contributes 0, not -1. DCG@3 = 2/log2(4) = 1
    # IDCG@3 = 2 + 1/log2(3) = 2.630930 -> nDCG = 0.380094 (pytrec_eval gives 0.38009376671593426)
    rels = {"a": 2, "b": -1, "c": 1}
    assert ndcg_at_k(["b", "x", "a"], rels, 3) == pytest.approx(0.38009376671593426, abs=1e-12)


def test_duplicates_are_refused_and_first_occurrences_collapses_them() -> None:
    with pytest.raises(ValueError, match=r"'a' appears twice.*first_occurrences"):
        average_precision(["a", "b", "a"], {"a": 1})
    with pytest.raises(ValueError, match="for query 'q1'"):
        evaluate_run({"q1": ["a", "a"]}, {"q1": {"a": 1}})
    assert first_occurrences(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]


def test_bad_k_is_refused() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        precision_at_k(["a"], {"a": 1}, 0)
    with pytest.raises(ValueError, match="ks is empty"):
        evaluate_run({}, {}, ks=())


def test_rank_from_scores_breaks_ties_by_doc_id_descending() -> None:
    assert rank_from_scores({"a": 1.0, "b": 2.0, "c": 1.0, "d10": 1.0}) == ["b", "d10", "c", "a"]
    with pytest.raises(ValueError, match="finite score"):
        rank_from_scores({"a": float("nan")})


def test_evaluate_run_counts_unmeasured_missing_and_unjudged_queries() -> None:
    run = {"q1": ["a", "x", "b", "d"], "q2": ["z"], "q9": ["a"]}
    qrels = {"q1": {"a": 1, "b": 1, "c": 1, "d": 0}, "q2": {"z": 0}, "q3": {"m": 2}}
    report = evaluate_run(run, qrels, ks=(2, 10))
    assert report.query_ids == ("q1", "q2", "q3")
    assert report.missing_from_run == ("q3",)
    assert report.not_in_qrels == ("q9",)
    # q1 AP = 5/9 (above), q2 unmeasured (no relevant docs), q3 empty ranking -> 0
    assert report.per_query("map") == [pytest.approx(5 / 9), None, 0.0]
    agg = report.aggregates["map"]
    assert (agg.measured, agg.unmeasured) == (2, 1)
    assert agg.value == pytest.approx((5 / 9 + 0) / 2)
    # precision is measured everywhere: (1/2 + 0 + 0) / 3
    assert report.aggregates["precision@2"].value == pytest.approx(1 / 6)
    assert report.aggregates["precision@2"].unmeasured == 0
    assert report.aggregates["mrr@2"].value == pytest.approx(0.5)
    with pytest.raises(KeyError, match="unknown metric"):
        report.per_query("ndcg@3")


def test_evaluate_run_with_nothing_measured_is_none_not_nan() -> None:
    report = evaluate_run({"q": ["a"]}, {"q": {"a": 0}}, ks=(1,))
    assert report.aggregates["ndcg@1"].value is None
    assert report.aggregates["hit@1"].value == 0.0
    empty = evaluate_run({}, {}, ks=(1,))
    assert empty.aggregates["map"].value is None
    assert empty.aggregates["map"].measured == 0


Scored = dict[str, dict[str, float]]
Judged = dict[str, dict[str, int]]


def _random_case(seed: int, n_queries: int) -> tuple[Scored, Judged]:
    rng = random.Random(seed)
    scored: Scored = {}
    qrels: Judged = {}
    for q in range(n_queries):
        docs = [f"d{i}" for i in range(40)]
        judged = rng.sample(docs, rng.randint(1, 15))
        # grades 0-3; about one query in ten has no relevant document at all
        top = 0 if rng.random() < 0.1 else 3
        qrels[f"q{q}"] = {d: rng.randint(0, top) for d in judged}
        retrieved = rng.sample(docs, rng.randint(1, 30))
        # scores drawn from a few values so ties are common
        scored[f"q{q}"] = {d: float(rng.randint(0, 5)) for d in retrieved}
    return scored, qrels


def test_matches_pytrec_eval_on_random_runs() -> None:
    scored, qrels = _random_case(seed=7, n_queries=200)
    measures = {"ndcg_cut.5,10", "map", "recip_rank", "recall.5,10", "P.5,10", "success.1,5"}
    trec = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(scored)
    run = {q: rank_from_scores(s) for q, s in scored.items()}
    report = evaluate_run(run, qrels, ks=(1, 5, 10))
    names = {
        "ndcg@10": "ndcg_cut_10",
        "ndcg@5": "ndcg_cut_5",
        "map": "map",
        "mrr": "recip_rank",
        "recall@10": "recall_10",
        "recall@5": "recall_5",
        "precision@10": "P_10",
        "precision@5": "P_5",
        "hit@1": "success_1",
        "hit@5": "success_5",
    }
    n_unmeasured = 0
    for ours, theirs in names.items():
        for qid, value in zip(report.query_ids, report.per_query(ours), strict=True):
            if value is None:  # trec_eval reports 0 for a query with no relevant documents
                assert not any(g >= 1 for g in qrels[qid].values())
                assert trec[qid][theirs] == 0.0
                n_unmeasured += 1
                continue
            assert value == pytest.approx(trec[qid][theirs], abs=1e-9), (ours, qid)
    assert n_unmeasured > 0  # the generator did produce unmeasured queries


@settings(max_examples=60, deadline=None)
@given(
    ranking=st.lists(st.sampled_from("abcdefghij"), unique=True, max_size=10),
    rels=st.dictionaries(st.sampled_from("abcdefghijkl"), st.integers(-1, 3), max_size=12),
    k=st.integers(1, 12),
)
def test_vectorised_path_equals_per_query_functions(
    ranking: list[str], rels: dict[str, int], k: int
) -> None:
    report = evaluate_run({"q": ranking}, {"q": rels}, ks=(k,))
    expected = {
        f"hit@{k}": hit_at_k(ranking, rels, k),
        f"precision@{k}": precision_at_k(ranking, rels, k),
        f"recall@{k}": recall_at_k(ranking, rels, k),
        f"ndcg@{k}": ndcg_at_k(ranking, rels, k),
        f"mrr@{k}": reciprocal_rank(ranking, rels, k),
        "mrr": reciprocal_rank(ranking, rels),
        "map": average_precision(ranking, rels),
    }
    for name, value in expected.items():
        got = report.per_query(name)[0]
        if value is None:
            assert got is None, name
        else:
            assert got == pytest.approx(value, abs=1e-12), name
