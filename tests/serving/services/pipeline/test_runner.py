"""Pipelines end to end on a 4,000-row sample of Adult: real training (LightGBM), MLflow on
SQLite, the real app for the load test and the canary, the registry's audit log.

A first version runs every stage up to "awaiting approval" (staging, not production); the
approval canaries nothing (no production yet) and promotes it. A stronger second version
passes the gates against it, is approved, canaried through the real predict path and
promoted. A quality gate that fails stops the run before training, a data trigger only runs
when the dataset's bytes changed, and without required approval a run goes straight through.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.errors import MltrackError
from ragline.mltrack.pipeline.record import STAGES, RunRecord, StageResult
from ragline.mltrack.pipeline.store import RunStore
from ragline.mltrack.tracking.registry import ModelRegistry
from ragline.serving.services.pipeline import PipelineService
from ragline.serving.settings import Settings
from tests.mltrack.adult_config import adult_config
from tests.serving.api.test_services import api_settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # MLflow's SQLAlchemy use
]

NAME = "small-adult"
# a better canary scores differently from production: allow that drift, judge the rest
POLICY = {"min_requests": 20, "latency_floor_ms": 50.0, "window_s": 3600, "max_prediction_kl": 5}
PIPELINE = """
name: {name}
train: {train}
fairness: {{protected: [sex], min_disparate_impact: 0.1, max_calibration_gap: 0.2}}
golden: {{path: golden.csv, sample: 600, seed: 1}}
load_test: {{requests: 30, max_p99_ms: {p99}}}
canary: {{requests_per_round: 200, max_rounds: 20, users: 1000}}
"""


@dataclass
class World:
    settings: Settings
    folder: Path
    data: Path

    def pipeline(self, file: str, numeric: str, p99: float = 5000.0, name: str = NAME) -> Path:
        train = self.folder / f"{file}-train.yaml"
        experiment = f"{{hypothesis: {file}, register_as: {NAME}}}"
        train.write_text(adult_config(self.data, experiment, numeric=numeric))
        path = self.folder / f"{file}.yaml"
        path.write_text(PIPELINE.format(name=name, train=train.name, p99=p99))
        return path

    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.settings.ml, self.settings.data_dir)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("pipeline")
    data = folder / "adult.csv"
    load_adult().sample(n=4000, random_state=1).to_csv(data, index=False)
    yield World(api_settings(folder, None, ml={"rollout": POLICY}), folder, data)


def _statuses(record: RunRecord) -> list[tuple[str, str]]:
    return [(s.stage, s.status) for s in record.stages]


def test_run_awaits_approval_then_approve_promotes(world: World) -> None:
    seen: list[StageResult] = []
    service = PipelineService(world.settings, on_stage=seen.append)
    record = service.run(world.pipeline("first", "age"), "code")

    assert record is not None and record.status == "awaiting_approval", _statuses(record)
    assert [s.stage for s in record.stages] == list(STAGES[:8]) == [s.stage for s in seen]
    assert {s.status for s in record.stages[:7]} == {"passed"}
    assert record.stages[7].status == "awaiting" and record.id in record.stages[7].detail
    load = record.result("load_test")
    assert load is not None and load.numbers["requests"] == 30 and load.numbers["errors"] == 0
    fairness = record.result("fairness")
    assert fairness is not None and 0.1 < fairness.numbers["disparate_impact.sex"] < 1
    assert RunStore(world.settings.data_dir).load(record.id) == record
    registry = world.registry()
    try:
        assert registry.current(NAME, "production") is None  # nothing before approval
        staged = registry.current(NAME, "staging")
        assert staged is not None and staged.version == record.version
        run = registry.store.client.get_run(record.run_id or "")
        assert run.data.tags["pipeline.run_id"] == record.id
        assert run.data.tags["pipeline.fairness.status"] == "passed"
        assert run.data.metrics["pipeline.load_test.errors"] == 0
        assert "pipeline.quality.seconds" in run.data.metrics  # decided before the run existed
        rows = [e for e in registry.history(NAME) if e.action == "pipeline"]
        assert len(rows) == 8 and all(record.id in e.reason for e in rows)
        assert "stage fairness passed" in rows[4].reason
    finally:
        registry.close()

    with pytest.raises(MltrackError, match="--by NAME"):
        service.approve(record.id, by=" ")
    approved = service.approve(record.id, by="ana", note="card read")

    assert approved.status == "promoted", _statuses(approved)
    assert _statuses(approved)[7:] == [
        ("approval", "passed"), ("canary", "skipped"), ("promote", "passed"),
    ]  # fmt: skip
    assert approved.approval is not None and approved.approval.by == "ana"
    registry = world.registry()
    try:
        production = registry.current(NAME, "production")
        assert production is not None and production.version == record.version
        approval = [e for e in registry.history(NAME) if e.action == "approve"]
        assert [(e.actor, e.version) for e in approval] == [("ana", record.version)]
        assert "card read" in approval[0].reason
    finally:
        registry.close()
    with pytest.raises(MltrackError, match="is promoted; only a run awaiting approval"):
        service.approve(record.id, by="ana")


def test_a_better_version_is_canaried_after_approval(world: World) -> None:
    service = PipelineService(world.settings)
    record = service.run(world.pipeline("second", "age, education-num, hours-per-week"), "code")
    assert record is not None and record.status == "awaiting_approval", _statuses(record)
    registry = world.registry()
    try:
        before = registry.current(NAME, "production")
    finally:
        registry.close()
    assert before is not None and before.version != record.version

    approved = service.approve(record.id, by="ben")

    canary = approved.result("canary")
    assert canary is not None and canary.status == "passed", _statuses(approved)
    assert canary.numbers["percent"] == 100 and canary.numbers["rounds"] >= 1
    assert approved.status == "promoted"
    registry = world.registry()
    try:
        production = registry.current(NAME, "production")
        actions = [e.action for e in registry.history(NAME) if e.version == record.version]
    finally:
        registry.close()
    assert production is not None and production.version == record.version
    assert "canary-start" in actions and actions.count("promote") == 2  # staging, production


def test_a_failing_gate_stops_the_run_and_the_data_trigger(world: World) -> None:
    strict = world.settings.model_copy(
        update={"ml": world.settings.ml.model_copy(update={"min_quality": 30})}
    )
    service = PipelineService(strict)
    data = world.folder / "trigger.csv"
    data.write_bytes(world.data.read_bytes())
    path = world.pipeline("trigger", "age", name="trigger")  # its own runs: a new hash
    train = world.folder / "trigger-train.yaml"
    train.write_text(train.read_text().replace(str(world.data), str(data)))

    record = service.run(path, "data")

    assert record is not None and _statuses(record) == [("quality", "failed")]
    quality = record.stages[0]
    assert quality.numbers["min"] == 30 and quality.numbers["score"] < 30
    assert record.model is None  # nothing was trained, so nothing can be promoted
    assert service.run(path, "data") is None  # the same bytes: nothing to do
    assert service.run(path, "schedule") is not None  # a schedule always runs
    with data.open("a") as f:
        f.write(data.read_text().splitlines()[1] + "\n")  # one more row
    again = service.run(path, "data")
    assert (
        again is not None
        and again.trigger == "data"
        and again.dataset_sha256 != record.dataset_sha256
    )


def test_without_required_approval_it_runs_straight_through(world: World) -> None:
    path = world.pipeline("straight", "age", name="straight")
    train = world.folder / "straight-train.yaml"
    train.write_text(train.read_text().replace(f"register_as: {NAME}", "register_as: straight"))
    path.write_text(path.read_text() + "approval: {required: false}\n")

    record = PipelineService(world.settings).run(path, "model")

    assert record is not None and record.status == "promoted", _statuses(record)
    assert record.result("approval") == StageResult(
        "approval", "skipped", 0.0, {}, "approval.required: false"
    )
    assert record.trigger == "model" and record.approval is None
    registry = world.registry()
    try:
        production = registry.current("straight", "production")
    finally:
        registry.close()
    assert production is not None and production.version == record.version
