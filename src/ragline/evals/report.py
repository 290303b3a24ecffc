"""The record of one evaluation run, as report.json (machine) and report.md (people).

    report = RunReport(suite="manpages", run_id="manpages-20250101T000000Z", ...)
    Path("report.json").write_text(to_json(report))
    baseline = from_json(Path("old/report.json").read_text())
    comparisons = compare_to_baseline(report.query_ids, report.per_query, baseline)

Pure. report.json keeps every per-query value, so a later run can be compared with this one by
paired bootstrap. `to_json` refuses NaN and infinity anywhere (``allow_nan=False``): a value that
could not be measured is null, and the counts say how many.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from ragline.evals.result import Aggregate
from ragline.evals.stats import paired_bootstrap
from ragline.evals.suite import Anchor, GateResult

FORMAT = 1
_EMPTY_TIMINGS: Mapping[str, float] = MappingProxyType({})


class ReportError(ValueError):
    """A report.json that cannot be read back (e.g. a --baseline from another tool or version)."""


@dataclass(frozen=True, slots=True)
class SliceResult:
    """One metric over the queries whose metadata ``field`` has value ``group``."""

    metric: str
    field: str
    group: str
    aggregate: Aggregate


@dataclass(frozen=True, slots=True)
class MetricComparison:
    """current - baseline for one metric, over queries measured in both (paired bootstrap).

    Example:
        >>> MetricComparison("map", 0.8, 0.7, 0.1, 0.02, 0.18, 0.01, n=50, unmeasured=0).delta
        0.1
    """

    metric: str
    current: float | None
    baseline: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int
    unmeasured: int


@dataclass(frozen=True, slots=True)
class RunReport:
    """Everything one run measured; ``per_query[metric]`` is aligned with ``query_ids``.

    Example:
        >>> agg = Aggregate("map", 0.5, measured=2, unmeasured=0)
        >>> r = RunReport("demo", "demo-1", "2025-01-01T00:00:00Z", {}, {"queries": 2}, (agg,),
        ...               ("q1", "q2"), {"map": (1.0, 0.0)})
        >>> from_json(to_json(r)) == r
        True
    """

    suite: str
    run_id: str
    timestamp: str
    settings: Mapping[str, str]  # a flat summary of the system under test, e.g. retrieval.mode
    dataset: Mapping[str, int]  # documents, queries, dropped_queries, ...
    aggregates: tuple[Aggregate, ...]
    query_ids: tuple[str, ...]
    per_query: Mapping[str, tuple[float | None, ...]]
    gates: tuple[GateResult, ...] = ()
    slices: tuple[SliceResult, ...] = ()
    baseline_run: str | None = None
    comparisons: tuple[MetricComparison, ...] = ()
    timings: Mapping[str, float] = field(default_factory=lambda: _EMPTY_TIMINGS)
    costs: Mapping[str, float] = field(default_factory=lambda: _EMPTY_TIMINGS)
    notes: tuple[str, ...] = ()  # what could not be measured and why, judge failures, ...
    anchors: tuple[Anchor, ...] = ()
    plots: tuple[str, ...] = ()  # PNG file names beside the report

    @property
    def passed(self) -> bool:
        """True when every gate held (and trivially when there are none)."""
        return all(gate.passed for gate in self.gates)

    def aggregate(self, metric: str) -> Aggregate:
        """The aggregate named `metric`; KeyError lists the ones this report has."""
        for agg in self.aggregates:
            if agg.name == metric:
                return agg
        names = ", ".join(a.name for a in self.aggregates)
        raise KeyError(f"no metric {metric!r} in run {self.run_id}; it has {names}")


def compare_to_baseline(
    query_ids: Sequence[str],
    per_query: Mapping[str, Sequence[float | None]],
    baseline: RunReport,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[MetricComparison, ...]:
    """Paired bootstrap per metric present in both runs, matching queries by id.

    A query the baseline did not run counts as unmeasured in the pair, never as a zero.
    """
    position = {qid: i for i, qid in enumerate(baseline.query_ids)}
    out = []
    for metric, values in per_query.items():
        if metric not in baseline.per_query:
            continue
        old = baseline.per_query[metric]
        paired = [old[position[q]] if q in position else None for q in query_ids]
        cmp = paired_bootstrap(list(values), paired, resamples=resamples, seed=seed)
        current = _mean(values)
        out.append(
            MetricComparison(
                metric,
                current,
                _mean(old),
                cmp.delta,
                cmp.ci_low,
                cmp.ci_high,
                cmp.p_value,
                cmp.n,
                cmp.unmeasured,
            )
        )
    return tuple(out)


def _mean(values: Sequence[float | None]) -> float | None:
    measured = [v for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None


def to_json(report: RunReport) -> str:
    """report.json text; raises ValueError if any number is NaN or infinite."""
    record = {
        "format": FORMAT,
        "suite": report.suite,
        "run_id": report.run_id,
        "timestamp": report.timestamp,
        "settings": dict(report.settings),
        "dataset": dict(report.dataset),
        "aggregates": [asdict(a) for a in report.aggregates],
        "gates": [asdict(g) for g in report.gates],
        "slices": [asdict(s) for s in report.slices],
        "baseline": {
            "run": report.baseline_run,
            "comparisons": [asdict(c) for c in report.comparisons],
        },
        "timings": dict(report.timings),
        "costs": dict(report.costs),
        "notes": list(report.notes),
        "anchors": [a.model_dump() for a in report.anchors],
        "plots": list(report.plots),
        "per_query": {
            "query_ids": list(report.query_ids),
            "metrics": {m: list(v) for m, v in report.per_query.items()},
        },
    }
    return json.dumps(record, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def from_json(text: str) -> RunReport:
    """A `RunReport` back from `to_json` text; ReportError says what is wrong with it."""
    try:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ReportError(f"report format {data.get('format')!r}; this ragline reads {FORMAT}")
        return _from_record(data)
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ReportError(
            f"not a ragline report.json ({type(exc).__name__}: {exc}); "
            "point --baseline at a folder written by `ragline eval`"
        ) from None


def _from_record(data: dict[str, Any]) -> RunReport:
    """Any: this is the wire edge; every field is rebuilt into its typed form here."""
    per_query = data["per_query"]
    return RunReport(
        suite=data["suite"],
        run_id=data["run_id"],
        timestamp=data["timestamp"],
        settings=dict(data["settings"]),
        dataset=dict(data["dataset"]),
        aggregates=tuple(Aggregate(**a) for a in data["aggregates"]),
        query_ids=tuple(per_query["query_ids"]),
        per_query={m: tuple(v) for m, v in per_query["metrics"].items()},
        gates=tuple(GateResult(**g) for g in data["gates"]),
        slices=tuple(
            SliceResult(s["metric"], s["field"], s["group"], Aggregate(**s["aggregate"]))
            for s in data["slices"]
        ),
        baseline_run=data["baseline"]["run"],
        comparisons=tuple(MetricComparison(**c) for c in data["baseline"]["comparisons"]),
        timings=dict(data["timings"]),
        costs=dict(data.get("costs", {})),
        notes=tuple(data.get("notes", ())),
        anchors=tuple(Anchor(**a) for a in data.get("anchors", ())),
        plots=tuple(data.get("plots", ())),
    )


def _num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ci(low: float | None, high: float | None) -> str:
    return "—" if low is None or high is None else f"[{low:.4f}, {high:.4f}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def to_markdown(report: RunReport) -> str:
    """report.md: metrics with 95% CIs and counts, gates, slices, baseline deltas, timings."""
    verdict = "PASS" if report.passed else "FAIL"
    counts = ", ".join(f"{k} {v}" for k, v in report.dataset.items())
    lines = [f"# Eval run `{report.run_id}`: {verdict}", ""]
    lines += [f"Suite **{report.suite}**, {report.timestamp}; {counts}.", ""]
    if report.settings:
        lines += ["## System", ""]
        lines += _table(("setting", "value"), [(k, f"`{v}`") for k, v in report.settings.items()])
    lines += ["## Metrics", ""]
    rows = [
        (a.name, _num(a.value), _ci(a.ci_low, a.ci_high), str(a.measured), str(a.unmeasured))
        for a in report.aggregates
    ]
    lines += _table(("metric", "value", "95% CI", "measured", "unmeasured"), rows)
    lines += _notes(report)
    if report.gates:
        lines += ["## Gates", ""]
        rows = [
            (g.metric, _bound(g), _num(g.value), "PASS" if g.passed else "FAIL", g.reason or "")
            for g in report.gates
        ]
        lines += _table(("metric", "bound", "value", "result", "why"), rows)
    if report.slices:
        lines += ["## Slices", ""]
        rows = [
            (
                s.metric,
                f"{s.field}={s.group}",
                _num(s.aggregate.value),
                _ci(s.aggregate.ci_low, s.aggregate.ci_high),
                str(s.aggregate.measured),
            )
            for s in report.slices
        ]
        lines += _table(("metric", "slice", "value", "95% CI", "measured"), rows)
    if report.baseline_run is not None:
        lines += [f"## Against baseline `{report.baseline_run}`", ""]
        deltas = [
            (
                c.metric,
                _num(c.current),
                _num(c.baseline),
                _signed(c.delta),
                _ci(c.ci_low, c.ci_high),
                _num(c.p_value, 3),
                str(c.n),
            )
            for c in report.comparisons
        ]
        header = ("metric", "current", "baseline", "delta", "95% CI", "p", "paired queries")
        lines += _table(header, deltas)
    if report.timings:
        lines += ["## Timings", ""]
        lines += _table(("stage", "seconds"), [(k, f"{v:.2f}") for k, v in report.timings.items()])
    if report.plots:
        lines += ["## Plots", ""] + [f"![{name}]({name})" for name in report.plots] + [""]
    return "\n".join(lines)


def _notes(report: RunReport) -> list[str]:
    """Anchors beside the run's values, then costs and notes."""
    lines: list[str] = []
    if report.anchors:
        lines += ["## Reference figures", ""]
        values = {a.name: a.value for a in report.aggregates}
        rows = [
            (a.metric, _num(values.get(a.metric)), _num(a.value), a.source) for a in report.anchors
        ]
        lines += _table(("metric", "this run", "reference", "source"), rows)
    if report.costs:
        lines += ["## Cost", ""]
        lines += _table(("item", "value"), [(k, _cost(k, v)) for k, v in report.costs.items()])
    if report.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in report.notes] + [""]
    return lines


def _cost(key: str, value: float) -> str:
    return f"${value:.6f}" if key.endswith("_usd") else f"{value:g}"


def _bound(gate: GateResult) -> str:
    parts = []
    if gate.min is not None:
        parts.append(f">= {gate.min}")
    if gate.max is not None:
        parts.append(f"<= {gate.max}")
    return " and ".join(parts)


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4f}"
