"""The PNGs beside an eval report: PR curve, top-hit calibration, per-slice bars.

    names = write_plots(suite, measured, report, folder)   # ("pr_curve.png", ...)

- ``pr_curve.png``: trec_eval's 11-point interpolated precision-recall curve over the queries
  with relevant documents;
- ``calibration.png``: whether the best hit's score predicts that it is relevant (scores
  min-max scaled over the run), with its ECE: read it when choosing `answer.min_relevance`;
- ``slices_<field>_<metric>.png``: each slice's value with its bootstrap CI, for the suite's
  first metric.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ragline.evals.report import RunReport
from ragline.evals.suite import SuiteConfig

if TYPE_CHECKING:
    from ragline.serving.services.evals.measure import Measured

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def write_plots(
    suite: SuiteConfig, measured: Measured, report: RunReport, folder: Path
) -> tuple[str, ...]:
    """Write every plot the run has data for into `folder`; returns their file names."""
    from ragline.evals.metrics.curves import interpolated_pr, top_hit_calibration
    from ragline.evals.plots import plot_calibration, plot_pr_curve, plot_slices

    names: list[str] = []
    if measured.qrels:
        curve = interpolated_pr(measured.run, measured.qrels)
        if curve.queries:
            title = f"{suite.name}: interpolated precision-recall ({curve.queries} queries)"
            names.append(plot_pr_curve(curve, folder / "pr_curve.png", title).name)
    pairs = [
        (score, _top_relevant(measured, qid))
        for qid, score in zip(measured.query_ids, measured.top_scores, strict=False)
        if score is not None and qid in measured.qrels
    ]
    if pairs:
        reliability, ece = top_hit_calibration([s for s, _ in pairs], [r for _, r in pairs])
        title = f"{suite.name}: is the top hit relevant? (score scaled 0-1)"
        names.append(plot_calibration(reliability, ece, folder / "calibration.png", title).name)
    metric = suite.metrics[0]
    for field in suite.slice_by:
        groups = [s for s in report.slices if s.field == field and s.metric == metric]
        if groups:
            path = folder / _SAFE.sub("_", f"slices_{field}_{metric}.png")
            names.append(plot_slices(groups, metric, field, path, f"{suite.name}: {metric}").name)
    return tuple(names)


def _top_relevant(measured: Measured, query_id: str) -> bool:
    ranked = measured.run.get(query_id, [])
    return bool(ranked) and measured.qrels[query_id].get(ranked[0], 0) > 0
