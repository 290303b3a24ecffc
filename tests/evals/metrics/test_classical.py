from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import f1_score

from ragline.evals.metrics.classical import (
    Strategy,
    accuracy,
    ece,
    f1,
    macro_f1,
    mae,
    pr_auc,
    ranking_by_group,
    ranking_ndcg,
    ranking_precision,
    reliability_curve,
    rmse,
    roc_auc,
)

pytestmark = pytest.mark.unit

Y_TRUE = [1, 0, 1, 1, 0]
Y_PRED = [1, 1, 0, 1, 0]


def test_accuracy() -> None:
    assert accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == 0.5  # 2 of 4 match
    assert accuracy([], []) is None


def test_binary_f1_by_hand() -> None:
    # pos 1: TP = 2 (items 0, 3), FP = 1 (item 1), FN = 1 (item 2) -> 2*2 / (2*2 + 1 + 1) = 4/6
    assert f1(Y_TRUE, Y_PRED) == pytest.approx(2 / 3)
    # pos 0: TP = 1 (item 4), FP = 1 (item 2), FN = 1 (item 1) -> 2 / (2 + 1 + 1) = 0.5
    assert f1(Y_TRUE, Y_PRED, pos_label=0) == pytest.approx(0.5)
    assert f1(["spam", "ham"], ["spam", "spam"], pos_label="spam") == pytest.approx(2 / 3)


def test_f1_undefined_or_zero_without_warnings() -> None:
    assert f1([0, 0], [0, 0]) is None  # no positives anywhere: 0/0
    assert f1([1, 0], [0, 0]) == 0.0  # positives exist but none predicted: 0 / (0 + 0 + 1)
    assert f1([], []) is None


def test_macro_f1_by_hand() -> None:
    # (2/3 + 1/2) / 2 from the binary case above
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx((2 / 3 + 0.5) / 2)
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro"))
    # a: 2*1/(2+0+1) = 2/3; b: 2*1/(2+1+0) = 2/3; c: 0/(0+1+1) = 0 -> 4/9
    assert macro_f1(["a", "b", "c", "a"], ["a", "b", "b", "c"]) == pytest.approx(4 / 9)
    # a label absent from both inputs has no F1 and is left out, not counted as 0
    assert macro_f1(Y_TRUE, Y_PRED, labels=[0, 1, 2]) == pytest.approx((2 / 3 + 0.5) / 2)
    assert macro_f1([], []) is None


def test_roc_auc_and_pr_auc_by_hand() -> None:
    y, s = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    # positive/negative pairs ranked correctly: (.35>.1), (.8>.1), (.8>.4); wrong: (.35<.4) -> 3/4
    assert roc_auc(y, s) == pytest.approx(0.75)
    # by score: .8 (pos) P=1 R=.5; .4 (neg); .35 (pos) P=2/3 R=1 -> AP = .5*1 + .5*2/3 = 5/6
    assert pr_auc(y, s) == pytest.approx(5 / 6)
    assert roc_auc(["n", "n", "y", "y"], s, pos_label="y") == pytest.approx(0.75)


@pytest.mark.parametrize("y", [[1, 1, 1], [0, 0, 0], []])
def test_auc_with_one_class_is_unmeasured(y: list[int]) -> None:
    s = [0.2, 0.5, 0.9][: len(y)]
    assert roc_auc(y, s) is None
    assert pr_auc(y, s) is None


def test_regression_errors_by_hand() -> None:
    t, p = [3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]
    assert mae(t, p) == pytest.approx((0.5 + 0.5 + 0 + 1) / 4)
    assert rmse(t, p) == pytest.approx(math.sqrt((0.25 + 0.25 + 0 + 1) / 4))
    assert mae([], []) is None
    assert rmse([], []) is None
    with pytest.raises(ValueError, match="NaN"):
        mae([1.0], [float("nan")])
    with pytest.raises(ValueError, match="equal length"):
        rmse([1.0, 2.0], [1.0])


def test_ranking_ndcg_by_hand() -> None:
    rel, score = [3, 2, 0, 1], [0.1, 0.9, 0.5, 0.3]
    # by score the gains are 2, 0, 1, 3
    # DCG@4 = 2/1 + 0 + 1/log2(4) + 3/log2(5) = 2 + 0.5 + 1.292030 = 3.792030
    # IDCG@4 = 3/1 + 2/log2(3) + 1/log2(4) = 3 + 1.261860 + 0.5 = 4.761860 -> 0.796334
    expected = (2 + 0.5 + 3 / math.log2(5)) / (3 + 2 / math.log2(3) + 0.5)
    assert expected == pytest.approx(0.796334, abs=1e-6)
    assert ranking_ndcg(rel, score, k=4) == pytest.approx(expected)
    # @2: DCG = 2, IDCG = 3 + 1.261860 -> 0.469278
    assert ranking_ndcg(rel, score, k=2) == pytest.approx(2 / (3 + 2 / math.log2(3)))
    # tied scores share their gains: two items tied for rank 1, gains 1 and 0 -> 0.5 / 1
    assert ranking_ndcg([1, 0], [0.5, 0.5], k=1) == pytest.approx(0.5)
    assert ranking_ndcg([0, 0], [0.5, 0.1], k=2) is None
    assert ranking_ndcg([2], [0.3], k=5) == 1.0
    with pytest.raises(ValueError, match=">= 0"):
        ranking_ndcg([-1, 1], [0.1, 0.2], k=2)


