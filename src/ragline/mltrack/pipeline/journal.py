"""Each pipeline stage's outcome, written where people already look: the training's MLflow run
and the registry's append-only audit log.

    journal = Journal(registry, By("ci", "ragline pipeline run configs/pipelines/adult.yaml"))
    journal.sync(record)        # after every stage: whatever is not written yet, is
    journal.approval(record)    # the approval's own ``approve`` row

On the MLflow run of the training (``record.run_id``): tags ``pipeline.run_id``,
``pipeline.trigger``, ``pipeline.<stage>.status`` and ``pipeline.<stage>.detail``, metrics
``pipeline.<stage>.seconds`` and ``pipeline.<stage>.<number>``. In the audit log: one
``pipeline`` row per stage outcome for the model version (``reason`` holds the run id, stage,
status, seconds and detail). Stages decided before training registered a version (quality,
leakage) are written as soon as it exists; a run that fails before that has no version to file
them under, so those outcomes stay in the run record only (the audit is per model version).
"""

from __future__ import annotations

import re
import time

from ragline.mltrack.pipeline.record import RunRecord, StageResult
from ragline.mltrack.tracking.audit import By
from ragline.mltrack.tracking.registry import ModelRegistry

__all__ = ["Journal", "metric_key"]

_BAD = re.compile(r"[^A-Za-z0-9_.\-/ ]")
_MAX_TAG = 5000  # MLflow refuses longer tag values on some backends


def metric_key(stage: str, name: str) -> str:
    """An MLflow-safe key ``pipeline.<stage>.<name>`` (odd characters become ``_``).

    Example:
        >>> metric_key("fairness", "disparate_impact.sex=F")
        'pipeline.fairness.disparate_impact.sex_F'
    """
    return _BAD.sub("_", f"pipeline.{stage}.{name}")


class Journal:
    """Writes a run's stage outcomes once each, to MLflow and to the audit log.

    Example:
        >>> journal = Journal(registry, By("ana", "ragline pipeline run p.yaml"))  # doctest: +SKIP
        >>> journal.sync(record)  # doctest: +SKIP
    """

    def __init__(self, registry: ModelRegistry, by: By) -> None:
        self.registry, self.by = registry, by
        self._logged: set[str] = set()  # stages already on the MLflow run
        self._audited: set[str] = set()

    def sync(self, record: RunRecord) -> None:
        """Write every stage of `record` not written yet, where its run and version exist.
        An ``awaiting`` stage is written again once decided."""
        for result in record.stages:
            key = f"{result.stage}:{result.status}"
            if record.run_id is not None and key not in self._logged:
                self._log(record, result)
                self._logged.add(key)
            versioned = record.model is not None and record.version is not None
            if versioned and key not in self._audited:
                self._audit(record, result)
                self._audited.add(key)

    def seen(self, record: RunRecord) -> None:
        """Mark `record`'s stages as written (a resumed run: an earlier process wrote them)."""
        for result in record.stages:
            self._logged.add(f"{result.stage}:{result.status}")
            self._audited.add(f"{result.stage}:{result.status}")

    def approval(self, record: RunRecord) -> None:
        """The ``approve`` audit row of `record`'s approval (who, when, note)."""
        if record.approval is None or record.model is None or record.version is None:
            return
        a = record.approval
        note = f": {a.note}" if a.note else ""
        self.registry.record(
            record.model,
            record.version,
            "approve",
            (None, None),
            by=By(a.by, self.by.command),
            reason=f"pipeline run {record.id} approved for production by {a.by}{note}",
        )

    def _log(self, record: RunRecord, result: StageResult) -> None:
        client, run_id = self.registry.store.client, record.run_id or ""
        stage = result.stage
        tags = {
            "pipeline.run_id": record.id,
            "pipeline.trigger": record.trigger,
            metric_key(stage, "status"): result.status,
            metric_key(stage, "detail"): result.detail[:_MAX_TAG],
        }
        metrics = {metric_key(stage, "seconds"): result.seconds}
        metrics |= {metric_key(stage, k): v for k, v in result.numbers.items()}
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        batch_metrics = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
        batch_tags = [RunTag(k, v) for k, v in tags.items()]
        with self.registry.store.errors(f"logging pipeline stage {stage} to run {run_id}"):
            client.log_batch(run_id, metrics=batch_metrics, tags=batch_tags)  # one write

    def _audit(self, record: RunRecord, result: StageResult) -> None:
        detail = f": {result.detail}" if result.detail else ""
        self.registry.record(
            record.model or "",
            record.version or 0,
            "pipeline",
            (None, None),
            by=self.by,
            reason=f"pipeline run {record.id} stage {result.stage} {result.status} in "
            f"{result.seconds:.2f} s{detail}",
        )
