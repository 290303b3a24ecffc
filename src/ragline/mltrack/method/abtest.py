"""A/B tests: the design (sample size, runtime) and the analysis (ship / iterate / kill).

    plan = design(baseline_rate=0.10, mde=0.02, daily_traffic=1_000)
    plan.n_per_arm, plan.runtime_days               # (3835, 14)
    result = analyze(frame, AbTestRule(min_lift=0.02), planned_n=plan.n_per_arm)
    result.decision, result.reasons                 # "ship", ("lift +21.0% > +2.0% ...", ...)

Design: Cohen's effect size h between `baseline_rate` and `baseline_rate + mde`
(`proportion_effectsize`), solved for the per-arm size of a two-sided two-sample test at `alpha`
with `power` (`NormalIndPower`), equal arms, rounded up. Runtime: the days the 2n visitors take at
`daily_traffic`, at least 7 (one business cycle), rounded up to whole weeks so that every weekday
weighs the same in both arms.

Analysis of the primary 0/1 metric: the pooled two-proportion z-test (`proportions_ztest`), the
(1 - alpha) confidence interval of the difference (Newcombe) and of the relative lift (the CI of
the rate ratio, log method with 0.5 added to each count, minus 1), all from statsmodels.

A guardrail regresses when a one-sided Welch t-test (statsmodels `ttest_ind`, unequal variances)
rejects, at `alpha`, "the treatment is worse by at most `max_regression` x |control mean|": a
regression must be both larger than allowed and more than noise.

Decision, in order:
1. wait: an arm has fewer rows than the planned n; the numbers are shown, never acted upon.
2. kill: a guardrail regressed, whatever the primary metric did. A guardrail is a promise that
   the change does not cost more than it may (latency, errors, revenue); a win bought with a
   breach is not a shippable version of this change, and "fix it and test again" is a new
   change with a new test, not an iteration of this one.
3. ship: treatment better with p < alpha, lift > min_lift (and no guardrail regressed).
4. kill: treatment worse with p < alpha; or the lift CI's upper end is under min_lift (even
   the best plausible lift misses the bar, so more data will not help).
5. iterate: otherwise (inconclusive at the planned size: rework the change and test again).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from ragline.mltrack.errors import DataError
from ragline.mltrack.method.abtest_rule import AbTestRule, Guardrail

Decision = Literal["ship", "iterate", "kill", "wait"]
MIN_RUNTIME_DAYS = 7


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AbTestPlan(_Frozen):
    """The sample size and runtime of a two-arm test on a 0/1 metric (what `design` returns).

    >>> plan = design(baseline_rate=0.10, mde=0.02, daily_traffic=1000)
    >>> plan.n_per_arm, plan.runtime_days
    (3835, 14)
    """

    baseline_rate: float
    mde: float
    target_rate: float
    alpha: float
    power: float
    effect_size: float
    n_per_arm: int
    total_n: int
    daily_traffic: int | None
    runtime_days: int
    reasons: tuple[str, ...]


class ArmStats(_Frozen):
    """One arm's rows, conversions and rate on the primary metric.

    >>> ArmStats(name="control", n=200, conversions=20, rate=0.1).rate
    0.1
    """

    name: str
    n: int
    conversions: int
    rate: float


class PrimaryResult(_Frozen):
    """Treatment against control on the 0/1 metric: z-test, difference, lift and their CIs.

    >>> r = compare_proportions(100, 1000, 130, 1000, alpha=0.05)
    >>> round(r.lift, 2), r.p_value < 0.05
    (0.3, True)
    """

    metric: str
    control: ArmStats
    treatment: ArmStats
    diff: float
    diff_ci: tuple[float, float]
    lift: float
    lift_ci: tuple[float, float]
    z: float
    p_value: float


class GuardrailResult(_Frozen):
    """One guardrail: both means, the relative worsening and its one-sided Welch test.

    >>> g = compare_guardrail([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], Guardrail(metric="ms"), 0.05)
    >>> g.regressed, g.worsening
    (False, 0.0)
    """

    metric: str
    higher_is_better: bool
    max_regression: float
    control_mean: float
    treatment_mean: float
    worsening: float | None
    t: float | None
    p_value: float | None
    regressed: bool
    reason: str


class AbTestResult(_Frozen):
    """The analysis of one test: the decision, its reasons with the numbers, the statistics.

    >>> result = analyze(frame, AbTestRule(min_lift=0.02), planned_n=5000)  # doctest: +SKIP
    >>> result.decision                                                      # doctest: +SKIP
    'ship'
    """

    decision: Decision
    reasons: tuple[str, ...]
    rule: AbTestRule
    planned_n: int
    primary: PrimaryResult
    guardrails: tuple[GuardrailResult, ...]
    ignored_rows: int


def format_p(p_value: float) -> str:
    """A p-value for people: three significant digits, and no "0" for an underflow.

    >>> format_p(0.012345), format_p(0.0)
    ('0.0123', '< 1e-300')
    """
    return "< 1e-300" if p_value < 1e-300 else f"{p_value:.3g}"


def sample_size_per_arm(baseline_rate: float, mde: float, alpha: float, power: float) -> int:
    """Rows each arm needs to detect `baseline_rate` -> `baseline_rate + mde` (two-sided).

    >>> sample_size_per_arm(0.10, 0.02, 0.05, 0.8)
    3835
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    if not 0 < baseline_rate < 1:
        raise ValueError(f"baseline rate {baseline_rate} must lie in (0, 1), e.g. 0.10 for 10%")
    if mde <= 0 or baseline_rate + mde >= 1:
        raise ValueError(
            f"mde {mde} must be > 0 and baseline rate + mde < 1; it is the absolute change "
            "to detect, e.g. 0.02 for 10% -> 12%"
        )
    effect = float(proportion_effectsize(baseline_rate + mde, baseline_rate))
    n = NormalIndPower().solve_power(
        effect_size=effect, alpha=alpha, power=power, ratio=1.0, alternative="two-sided"
    )
    return math.ceil(float(n))


