"""Gradual rollout on POST /v1/predict, end to end: real LightGBM models registered in MLflow on
SQLite, the real app through TestClient, a bounded load (`predict_load`).

A canary that predicts one constant score rolls back on its own (prediction drift) at its first
stage, production untouched, the audit showing each step; a copy of the production model climbs
5 -> 25 -> 50 -> 100% and becomes production.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from ragline.mltrack.rollout import Rollouts
from ragline.mltrack.rollout.policy import in_canary
from ragline.mltrack.tabular.artifacts import save_model
from ragline.mltrack.tabular.config import ModelSpec
from ragline.mltrack.tabular.models import TrainData, fit_model
from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker
from ragline.mltrack.tracking.gates import GateInputs, PrimaryMetric
from ragline.mltrack.tracking.registry import ModelRegistry
from ragline.serving.api.app import create_app
from ragline.serving.api.services import Services
from ragline.serving.services.load import predict_load
from tests.serving.api.test_services import api_settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # MLflow's SQLAlchemy use
]

NAME = "churn"
POLICY = {"min_requests": 20, "latency_floor_ms": 50.0, "window_s": 3600}
# beats production on every fold, clean evidence: the production gates pass
EVIDENCE = GateInputs(
    PrimaryMetric("auc", (0.83, 0.84, 0.85, 0.85), (0.80, 0.80, 0.81, 0.80)),
    quality_score=24,
    leakage_findings=(),
    eval_suite_passed=True,
)
PLAN = ExperimentPlan("rollout test models", "sha256:0", "lightgbm", ("tenure", "spend"))


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"tenure": rng.random(400), "spend": rng.random(400)})
    y = ((x["tenure"] + 0.3 * rng.random(400)) > 0.6).to_numpy(dtype=float)
    return x, y


def _model(folder: Path, params: dict[str, int | float | str | bool]) -> Path:
    x, y = _data()
    data = TrainData(x[:300], y[:300], x[300:], y[300:], "classification", "churned", (0, 1))
    spec = ModelSpec(kind="lightgbm", rounds=20, early_stopping=0, threads=1, params=params)
    return save_model(fit_model(spec, data, metric="roc_auc"), folder)


@dataclass
class World:
    services: Services
    client: TestClient
    registry: ModelRegistry
    rollouts: Rollouts
    rows: list[dict[str, object]]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Production = good v1; staged: v2 broken (constant scores), v3 = a copy of v1."""
    settings = api_settings(tmp_path, None, ml={"rollout": POLICY})
    services = Services(settings)
    registry = ModelRegistry(settings.ml, settings.data_dir)
    with Tracker(settings.ml, settings.data_dir) as tracker, tracker.start_run(PLAN) as run:
        pass
    good = _model(tmp_path / "good", {"min_data_in_leaf": 5})
    # more rows per leaf than the data has: no split, one constant score for every row
    broken = _model(tmp_path / "broken", {"min_data_in_leaf": 10_000})
    for folder in (good, broken, good):
        registry.register(NAME, folder, run_id=run.run_id, actor="ana", command="register")
    registry.promote(NAME, 1, "staging", EVIDENCE, actor="ana")
    registry.promote(NAME, 1, "production", EVIDENCE, actor="ana")
    x, _ = _data()
    rows: list[dict[str, object]] = [
        {str(k): float(v) for k, v in r.items()} for r in x.to_dict(orient="records")
    ]
    client = TestClient(create_app(settings, services))
    yield World(services, client, registry, Rollouts(registry, settings.ml.rollout), rows)
    registry.close()
    services.close()


def _stage(world: World, version: int) -> None:
    world.registry.promote(NAME, version, "staging", EVIDENCE, actor="ana")


def test_the_broken_model_scores_one_constant(world: World) -> None:
    # the premise of the next test: the broken build really is constant, the good one is not
    body = {"rows": world.rows[:50]}
    assert len(set(world.client.post(f"/v1/predict/{NAME}", json=body).json()["scores"])) > 5
    _stage(world, 2)
    world.rollouts.start(NAME, 2, EVIDENCE, actor="ana")
    world.rollouts.advance(NAME, actor="ana")
    world.rollouts.advance(NAME, actor="ana")
    world.rollouts.advance(NAME, actor="ana")  # 100%: everyone gets the canary
    world.services.predictor.refresh_s = 0.0  # see the rollout now
    response = world.client.post(f"/v1/predict/{NAME}", json=body | {"user": "u1"}).json()
    assert response["version"] == 2 and len(set(response["scores"])) == 1


def test_a_constant_canary_rolls_back_on_its_own_under_load(world: World) -> None:
    _stage(world, 2)
    started = world.rollouts.start(NAME, 2, EVIDENCE, actor="ana", reason="new features")
    assert (started.percent, started.status) == (5, "running")
    users = 200
    canary_users = [u for u in range(users) if in_canary(NAME, 2, 5, f"anonymous/load-{u}")]
    assert 3 <= len(canary_users) <= 20  # about 5% of the load's users are the canary's

    report = predict_load(world.client, NAME, world.rows, requests=600, users=users, batch=5)

    assert report.errors == 0 and report.requests == 600
    state = world.rollouts.status(NAME)
    assert state is not None and state.status == "rolled_back" and state.percent == 5
    assert state.reason.startswith("prediction drift: KL ") and "> 0.1" in state.reason
    kl = float(state.reason.split("KL ")[1].split()[0])
    assert kl > 1.0  # one bin of ten holds every canary score: ~ln(10) nats
    # it rolled back within its first stage: the canary answered about min_requests requests
    assert 20 <= report.versions.get(2, 0) <= 21
    current = world.registry.current(NAME, "production")
    assert current is not None and current.version == 1
    rows = [(e.action, e.version, e.from_stage, e.to_stage) for e in world.registry.history(NAME)]
    assert rows[-2:] == [
        ("canary-start", 2, "staging", "5%"),
        ("canary-rollback", 2, "5%", "0%"),
    ]
    rollback = world.registry.history(NAME)[-1]
    assert rollback.actor == "ragline-serve" and "KL" in rollback.reason
    assert [s.split()[2] for s in state.steps] == ["start", "rollback"]

    after = predict_load(world.client, NAME, world.rows, requests=200, users=users, batch=5)
    assert after.versions == {1: 200}  # the canary's users are back on production
    assert world.registry.verify_audit(NAME).intact


def test_a_healthy_canary_climbs_every_stage_to_production(world: World) -> None:
    _stage(world, 3)
    world.rollouts.start(NAME, 3, EVIDENCE, actor="ana")

    report = predict_load(world.client, NAME, world.rows, requests=1500, users=200, batch=5)

    assert report.errors == 0
    state = world.rollouts.status(NAME)
    assert state is not None and state.status == "promoted", state
    current = world.registry.current(NAME, "production")
    assert current is not None and current.version == 3
    history = world.registry.history(NAME)
    actions = [(e.action, e.from_stage, e.to_stage) for e in history if e.version == 3]
    assert actions[-5:] == [
        ("canary-start", "staging", "5%"),
        ("canary-advance", "5%", "25%"),
        ("canary-advance", "25%", "50%"),
        ("canary-advance", "50%", "100%"),
        ("promote", "staging", "production"),
    ]
    assert history[-1].action == "promote" and "healthy" in history[-1].reason
    assert ("archive", 1) in [(e.action, e.version) for e in history[-2:]]
    # once promoted, every response comes from the new production
    tail = predict_load(world.client, NAME, world.rows, requests=50, users=200)
    assert tail.versions == {3: 50}
