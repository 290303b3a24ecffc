"""Every `ragline eval` run is also an mltrack experiment (MLflow), beside runs.jsonl.

    exp_id = track_eval_run(settings, suite, report, folder)   # "EXP-2026-11-26-004"

The experiment holds the suite's aggregates (with their CI bounds) as metrics, the system's
settings as parameters, whether every gate passed, the run id and folder as tags, and the
report files as artifacts, so eval runs and training runs are listed and compared in one place
(`ragline ml list`, the MLflow UI). MLflow metric names cannot hold "@": ``ndcg@10`` is logged
as ``ndcg_at_10``.
"""

from __future__ import annotations

from pathlib import Path

from ragline.evals.report import RunReport
from ragline.evals.suite import SuiteConfig
from ragline.serving.settings import Settings


def metric_name(name: str) -> str:
    """An eval metric's name as MLflow accepts it.

    Example:
        >>> metric_name("ndcg@10")
        'ndcg_at_10'
    """
    return name.replace("@", "_at_")


def track_eval_run(settings: Settings, suite: SuiteConfig, report: RunReport, folder: Path) -> str:
    """Log the run as an experiment; returns its id."""
    from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker, dataset_version

    plan = ExperimentPlan(
        hypothesis=f"eval suite {suite.name}",
        dataset_version=dataset_version(suite.dataset.path),
        model_type="rag-pipeline",
        params=dict(report.settings),
    )
    metrics: dict[str, float] = {}
    for agg in report.aggregates:
        if agg.value is None:
            continue
        metrics[metric_name(agg.name)] = agg.value
        if agg.ci_low is not None and agg.ci_high is not None:
            metrics[f"{metric_name(agg.name)}.ci_low"] = agg.ci_low
            metrics[f"{metric_name(agg.name)}.ci_high"] = agg.ci_high
    metrics |= {f"cost.{k}": float(v) for k, v in report.costs.items()}
    with Tracker(settings.ml, settings.data_dir) as tracker, tracker.start_run(plan) as run:
        run.log_metrics(metrics)
        run.set_tags(
            {
                "ragline.kind": "eval",
                "ragline.suite": suite.name,
                "ragline.eval.run_id": report.run_id,
                "ragline.eval.folder": str(folder),
                "ragline.eval.passed": str(report.passed),
            }
        )
        for name in ("report.json", "report.md", *report.plots):
            run.log_artifact(folder / name, "eval")
        return run.exp_id
