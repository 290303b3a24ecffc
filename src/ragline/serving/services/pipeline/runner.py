"""Run a pipeline's stages in order, stop at a failed gate or at the approval, and resume.

    service = PipelineService(settings, on_stage=print)
    record = service.run(Path("configs/pipelines/adult.yaml"), "code")
    record.status                       # "awaiting_approval" (or "failed": see its stages)
    record = service.approve(record.id, by="ana", note="card reviewed")
    record.status                       # "promoted"

Stages: quality -> leakage -> train -> golden -> fairness -> load_test -> register (staging,
gates checked) -> approval -> canary -> promote. After each stage the run record is saved
(``<data_dir>/pipelines/<run id>.json``), logged to the training's MLflow run and appended to
the registry's audit log (`ragline.mltrack.pipeline.journal`). A stage that fails (a gate,
or a mltrack error such as missing data) is recorded with its numbers and ends the run: the
candidate never reaches production. With ``approval.required`` (the default) `run` ends at
"awaiting approval"; `approve` records who approved (the run record and an ``approve`` audit
row) and runs canary and promote. A ``data`` trigger first compares the training data's
SHA-256 with the pipeline's last run and runs nothing when it is unchanged (`run` returns
None); ``code``, ``model`` and ``schedule`` always run (the trigger is recorded).

The pipeline's ``fairness`` and ``golden`` sections override the training config's before it
trains, so the evidence training records is judged by the pipeline's limits and the
beats-production gate pairs candidate and production on the pipeline's golden rows.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.pipeline.config import PipelineConfig, load_pipeline_config
from ragline.mltrack.pipeline.golden import freeze_golden
from ragline.mltrack.pipeline.journal import Journal
from ragline.mltrack.pipeline.record import Approval, RunRecord, StageName, StageResult, Trigger
from ragline.mltrack.pipeline.store import RunStore, data_changed, dataset_sha256
from ragline.mltrack.tabular.config import TrainConfig, load_train_config
from ragline.mltrack.tracking.audit import By
from ragline.mltrack.tracking.registry import ModelRegistry
from ragline.serving.services.pipeline import checks, release
from ragline.serving.services.pipeline.checks import Check, Context
from ragline.serving.settings import Settings

__all__ = ["AFTER_APPROVAL", "BEFORE_APPROVAL", "PipelineService", "training_config"]

StageFn = Callable[[Context], Check]
BEFORE_APPROVAL: tuple[tuple[StageName, StageFn], ...] = (
    ("quality", checks.quality),
    ("leakage", checks.leakage),
    ("train", checks.train),
    ("golden", checks.golden),
    ("fairness", checks.fairness),
    ("load_test", release.load),
    ("register", checks.register),
)
AFTER_APPROVAL: tuple[tuple[StageName, StageFn], ...] = (
    ("canary", release.canary),
    ("promote", release.promote),
)


def _quiet(_: str) -> None:
    return None


def training_config(config: PipelineConfig) -> TrainConfig:
    """The pipeline's training config with its ``fairness`` and ``golden`` applied (the golden
    rows frozen first when the pipeline asks for a sample).

    Example:
        >>> config = load_pipeline_config(Path("configs/pipelines/adult.yaml"))
        >>> training_config(config).fairness.protected  # doctest: +SKIP
        ['sex']
    """
    train = load_train_config(config.train)
    update: dict[str, object] = {}
    if config.fairness is not None:
        update["fairness"] = config.fairness
    if config.golden is not None:
        update["golden"] = freeze_golden(config.golden, train)
    return train.model_copy(update=update) if update else train


class PipelineService:
    """Runs and resumes pipelines for one settings tree.

    Example:
        >>> service = PipelineService(settings)  # doctest: +SKIP
        >>> service.run(Path("configs/pipelines/adult.yaml"), "data") is None  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_stage: Callable[[StageResult], None] | None = None,
        say: Callable[[str], None] = _quiet,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings
        self.store = RunStore(settings.data_dir)
        self._on_stage, self._say, self._clock = on_stage, say, clock
        self._command = shlex.join(["ragline", *sys.argv[1:]])

    def run(self, path: Path, trigger: Trigger) -> RunRecord | None:
        """Run the pipeline at `path` up to the approval (or through, without one); None when
        a data trigger finds the data unchanged since the last run."""
        config = load_pipeline_config(path)
        train = training_config(config)
        sha = dataset_sha256(train.data.path)
        name = config.pipeline_name
        if trigger == "data" and not data_changed(self.store, name, sha):
            return None
        record = RunRecord.start(name, str(path.resolve()), trigger, sha)  # approve: any cwd
        self.store.save(record)
        ctx = Context(self.settings, config, train, record, self._say)
        with self._journal() as journal:
            if not self._stages(ctx, BEFORE_APPROVAL, journal):
                return ctx.record
            if config.approval.required:
                awaiting = Check("awaiting", {}, f"ragline pipeline approve {record.id} --by NAME")
                self._record(ctx, "approval", awaiting, 0.0, journal)
                return ctx.record
            self._record(
                ctx, "approval", Check("skipped", {}, "approval.required: false"), 0.0, journal
            )
            self._stages(ctx, AFTER_APPROVAL, journal)
        return ctx.record

    def approve(self, run_id: str, *, by: str, note: str = "") -> RunRecord:
        """Record `by`'s approval of a run awaiting it, then canary and promote."""
        if not by.strip():
            raise MltrackError("--by NAME: the audit log records who approved")
        record = self.store.load(run_id)
        if record.status != "awaiting_approval":
            raise MltrackError(
                f"run {run_id} is {record.status.replace('_', ' ')}; only a run awaiting "
                "approval can be approved (start a new one with `ragline pipeline run`)"
            )
        config = load_pipeline_config(Path(record.config))
        at = datetime.now(UTC).isoformat(timespec="seconds")
        record = replace(record, approval=Approval(by, at, note))
        ctx = Context(self.settings, config, training_config(config), record, self._say)
        with self._journal() as journal:
            journal.seen(record)
            journal.approval(record)
            said = f"approved by {by}" + (f": {note}" if note else "")
            self._record(ctx, "approval", Check("passed", {}, said), 0.0, journal)
            self._stages(ctx, AFTER_APPROVAL, journal)
        return ctx.record

    def _stages(
        self, ctx: Context, stages: tuple[tuple[StageName, StageFn], ...], journal: Journal
    ) -> bool:
        """Run `stages` in order; False at the first that fails (it is recorded)."""
        for name, fn in stages:
            started = self._clock()
            try:
                check = fn(ctx)
            except MltrackError as exc:  # a stage that cannot finish fails, with the fix
                check = Check("failed", {}, str(exc).replace("\n", " "))
            self._record(ctx, name, check, self._clock() - started, journal)
            if check.status == "failed":
                return False
        return True

    def _record(
        self, ctx: Context, name: StageName, check: Check, seconds: float, journal: Journal
    ) -> None:
        result = StageResult(name, check.status, round(seconds, 3), check.numbers, check.detail)
        ctx.record = ctx.record.with_stage(result)
        self.store.save(ctx.record)
        journal.sync(ctx.record)
        if self._on_stage is not None:
            self._on_stage(result)

    def _journal(self) -> _JournalScope:
        return _JournalScope(self.settings, By(_actor(), self._command))


def _actor() -> str:
    from ragline.mltrack.tracking.experiments import ExperimentPlan

    return ExperimentPlan("", "", "").actor


class _JournalScope:
    """A `Journal` over a registry that is closed when the run (or approval) ends."""

    def __init__(self, settings: Settings, by: By) -> None:
        self._registry = ModelRegistry(settings.ml, settings.data_dir)
        self._by = by

    def __enter__(self) -> Journal:
        return Journal(self._registry, self._by)

    def __exit__(self, *exc: object) -> None:
        self._registry.close()
