"""Run records: stages only in the declared order, the run's status following its stages,
and the JSON round trip."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.pipeline.record import STAGES, Approval, RunRecord, StageResult

pytestmark = pytest.mark.unit

NOW = "2026-12-06T18:00:00+00:00"


def _record() -> RunRecord:
    return RunRecord.start("adult", "p.yaml", "code", "ab12", now=NOW)


def _through(record: RunRecord, last: str) -> RunRecord:
    for stage in STAGES[: STAGES.index(last) + 1]:  # type: ignore[arg-type]
        record = record.with_stage(StageResult(stage, "passed", 0.1))
    return record


def test_the_declared_stage_order() -> None:
    assert STAGES == (
        "quality", "leakage", "train", "golden", "fairness", "load_test", "register",
        "approval", "canary", "promote",
    )  # fmt: skip


def test_a_new_run_has_an_id_and_starts_at_quality() -> None:
    record = _record()
    assert record.id.startswith("adult-20261206T180000-") and len(record.id) == 28
    assert (record.status, record.next_stage(), record.stages) == ("running", "quality", ())


def test_stages_out_of_order_are_refused() -> None:
    with pytest.raises(
        MltrackError, match="stage 'train' out of order; the next stage is 'quality'"
    ):
        _record().with_stage(StageResult("train", "passed", 1.0))
    with pytest.raises(MltrackError, match="'canary' out of order; the next stage is 'approval'"):
        _through(_record(), "register").with_stage(StageResult("canary", "passed", 1.0))


def test_a_failed_stage_fails_the_run() -> None:
    record = _through(_record(), "golden")
    record = record.with_stage(StageResult("fairness", "failed", 0.01, {"di": 0.1}, "too low"))
    assert record.status == "failed"
    assert record.result("fairness") == StageResult(
        "fairness", "failed", 0.01, {"di": 0.1}, "too low"
    )


def test_awaiting_approval_then_approved_then_promoted() -> None:
    record = _through(_record(), "register")
    record = record.with_stage(StageResult("approval", "awaiting", 0.0))
    assert (record.status, record.next_stage()) == ("awaiting_approval", "approval")
    record = record.with_stage(StageResult("approval", "passed", 0.0, detail="ok"))
    assert [s.stage for s in record.stages][-1] == "approval" and len(record.stages) == 8
    assert (record.status, record.next_stage()) == ("running", "canary")
    record = record.with_stage(StageResult("canary", "skipped", 0.0))
    record = record.with_stage(StageResult("promote", "passed", 0.2))
    assert (record.status, record.next_stage()) == ("promoted", None)


def test_json_round_trip_and_a_bad_file() -> None:
    record = replace(_through(_record(), "train"), model="adult", version=3, run_id="r1")
    record = replace(record, approval=Approval("ana", NOW, "card read"))
    assert RunRecord.from_json(record.to_json()) == record
    with pytest.raises(MltrackError, match="not a pipeline run record"):
        RunRecord.from_json('{"id": 1}')


def test_an_unknown_trigger_is_refused() -> None:
    with pytest.raises(MltrackError, match="use one of code, data, model, schedule"):
        RunRecord.start("adult", "p.yaml", "push", "ab12")  # type: ignore[arg-type]