def test_ranking_precision_by_hand() -> None:
    rel, score = [3, 2, 0, 1], [0.1, 0.9, 0.5, 0.3]
    assert ranking_precision(rel, score, k=2) == 0.5  # rel 2, 0
    assert ranking_precision(rel, score, k=3) == pytest.approx(2 / 3)  # rel 2, 0, 1
    assert ranking_precision(rel, score, k=3, threshold=2) == pytest.approx(1 / 3)
    assert ranking_precision(rel, score, k=10) == pytest.approx(3 / 10)  # divides by k
    assert ranking_precision([1, 0], [0.5, 0.5], k=1) == 1.0  # ties keep input order
    assert ranking_precision([], [], k=1) is None


def test_ranking_by_group() -> None:
    rel = [1, 0, 0, 1, 0, 0]
    score = [0.9, 0.1, 0.8, 0.2, 0.5, 0.4]
    groups = ["a", "a", "b", "b", "c", "c"]
    aggs = ranking_by_group(rel, score, groups, k=1)
    # a: top item relevant (1), b: not (0), c: nothing relevant -> ndcg unmeasured, precision 0
    assert aggs["ndcg@1"].value == pytest.approx(0.5)
    assert (aggs["ndcg@1"].measured, aggs["ndcg@1"].unmeasured) == (2, 1)
    assert aggs["precision@1"].value == pytest.approx(1 / 3)


def test_reliability_curve_and_ece_by_hand() -> None:
    y, p = [0, 0, 1, 1, 1], [0.1, 0.3, 0.35, 0.8, 0.9]
    curve = reliability_curve(y, p, bins=2)
    assert curve.bin_edges == (0.0, 0.5, 1.0)
    assert curve.counts == (3, 2)
    # bin 0: mean(.1, .3, .35) = .25, positives 1/3; bin 1: mean(.8, .9) = .85, positives 1
    assert curve.mean_predicted == pytest.approx((0.25, 0.85))
    assert curve.fraction_positive == pytest.approx((1 / 3, 1.0))
    # ECE = 3/5 * |.25 - 1/3| + 2/5 * |.85 - 1| = .05 + .06 = .11
    assert ece(y, p, bins=2) == pytest.approx(0.11)


def test_reliability_bins_edges_and_empty_bins() -> None:
    curve = reliability_curve([0, 1, 1], [0.0, 0.5, 1.0], bins=4)
    # bins are (lo, hi], the first also holds 0: 0.0 -> bin 0, 0.5 -> bin 1, 1.0 -> bin 3
    assert curve.counts == (1, 1, 0, 1)
    assert curve.mean_predicted[2] is None
    assert curve.fraction_positive == (0.0, 1.0, None, 1.0)
    assert ece([], [], bins=4) is None
    assert reliability_curve([], [], bins=2, strategy="quantile").counts == (0, 0)


def test_quantile_bins_by_hand() -> None:
    # median of .1 .2 .3 .4 is .25: bins [.1, .25] and (.25, .4]
    curve = reliability_curve([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], bins=2, strategy="quantile")
    assert curve.bin_edges == pytest.approx((0.1, 0.25, 0.4))
    assert curve.counts == (2, 2)
    # ECE = 2/4 * |.15 - 0| + 2/4 * |.35 - 1| = .075 + .325 = .4
    assert ece([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], bins=2, strategy="quantile") == pytest.approx(
        0.4
    )


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_curve_matches_sklearn(strategy: Strategy) -> None:
    rng = np.random.default_rng(3)
    p = rng.random(500)
    y = (rng.random(500) < p**2).astype(int)
    curve = reliability_curve(
        y, p, bins=10, strategy="uniform" if strategy == "uniform" else "quantile"
    )
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy=strategy)
    assert [f for f in curve.fraction_positive if f is not None] == pytest.approx(list(prob_true))
    assert [m for m in curve.mean_predicted if m is not None] == pytest.approx(list(prob_pred))
    assert sum(curve.counts) == 500


def test_calibration_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ece([1], [1.5])
    with pytest.raises(ValueError, match="0/1"):
        ece([2], [0.5])
    with pytest.raises(ValueError, match="strategy"):
        ece([1], [0.5], strategy="kmeans")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bins"):
        ece([1], [0.5], bins=0)