def runtime_days(total_n: int, daily_traffic: int | None) -> int:
    """Days to collect `total_n` rows: at least a week, rounded up to whole weeks.

    >>> runtime_days(7670, 1000), runtime_days(100, 1000), runtime_days(100, None)
    (14, 7, 7)
    """
    if daily_traffic is None:
        return MIN_RUNTIME_DAYS
    if daily_traffic <= 0:
        raise ValueError(f"daily traffic {daily_traffic} must be > 0 (visitors per day, both arms)")
    days = max(MIN_RUNTIME_DAYS, math.ceil(total_n / daily_traffic))
    return MIN_RUNTIME_DAYS * math.ceil(days / MIN_RUNTIME_DAYS)


def design(
    baseline_rate: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    daily_traffic: int | None = None,
) -> AbTestPlan:
    """The test's plan: per-arm sample size and runtime, with the reasons in words."""
    from statsmodels.stats.proportion import proportion_effectsize

    n = sample_size_per_arm(baseline_rate, mde, alpha, power)
    days = runtime_days(2 * n, daily_traffic)
    effect = float(proportion_effectsize(baseline_rate + mde, baseline_rate))
    reasons = [
        f"detecting {baseline_rate:.2%} -> {baseline_rate + mde:.2%} (Cohen's h {effect:.4f}) "
        f"with a two-sided test at alpha {alpha:g} and power {power:g} needs {n:,} per arm",
    ]
    if daily_traffic is None:
        reasons.append(
            f"runtime {days} days: the minimum (one business cycle); give the daily traffic "
            "to size it from the sample"
        )
    else:
        raw = math.ceil(2 * n / daily_traffic)
        reasons.append(
            f"{2 * n:,} visitors at {daily_traffic:,}/day take {raw} days; runtime {days} days "
            f"(at least {MIN_RUNTIME_DAYS}, whole weeks so each weekday counts equally)"
        )
    return AbTestPlan(
        baseline_rate=baseline_rate,
        mde=mde,
        target_rate=baseline_rate + mde,
        alpha=alpha,
        power=power,
        effect_size=effect,
        n_per_arm=n,
        total_n=2 * n,
        daily_traffic=daily_traffic,
        runtime_days=days,
        reasons=tuple(reasons),
    )


def planned_n(rule: AbTestRule) -> int | None:
    """The per-arm size the rule's baseline_rate and mde imply; None when either is missing."""
    if rule.baseline_rate is None or rule.mde is None:
        return None
    return sample_size_per_arm(rule.baseline_rate, rule.mde, rule.alpha, rule.power)


