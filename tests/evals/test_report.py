"""Run reports: JSON round trip, NaN refused, markdown tables, baseline comparison."""

from __future__ import annotations

import json

import pytest

from ragline.evals.report import (
    MetricComparison,
    ReportError,
    RunReport,
    SliceResult,
    compare_to_baseline,
    from_json,
    to_json,
    to_markdown,
)
from ragline.evals.result import Aggregate
from ragline.evals.suite import GateResult

pytestmark = pytest.mark.unit


def make_report(**changes: object) -> RunReport:
    fields: dict[str, object] = {
        "suite": "demo",
        "run_id": "demo-1",
        "timestamp": "2025-01-01T00:00:00Z",
        "settings": {"retrieval.mode": "hybrid"},
        "dataset": {"documents": 3, "queries": 3},
        "aggregates": (
            Aggregate("map", 0.5, 2, 1, 0.0, 1.0),
            Aggregate("recall@10", None, 0, 3),
        ),
        "query_ids": ("q1", "q2", "q3"),
        "per_query": {"map": (1.0, 0.0, None), "recall@10": (None, None, None)},
        "gates": (GateResult("map", 0.5, 0.6, None, False, "map = 0.5000 is below min 0.6"),),
        "slices": (SliceResult("map", "kind", "a", Aggregate("map[kind=a]", 1.0, 1, 0)),),
        "timings": {"retrieval": 1.5},
    }
    fields.update(changes)
    return RunReport(**fields)  # type: ignore[arg-type]


def test_json_round_trip_keeps_per_query_values_and_nulls() -> None:
    report = make_report()
    text = to_json(report)
    assert from_json(text) == report
    data = json.loads(text)
    assert data["per_query"]["metrics"]["map"] == [1.0, 0.0, None]
    assert data["aggregates"][1]["value"] is None and not report.passed


def test_nan_anywhere_is_refused() -> None:
    with pytest.raises(ValueError):
        to_json(make_report(timings={"retrieval": float("nan")}))
    with pytest.raises(ValueError):
        to_json(make_report(per_query={"map": (float("inf"), 0.0, None)}))


def test_from_json_explains_foreign_files() -> None:
    with pytest.raises(ReportError, match=r"not a ragline report\.json"):
        from_json("[1, 2]")
    with pytest.raises(ReportError, match="report format 7"):
        from_json('{"format": 7}')
    with pytest.raises(ReportError, match="KeyError"):
        from_json('{"format": 1, "suite": "x"}')


def test_markdown_has_metrics_ci_gates_and_unmeasured() -> None:
    md = to_markdown(make_report())
    assert md.startswith("# Eval run `demo-1`: FAIL")
    assert "| map | 0.5000 | [0.0000, 1.0000] | 2 | 1 |" in md
    assert "| recall@10 | — | — | 0 | 3 |" in md
    assert "| map | >= 0.6 | 0.5000 | FAIL | map = 0.5000 is below min 0.6 |" in md
    assert "| map | kind=a | 1.0000 |" in md
    assert "Against baseline" not in md


def test_baseline_comparison_pairs_queries_by_id() -> None:
    baseline = make_report(
        run_id="old",
        query_ids=("q3", "q2", "q1", "q9"),
        per_query={"map": (0.5, 0.0, 0.5, 1.0)},
    )
    current = {"map": (1.0, 0.0, None), "recall@10": (None, None, None)}
    (cmp,) = compare_to_baseline(("q1", "q2", "q3"), current, baseline, resamples=200)
    # pairs: q1 (1.0 vs 0.5), q2 (0.0 vs 0.0); q3 unmeasured now -> dropped; delta = (0.5 + 0) / 2
    assert cmp.metric == "map" and cmp.delta == pytest.approx(0.25)
    assert (cmp.n, cmp.unmeasured) == (2, 1)
    assert cmp.current == pytest.approx(0.5) and cmp.baseline == pytest.approx(0.5)
    report = make_report(baseline_run="old", comparisons=(cmp,))
    md = to_markdown(report)
    assert "## Against baseline `old`" in md and "| map | 0.5000 | 0.5000 | +0.2500 |" in md
    assert from_json(to_json(report)).comparisons == (cmp,)


def test_comparison_without_pairs_is_unmeasured_not_nan() -> None:
    baseline = make_report(query_ids=("x",), per_query={"map": (1.0,)})
    (cmp,) = compare_to_baseline(("q1",), {"map": (0.5,)}, baseline)
    assert cmp == MetricComparison("map", 0.5, 1.0, None, None, None, None, 0, 1)
    to_json(make_report(baseline_run="b", comparisons=(cmp,)))  # serialises: no NaN
