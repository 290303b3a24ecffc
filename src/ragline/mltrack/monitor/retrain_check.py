"""Measure what a retraining policy watches, decide, and retrain: one pass of the scheduler.

    due = measure_triggers(policy, ml, data_dir, now)
    due.triggers          # [Trigger("performance", "primary metric 0.8123 is worse than ...")]
    due.notes             # what was measured: production's age, its metric on eval_data, drift
    outcome = retrain_due(policy, due, ml, data_dir, out_dir)   # None when nothing is due

`measure_triggers` gathers the inputs of the pure `ragline.mltrack.monitor.retrain.check_triggers`:
when the production version was trained (the scheduled trigger), production's primary metric on the
policy's labelled `eval_data` (performance), and the drift severity of the policy's `drift_features`
between `reference_data` and `current_data` (drift). An input the policy does not configure is not
measured, and the notes say so. `retrain_due` starts one retrain for all the triggers that hold (one
candidate, not one per trigger) through `ragline.mltrack.monitor.retrain.retrain`, which records the
start and the outcome in the retrain log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import DataError
from ragline.mltrack.monitor.config import RetrainPolicy
from ragline.mltrack.monitor.drift_report import drift_report
from ragline.mltrack.monitor.retrain import (
    RetrainOutcome,
    Trigger,
    check_triggers,
    production_trained_at,
    retrain,
)
from ragline.mltrack.tabular.jobs import evaluate_job


@dataclass(frozen=True, slots=True)
class DueCheck:
    """The triggers that hold for one policy, and what was measured to decide.

    Example:
        >>> DueCheck("churn", (), ("production trained 3.0 days ago",)).due
        False
    """

    model: str
    triggers: tuple[Trigger, ...]
    notes: tuple[str, ...]

    @property
    def due(self) -> bool:
        return bool(self.triggers)


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a frame; a clear error for a missing file or another format."""
    if not path.is_file():
        raise DataError(f"{path} does not exist; point the retrain policy at a CSV or Parquet file")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".gz", ".zip"):
        return pd.read_csv(path)
    raise DataError(f"{path}: unknown format {suffix!r}; use .csv or .parquet")


def _performance(policy: RetrainPolicy, ml: MltrackConfig, data_dir: Path) -> float | None:
    if policy.eval_data is None:
        return None
    report = evaluate_job(policy.model, None, "production", policy.eval_data, ml, data_dir)
    metric = report.metrics.get(policy.metric)
    if metric is None:
        known = ", ".join(sorted(report.metrics))
        raise DataError(
            f"retrain policy of {policy.model}: metric {policy.metric!r} is not "
            f"measured for this model; use one of {known}"
        )
    return metric.value


def _drift(policy: RetrainPolicy) -> dict[str, str]:
    if not policy.drift_features or policy.reference_data is None or policy.current_data is None:
        return {}
    ref, cur = read_table(policy.reference_data), read_table(policy.current_data)
    report = drift_report(ref, cur, columns=list(policy.drift_features))
    return {f.name: f.severity for f in report.features}


def measure_triggers(
    policy: RetrainPolicy, ml: MltrackConfig, data_dir: Path, now: datetime
) -> DueCheck:
    """Measure production's age, performance and drift as the policy asks; decide (pure part:
    `check_triggers`)."""
    notes: list[str] = []
    trained_at = production_trained_at(policy.model, ml, data_dir)
    if trained_at is None:
        notes.append("no production version: nothing to refresh on schedule")
    else:
        notes.append(
            f"production trained {(now - trained_at).total_seconds() / 86400:.1f} days ago"
        )
    performance = _performance(policy, ml, data_dir)
    if performance is not None:
        notes.append(f"production {policy.metric} on {policy.eval_data}: {performance:.4f}")
    elif policy.min_primary is not None:
        notes.append("performance not measured: the policy has no eval_data")
    drift = _drift(policy)
    if drift:
        notes.append("drift: " + ", ".join(f"{k} {v}" for k, v in drift.items()))
    triggers = check_triggers(policy, now, performance, drift, production_trained_at=trained_at)
    return DueCheck(policy.model, tuple(triggers), tuple(notes))


def retrain_due(
    policy: RetrainPolicy, due: DueCheck, ml: MltrackConfig, data_dir: Path, out_dir: Path
) -> RetrainOutcome | None:
    """One retrain for every trigger that holds (their reasons joined); None when none holds."""
    if not due.triggers:
        return None
    first = due.triggers[0]
    reason = "; ".join(f"{t.kind}: {t.reason}" for t in due.triggers)
    trigger = Trigger(first.kind, reason) if len(due.triggers) > 1 else first
    return retrain(policy, trigger, ml, data_dir, policy.recent_data, out_dir)
