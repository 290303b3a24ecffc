from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragline.evals.stats import (
    MISSING_GROUP,
    bootstrap_ci,
    median,
    p95,
    paired_bootstrap,
    slice_by,
    with_ci,
)

pytestmark = pytest.mark.unit

RNG_VALUES = [float(x) for x in np.random.default_rng(11).random(200)]


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    a = bootstrap_ci(RNG_VALUES, seed=5)
    assert a == bootstrap_ci(RNG_VALUES, seed=5)
    assert a != bootstrap_ci(RNG_VALUES, seed=6)
    cmp1 = paired_bootstrap(RNG_VALUES, RNG_VALUES[::-1], seed=3)
    assert cmp1 == paired_bootstrap(RNG_VALUES, RNG_VALUES[::-1], seed=3)


def test_ci_contains_the_mean_and_narrows_with_confidence() -> None:
    m = sum(RNG_VALUES) / len(RNG_VALUES)
    ci95 = bootstrap_ci(RNG_VALUES)
    ci50 = bootstrap_ci(RNG_VALUES, confidence=0.5)
    assert ci95 is not None and ci50 is not None
    assert ci95[0] < ci50[0] <= m <= ci50[1] < ci95[1]
    # the standard error of a uniform(0,1) mean over 200 items is ~0.29/sqrt(200) = 0.020,
    # so a 95% interval is ~0.08 wide
    assert 0.05 < ci95[1] - ci95[0] < 0.11


