"""The decision rule of an A/B test, as a problem brief states it (`ab_test:` in BRIEF.yaml).

    rule = AbTestRule(min_lift=0.02, guardrails=(Guardrail(metric="latency_ms",
                                                           max_regression=0.10),))

Ship when the treatment beats control on the primary metric by more than `min_lift` (relative:
0.02 is +2%) with p < `alpha`, and no guardrail regresses by more than its `max_regression`
(relative to control, in the guardrail's bad direction). Nothing is decided before each arm has
the sample size the design computed from `baseline_rate`, `mde`, `alpha` and `power`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Guardrail(BaseModel):
    """A metric the treatment must not make worse by more than `max_regression` (relative).

    Example:
        >>> Guardrail(metric="latency_ms", max_regression=0.1).higher_is_better
        False
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(min_length=1, description="a column of the outcomes (or the request log)")
    max_regression: float = Field(0.0, ge=0, description="allowed relative worsening, 0.1 = 10%")
    higher_is_better: bool = Field(False, description="false for latency, errors, cost")


class AbTestRule(BaseModel):
    """Ship / iterate / kill thresholds of an A/B test.

    Example:
        >>> AbTestRule(min_lift=0.05).alpha
        0.05
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    primary_metric: str = Field("converted", min_length=1, description="0/1 outcome column")
    min_lift: float = Field(0.0, ge=0, description="relative lift needed to ship, 0.02 = +2%")
    alpha: float = Field(0.05, gt=0, lt=1)
    power: float = Field(0.8, gt=0, lt=1)
    baseline_rate: float | None = Field(None, gt=0, lt=1, description="control's expected rate")
    mde: float | None = Field(None, gt=0, description="minimum detectable effect (absolute)")
    guardrails: tuple[Guardrail, ...] = ()
