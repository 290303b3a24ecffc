"""A pipeline run's record: its stages in order, each one's outcome, numbers and seconds.

    record = RunRecord.start("adult", "configs/pipelines/adult.yaml", "data", "sha256...")
    record = record.with_stage(StageResult("quality", "passed", 0.4, {"score": 27}, "27/30"))
    record.next_stage()           # "leakage": the first stage not yet decided
    RunRecord.from_json(record.to_json()) == record

Stages run in `STAGES` order; a run stops at the first ``failed`` stage (status ``failed``) or at
``approval`` while it is ``awaiting`` (status ``awaiting_approval``), and an approval resumes it
from ``canary``. The record is plain data (frozen dataclasses): the service that runs the stages
writes it to disk (`ragline.mltrack.pipeline.store`) after every stage, so a crash leaves the
stages done so far on record.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal, get_args

from ragline.mltrack.errors import MltrackError

__all__ = [
    "STAGES",
    "Approval",
    "RunRecord",
    "RunStatus",
    "StageName",
    "StageResult",
    "StageStatus",
    "Trigger",
]

StageName = Literal[
    "quality",
    "leakage",
    "train",
    "golden",
    "fairness",
    "load_test",
    "register",
    "approval",
    "canary",
    "promote",
]
STAGES: tuple[StageName, ...] = get_args(StageName)
StageStatus = Literal["passed", "failed", "skipped", "awaiting"]
RunStatus = Literal["running", "awaiting_approval", "failed", "promoted"]
Trigger = Literal["code", "data", "model", "schedule"]
TRIGGERS: tuple[Trigger, ...] = get_args(Trigger)


@dataclass(frozen=True, slots=True)
class StageResult:
    """One stage's outcome: status, wall-clock seconds, the numbers it judged, and why.

    Example:
        >>> StageResult("fairness", "failed", 0.01, {"disparate_impact.sex": 0.31}).passed
        False
    """

    stage: StageName
    status: StageStatus
    seconds: float
    numbers: dict[str, float] = field(default_factory=dict)
    detail: str = ""

    @property
    def passed(self) -> bool:
        """True for ``passed`` and ``skipped`` (a skipped stage does not stop the run)."""
        return self.status in ("passed", "skipped")


@dataclass(frozen=True, slots=True)
class Approval:
    """Who approved a run for production, when, and their note.

    Example:
        >>> Approval("ana", "2026-12-06T18:00:00+00:00", "checked the card").by
        'ana'
    """

    by: str
    at: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A pipeline run: what triggered it, the data it saw, the model it built, its stages.

    Example:
        >>> r = RunRecord.start("adult", "adult.yaml", "code", "ab12", now="2026-12-06T18:00:00")
        >>> r.status, r.next_stage()
        ('running', 'quality')
    """

    id: str
    pipeline: str
    config: str
    trigger: Trigger
    dataset_sha256: str
    started: str
    status: RunStatus = "running"
    model: str | None = None
    version: int | None = None
    run_id: str | None = None  # the MLflow run of the training
    stages: tuple[StageResult, ...] = ()
    approval: Approval | None = None

    @classmethod
    def start(
        cls, pipeline: str, config: str, trigger: Trigger, sha256: str, *, now: str | None = None
    ) -> RunRecord:
        """A new run with a fresh id (``PIPELINE-YYYYMMDDTHHMMSS-xxxxxx``) and no stages."""
        if trigger not in TRIGGERS:
            raise MltrackError(f"trigger {trigger!r}: use one of {', '.join(TRIGGERS)}")
        started = now or datetime.now(UTC).isoformat(timespec="seconds")
        stamp = started[:19].replace("-", "").replace(":", "")
        run_id = f"{pipeline}-{stamp}-{uuid.uuid4().hex[:6]}"
        return cls(run_id, pipeline, config, trigger, sha256, started)

    def result(self, stage: StageName) -> StageResult | None:
        """The recorded outcome of `stage`, or None when it has not run."""
        return next((s for s in self.stages if s.stage == stage), None)

    def next_stage(self) -> StageName | None:
        """The first stage with no decided outcome (an ``awaiting`` one counts as undecided),
        or None when every stage is decided."""
        decided = {s.stage for s in self.stages if s.status != "awaiting"}
        return next((s for s in STAGES if s not in decided), None)

    def with_stage(self, result: StageResult) -> RunRecord:
        """This record with `result` in its place (stage order kept) and the run's status
        following it: failed on a failed stage, awaiting_approval on an awaiting one."""
        expected = self.next_stage()
        if result.stage != expected:
            raise MltrackError(
                f"run {self.id}: stage {result.stage!r} out of order; the next stage is "
                f"{expected!r} (stages run {' -> '.join(STAGES)})"
            )
        kept = tuple(s for s in self.stages if s.stage != result.stage)
        status: RunStatus = self.status
        if result.status == "failed":
            status = "failed"
        elif result.status == "awaiting":
            status = "awaiting_approval"
        elif result.stage == STAGES[-1]:
            status = "promoted"
        else:
            status = "running"
        return replace(self, stages=(*kept, result), status=status)

    def to_json(self) -> str:
        """The record as indented JSON (what `RunStore` writes)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        """Read a record `to_json` wrote; MltrackError when it is not one."""
        try:
            raw = json.loads(text)
            stages = tuple(StageResult(**s) for s in raw.pop("stages"))
            approval = raw.pop("approval")
            return cls(**raw, stages=stages, approval=Approval(**approval) if approval else None)
        except (ValueError, TypeError, KeyError) as exc:
            raise MltrackError(f"not a pipeline run record ({exc}); was the file edited?") from exc