def test_ci_ignores_unmeasured_and_needs_two_values() -> None:
    assert bootstrap_ci([0.3, None, 0.7, None], seed=1) == bootstrap_ci([0.3, 0.7], seed=1)
    assert bootstrap_ci([0.5, None]) is None
    assert bootstrap_ci([]) is None
    assert bootstrap_ci([0.4, 0.4, 0.4]) == pytest.approx((0.4, 0.4))
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([0.1, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([0.1, 0.2], confidence=95)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_ci([0.1, 0.2], resamples=0)


def test_ci_with_another_statistic() -> None:
    values = [0.0] * 7 + [1.0, 1.0, 100.0]
    ci = bootstrap_ci(values, statistic=median, seed=2)
    assert ci is not None
    # a resample's median reaches 100 only if 5 of its 10 draws are the outlier (p ~ 0.0016),
    # and exceeds 1 only then, so the 97.5th percentile stays <= 1; the mean's CI does not
    assert ci[0] == 0.0
    assert ci[1] <= 1.0
    mean_ci = bootstrap_ci(values, seed=2)
    assert mean_ci is not None and mean_ci[1] > 10.0


def test_with_ci_fills_the_aggregate() -> None:
    agg = with_ci("recall@10", [1.0, 0.5, None, 0.0])
    assert (agg.name, agg.value, agg.measured, agg.unmeasured) == ("recall@10", 0.5, 3, 1)
    assert agg.ci_low is not None and agg.ci_high is not None
    assert 0.0 <= agg.ci_low <= 0.5 <= agg.ci_high <= 1.0
    lone = with_ci("mrr", [None, 0.25])
    assert (lone.value, lone.ci_low, lone.ci_high) == (0.25, None, None)


def test_slice_by_field_missing_and_list_values() -> None:
    values = [1.0, 0.0, None, 0.5, 1.0]
    meta: list[dict[str, object]] = [
        {"lang": "en", "tags": ["a", "b"]},
        {"lang": "de", "tags": ["a"]},
        {"lang": "en", "tags": []},
        {"tags": ["b"]},
        {"lang": None},
    ]
    by_lang = slice_by(values, meta, "lang", name="em")
    assert list(by_lang) == [MISSING_GROUP, "de", "en"]
    # (missing): items 3 and 4 -> (0.5 + 1.0) / 2; en: item 0 measured, item 2 unmeasured
    assert by_lang[MISSING_GROUP].value == pytest.approx(0.75)
    assert (by_lang["en"].value, by_lang["en"].measured, by_lang["en"].unmeasured) == (1.0, 1, 1)
    assert by_lang["en"].name == "em[lang=en]"
    by_tag = slice_by(values, meta, "tags")
    # a: items 0, 1 -> 0.5; b: items 0, 3 -> 0.75; (missing): items 2 (None), 4 (1.0)
    assert {k: v.value for k, v in by_tag.items()} == {"a": 0.5, "b": 0.75, MISSING_GROUP: 1.0}
    with_cis = slice_by(values, meta, "tags", ci=True)
    assert with_cis["a"].ci_low == 0.0 and with_cis["a"].ci_high == 1.0
    with pytest.raises(ValueError, match="metadata rows"):
        slice_by([1.0], [], "lang")


def test_paired_known_difference_is_significant() -> None:
    rng = np.random.default_rng(4)
    base = rng.random(200)
    current = base + 0.1 + rng.normal(0.0, 0.05, 200)
    cmp = paired_bootstrap(current.tolist(), base.tolist(), resamples=1000, seed=0)
    assert cmp.delta == pytest.approx(float((current - base).mean()))
    assert cmp.ci_low is not None and cmp.ci_high is not None
    assert cmp.ci_low < 0.1 < cmp.ci_high
    assert cmp.ci_low > 0.08
    assert cmp.p_value is not None
    assert cmp.p_value < 0.01
    # never 0: the +1 correction keeps it at >= 1 / (resamples + 1)
    assert cmp.p_value == pytest.approx(1 / 1001)
    assert cmp.n == 200


def test_paired_zero_difference_is_not_significant() -> None:
    base = [0.2, 0.9, 0.4, 0.6] * 25
    # per-item differences +0.1, -0.1 alternate: the mean difference is 0
    current = [b + (0.1 if i % 2 == 0 else -0.1) for i, b in enumerate(base)]
    cmp = paired_bootstrap(current, base, resamples=500, seed=1)
    assert cmp.delta == pytest.approx(0.0, abs=1e-12)
    assert cmp.p_value is not None and cmp.p_value > 0.5
    same = paired_bootstrap(base, base, resamples=500)
    assert (same.delta, same.p_value, same.ci_low, same.ci_high) == (0.0, 1.0, 0.0, 0.0)


def test_paired_excludes_and_counts_unmeasured_items() -> None:
    current = [0.9, None, 0.8, 0.7, 0.6]
    baseline = [0.5, 0.5, None, 0.4, 0.2]
    cmp = paired_bootstrap(current, baseline, resamples=100)
    # measured in both: items 0, 3, 4 -> differences .4, .3, .4
    assert (cmp.n, cmp.unmeasured) == (3, 2)
    assert cmp.delta == pytest.approx((0.4 + 0.3 + 0.4) / 3)
    single = paired_bootstrap([0.5, None], [0.25, 0.1])
    assert (single.delta, single.n, single.p_value, single.ci_low) == (0.25, 1, None, None)
    nothing = paired_bootstrap([None], [0.1])
    assert (nothing.delta, nothing.n, nothing.unmeasured) == (None, 0, 1)
    with pytest.raises(ValueError, match="aligned"):
        paired_bootstrap([0.1], [0.1, 0.2])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.floats(0.0, 1.0, allow_nan=False)),
        min_size=2,
        max_size=60,
    ),
    st.integers(0, 2**31),
)
def test_ci_lies_within_the_measured_range(values: list[float | None], seed: int) -> None:
    ci = bootstrap_ci(values, resamples=200, seed=seed)
    measured = [v for v in values if v is not None]
    if len(measured) < 2:
        assert ci is None
        return
    assert ci is not None
    assert min(measured) - 1e-12 <= ci[0] <= ci[1] <= max(measured) + 1e-12


def test_a_percentile_statistic_gives_the_value_and_its_interval() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100 s
    agg = with_ci("latency_p95", [*values, None], statistic=p95, resamples=500, seed=0)
    assert agg.value == pytest.approx(float(np.percentile(values, 95)))  # 95.05, not the mean
    assert agg.unmeasured == 1
    assert agg.ci_low is not None and agg.ci_high is not None
    assert agg.ci_low <= agg.value <= agg.ci_high and agg.ci_high <= 100.0
    groups = slice_by(values, [{"k": "a"}] * 50 + [{"k": "b"}] * 50, "k", statistic=p95)
    assert groups["b"].value == pytest.approx(float(np.percentile(values[50:], 95)))
    assert groups["b"].ci_low is None  # ci=False: values only
