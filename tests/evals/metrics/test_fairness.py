from __future__ import annotations

import pytest

from ragline.evals.metrics.fairness import (
    disparate_impact,
    equal_opportunity_difference,
    fairness_report,
    group_rates,
)

pytestmark = pytest.mark.unit

#         group A (5)     | group B (5)    | C (2)
Y_TRUE = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
Y_PRED = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1]
GROUPS = ["A"] * 5 + ["B"] * 5 + ["C"] * 2


def test_group_rates_by_hand() -> None:
    a, b, c = group_rates(Y_TRUE, Y_PRED, GROUPS, min_count=3)
    # A: selected 3/5; TPR 2 of 3 positives; FPR 1 of 2 negatives; correct items 0, 1, 4 -> 3/5
    assert (a.group, a.count, a.positives, a.selected) == ("A", 5, 3, 3)
    assert a.selection_rate == pytest.approx(0.6)
    assert a.tpr == pytest.approx(2 / 3)
    assert a.fpr == pytest.approx(0.5)
    assert a.accuracy == pytest.approx(0.6)
    assert not a.too_small
    # B: selected 1/5; TPR 0/1; FPR 1/4; correct items 2, 3, 4 -> 3/5
    assert (b.selection_rate, b.tpr, b.fpr, b.accuracy) == pytest.approx((0.2, 0.0, 0.25, 0.6))
    # C: no actual positives -> TPR unmeasured; 2 members < min_count 3 -> flagged
    assert c.tpr is None
    assert c.fpr == 1.0
    assert c.too_small


def test_report_leaves_small_groups_out_of_the_summary() -> None:
    report = fairness_report(Y_TRUE, Y_PRED, GROUPS, min_count=3)
    assert report.excluded == ("C",)
    assert [g.group for g in report.groups] == ["A", "B", "C"]  # still reported
    # DI = min(.6, .2) / max(.6, .2) = 1/3 < .8; EOD = 2/3 - 0
    assert report.disparate_impact == pytest.approx(1 / 3)
    assert report.passes_80_rule is False
    assert report.equal_opportunity_difference == pytest.approx(2 / 3)


def test_report_with_every_group_counted() -> None:
    report = fairness_report(Y_TRUE, Y_PRED, GROUPS, min_count=1)
    # C (selection 1.0) now counts: DI = .2 / 1.0; C has no TPR, so EOD is unchanged
    assert report.disparate_impact == pytest.approx(0.2)
    assert report.equal_opportunity_difference == pytest.approx(2 / 3)
    assert report.excluded == ()


def test_eighty_percent_rule_boundary() -> None:
    groups = ["x"] * 10 + ["y"] * 10
    y_pred = [1] * 5 + [0] * 5 + [1] * 4 + [0] * 6  # x: 5/10, y: 4/10 -> 0.4 / 0.5 = 0.8
    report = fairness_report([0] * 20, y_pred, groups, min_count=10)
    assert report.disparate_impact == pytest.approx(0.8)
    assert report.passes_80_rule is True
    y_pred_low = [1] * 5 + [0] * 5 + [1] * 3 + [0] * 7  # 0.3 / 0.5 = 0.6
    assert fairness_report([0] * 20, y_pred_low, groups, min_count=10).passes_80_rule is False


def test_undefined_summaries_are_none() -> None:
    # nobody selected: 0/0
    report = fairness_report([1, 0, 1, 0], [0, 0, 0, 0], ["a", "a", "b", "b"], min_count=1)
    assert report.disparate_impact is None
    assert report.passes_80_rule is None
    assert report.equal_opportunity_difference == 0.0  # both TPRs are 0
    # one group only
    single = group_rates([1, 0], [1, 0], ["a", "a"], min_count=1)
    assert disparate_impact(single) is None
    assert equal_opportunity_difference(single) is None


def test_string_labels_and_bad_input() -> None:
    rates = group_rates(["hire", "no"], ["hire", "hire"], [1, 2], pos_label="hire", min_count=1)
    assert [r.group for r in rates] == ["1", "2"]
    assert (rates[0].tpr, rates[1].fpr) == (1.0, 1.0)
    with pytest.raises(ValueError, match="equal length"):
        group_rates([1, 0], [1], ["a", "a"])
    with pytest.raises(ValueError, match="min_count"):
        group_rates([1], [1], ["a"], min_count=0)