def compare_proportions(
    x_control: int,
    n_control: int,
    x_treatment: int,
    n_treatment: int,
    alpha: float = 0.05,
    metric: str = "converted",
    names: tuple[str, str] = ("control", "treatment"),
) -> PrimaryResult:
    """Pooled two-proportion z-test of treatment against control, with CIs of diff and lift."""
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        proportions_ztest,
    )

    if min(n_control, n_treatment) < 1:
        raise DataError(f"{metric}: an arm has no rows; both arms need outcomes")
    if x_control == 0:
        raise DataError(
            f"{metric}: control has no conversions in {n_control:,} rows, so a relative lift "
            "is undefined; collect more data or check the outcome column"
        )
    if x_control + x_treatment == n_control + n_treatment:
        raise DataError(f"{metric}: every row converted in both arms; nothing to compare")
    z, p = proportions_ztest([x_treatment, x_control], [n_treatment, n_control])
    diff_ci = confint_proportions_2indep(
        x_treatment,
        n_treatment,
        x_control,
        n_control,
        method="newcomb",
        compare="diff",
        alpha=alpha,
    )
    ratio_ci = confint_proportions_2indep(
        x_treatment,
        n_treatment,
        x_control,
        n_control,
        method="log-adjusted",
        compare="ratio",
        alpha=alpha,
    )
    p_c, p_t = x_control / n_control, x_treatment / n_treatment
    return PrimaryResult(
        metric=metric,
        control=ArmStats(name=names[0], n=n_control, conversions=x_control, rate=p_c),
        treatment=ArmStats(name=names[1], n=n_treatment, conversions=x_treatment, rate=p_t),
        diff=p_t - p_c,
        diff_ci=(float(diff_ci[0]), float(diff_ci[1])),
        lift=p_t / p_c - 1,
        lift_ci=(float(ratio_ci[0]) - 1, float(ratio_ci[1]) - 1),
        z=float(z),
        p_value=float(p),
    )


def compare_guardrail(
    control: Sequence[float] | np.ndarray,
    treatment: Sequence[float] | np.ndarray,
    guardrail: Guardrail,
    alpha: float,
) -> GuardrailResult:
    """One-sided Welch test of "treatment worse than control by more than allowed"."""
    from statsmodels.stats.weightstats import ttest_ind

    c, t = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    if min(c.size, t.size) < 2:
        raise DataError(f"guardrail {guardrail.metric}: each arm needs at least 2 values")
    mean_c, mean_t = float(c.mean()), float(t.mean())
    worse = mean_c - mean_t if guardrail.higher_is_better else mean_t - mean_c
    worsening = None if mean_c == 0 else worse / abs(mean_c)
    margin = guardrail.max_regression * abs(mean_c)
    if c.var() == 0 and t.var() == 0:  # no noise: the observed change is the change
        stat, p_value, regressed = None, None, worse > margin
    else:  # H0: t - c <= margin (lower is better) or t - c >= -margin (higher is better)
        higher = guardrail.higher_is_better
        stat, p_value, _ = ttest_ind(
            t,
            c,
            alternative="smaller" if higher else "larger",
            usevar="unequal",
            value=-margin if higher else margin,
        )
        stat, p_value = float(stat), float(p_value)
        regressed = p_value < alpha
    change = "n/a (control mean is 0)" if worsening is None else f"{worsening:+.1%}"
    test = "" if p_value is None else f", one-sided Welch p {format_p(p_value)}"
    verdict = "regressed" if regressed else "held"
    reason = (
        f"{guardrail.metric} {verdict}: {mean_t:.4g} vs {mean_c:.4g}, worsening {change} "
        f"(allowed {guardrail.max_regression:.1%}{test})"
    )
    return GuardrailResult(
        metric=guardrail.metric,
        higher_is_better=guardrail.higher_is_better,
        max_regression=guardrail.max_regression,
        control_mean=mean_c,
        treatment_mean=mean_t,
        worsening=worsening,
        t=stat,
        p_value=p_value,
        regressed=bool(regressed),
        reason=reason,
    )


def _binary(values: pd.Series, metric: str) -> np.ndarray:
    if values.isna().any():
        raise DataError(
            f"{int(values.isna().sum())} rows have no {metric} value; drop or fill them (0/1)"
        )
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any() or not numeric.isin([0, 1]).all():
        bad = values[numeric.isna() | ~numeric.isin([0, 1])].unique()[:3].tolist()
        raise DataError(f"{metric} must be 0/1 (or true/false); found {bad}")
    return np.asarray(numeric, dtype=np.int64)


