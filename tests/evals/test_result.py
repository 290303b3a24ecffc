from __future__ import annotations

import doctest
import json
from dataclasses import asdict
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ragline.evals import result, stats
from ragline.evals.metrics import classical, fairness, retrieval
from ragline.evals.result import UNMEASURED, Aggregate, aggregate

pytestmark = pytest.mark.unit


def test_aggregate_means_measured_values_and_counts_the_rest() -> None:
    agg = aggregate("faithfulness", [1.0, UNMEASURED, 0.5, 0.0, None])
    # (1.0 + 0.5 + 0.0) / 3 = 0.5
    assert agg == Aggregate(name="faithfulness", value=0.5, measured=3, unmeasured=2)
    assert (agg.ci_low, agg.ci_high) == (None, None)


def test_nothing_measured_is_null_not_nan() -> None:
    agg = aggregate("recall@10", [None, None])
    assert (agg.value, agg.measured, agg.unmeasured) == (None, 0, 2)
    assert aggregate("recall@10", []).value is None
    assert '"value": null' in json.dumps(asdict(agg))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_inf_inputs_are_refused_with_the_metric_name(bad: float) -> None:
    with pytest.raises(ValueError, match=r"metric 'ndcg@10': item 1 .*return None"):
        aggregate("ndcg@10", [0.5, bad])


def test_integers_and_bools_are_accepted_as_numbers() -> None:
    assert aggregate("hit@1", [1, 0, True]).value == pytest.approx(2 / 3)


@given(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), max_size=50))
def test_aggregate_value_is_between_min_and_max(values: list[float | None]) -> None:
    agg = aggregate("m", values)
    measured = [v for v in values if v is not None]
    assert agg.measured + agg.unmeasured == len(values)
    if not measured:
        assert agg.value is None
    else:
        assert agg.value is not None
        assert min(measured) - 1e-6 <= agg.value <= max(measured) + 1e-6


@pytest.mark.parametrize("module", [result, retrieval, classical, fairness, stats])
def test_docstring_examples_hold(module: ModuleType) -> None:
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failed == 0
    assert module is not result or attempted > 0