def _values(rows: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.to_numeric(rows[column], errors="coerce")
    if values.isna().all():
        raise DataError(f"guardrail {column} has no numeric values; it must be a number per row")
    return np.asarray(values.dropna(), dtype=float)


def _check_columns(frame: pd.DataFrame, rule: AbTestRule, arm_column: str) -> None:
    wanted = [arm_column, rule.primary_metric, *(g.metric for g in rule.guardrails)]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(
            f"the outcomes have no column {', '.join(missing)}; columns are "
            f"{', '.join(map(str, frame.columns))} (set the arm column, primary_metric or "
            "guardrails to match)"
        )


def analyze(
    frame: pd.DataFrame,
    rule: AbTestRule,
    planned_n: int,
    arm_column: str = "arm",
    control: str = "control",
    treatment: str = "treatment",
) -> AbTestResult:
    """Compare the treatment arm with control under `rule`; one row per unit (user, request)."""
    _check_columns(frame, rule, arm_column)
    arms = frame[arm_column].astype(str)
    found = sorted(arms.unique().tolist())
    for name in (control, treatment):
        if name not in found:
            raise DataError(
                f"no rows for arm {name!r}; the arms are {found} (set control and treatment)"
            )
    rows_c, rows_t = frame[arms == control], frame[arms == treatment]
    outcome_c = _binary(rows_c[rule.primary_metric], rule.primary_metric)
    outcome_t = _binary(rows_t[rule.primary_metric], rule.primary_metric)
    primary = compare_proportions(
        int(outcome_c.sum()),
        outcome_c.size,
        int(outcome_t.sum()),
        outcome_t.size,
        rule.alpha,
        rule.primary_metric,
        (control, treatment),
    )
    guardrails = tuple(
        compare_guardrail(_values(rows_c, g.metric), _values(rows_t, g.metric), g, rule.alpha)
        for g in rule.guardrails
    )
    decision, reasons = decide(primary, guardrails, rule, planned_n)
    return AbTestResult(
        decision=decision,
        reasons=reasons,
        rule=rule,
        planned_n=planned_n,
        primary=primary,
        guardrails=guardrails,
        ignored_rows=int(len(frame) - len(rows_c) - len(rows_t)),
    )


def decide(
    primary: PrimaryResult,
    guardrails: Sequence[GuardrailResult],
    rule: AbTestRule,
    planned_n: int,
) -> tuple[Decision, tuple[str, ...]]:
    """The rule of the module docstring, with every reason stated with its numbers."""
    c, t = primary.control, primary.treatment
    low, high = primary.lift_ci
    stats = (
        f"{t.name} {t.rate:.2%} vs {c.name} {c.rate:.2%}: lift {primary.lift:+.1%} "
        f"(CI {low:+.1%} .. {high:+.1%}), z {primary.z:.2f}, p {format_p(primary.p_value)}"
    )
    short = [a for a in (c, t) if a.n < planned_n]
    if short:
        have = ", ".join(f"{a.name} {a.n:,}" for a in short)
        return "wait", (
            f"no decision before each arm reaches the planned {planned_n:,} rows ({have} so far)",
            f"so far {stats}; not acted upon (peeking inflates false positives)",
        )
    significant = primary.p_value < rule.alpha
    bar = f"min lift {rule.min_lift:+.1%}, alpha {rule.alpha:g}"
    regressed = [g.reason for g in guardrails if g.regressed]
    wins = significant and primary.diff > 0 and primary.lift > rule.min_lift
    if regressed:  # a breached guardrail kills the change, even a winning one
        verdict = f"beats {bar}" if wins else f"no significant win over the {bar}"
        verdict = "significantly worse" if significant and primary.diff < 0 else verdict
        return "kill", (f"{stats}: {verdict}, and a guardrail regressed", *regressed)
    if wins:
        return "ship", (f"{stats}: beats {bar}", *(g.reason for g in guardrails))
    if significant and primary.diff < 0:
        return "kill", (f"{stats}: the treatment is significantly worse",)
    if high < rule.min_lift:
        return "kill", (f"{stats}: even the CI's upper end misses the {bar}",)
    why = "not significant" if not significant else f"lift not above {rule.min_lift:+.1%}"
    return "iterate", (
        f"{stats}: inconclusive ({why}) at the planned size; rework the change and test again",
        *(g.reason for g in guardrails),
    )
