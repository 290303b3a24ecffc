"""Retraining triggers (pure) and a drift-triggered retrain on real Adult samples and MLflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.monitor.retrain import (
    RetrainLog,
    RetrainPolicy,
    Trigger,
    check_triggers,
    production_trained_at,
    recent_config,
    retrain,
)
from ragline.mltrack.tabular.jobs import promote_job, train_job
from ragline.mltrack.tracking.experiments import Tracker
from ragline.mltrack.tracking.registry import ModelRegistry
from tests.mltrack.adult_config import STRONG, adult_config
from tests.mltrack.conftest import Backend

EXPERIMENT = "{hypothesis: retrain test, register_as: placeholder}"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def policy(**kw: object) -> RetrainPolicy:
    return RetrainPolicy.model_validate({"model": "m", "config": Path("m.yaml")} | kw)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kw", "performance", "drift", "trained", "kinds"),
    [
        ({}, 0.5, {"age": "critical"}, NOW - timedelta(days=400), []),  # nothing configured
        ({"schedule_days": 30}, None, {}, NOW - timedelta(days=31), ["scheduled"]),
        ({"schedule_days": 30}, None, {}, NOW - timedelta(days=29), []),
        ({"schedule_days": 30}, None, {}, None, []),  # no production yet
        ({"min_primary": 0.85}, 0.84, {}, None, ["performance"]),
        ({"min_primary": 0.85}, 0.85, {}, None, []),
        ({"min_primary": 0.85}, None, {}, None, []),  # not measured
        ({"min_primary": 5.0, "primary_higher_is_better": False}, 6.0, {}, None, ["performance"]),
        ({"min_primary": 5.0, "primary_higher_is_better": False}, 4.0, {}, None, []),
        ({"drift_features": ["age"]}, None, {"age": "warning", "sex": "critical"}, None, []),
        ({"drift_features": ["age", "sex"]}, None, {"sex": "critical"}, None, ["drift"]),
        (
            {"schedule_days": 7, "min_primary": 0.9, "drift_features": ["age"]},
            0.8, {"age": "critical"}, NOW - timedelta(days=8),
            ["scheduled", "performance", "drift"],
        ),
    ],
)  # fmt: skip
def test_check_triggers(
    kw: dict[str, object],
    performance: float | None,
    drift: dict[str, str],
    trained: datetime | None,
    kinds: list[str],
) -> None:
    found = check_triggers(policy(**kw), NOW, performance, drift, production_trained_at=trained)
    assert [t.kind for t in found] == kinds
    assert all(t.reason for t in found)


@pytest.mark.unit
def test_drift_reason_names_the_features() -> None:
    p = policy(drift_features=["age", "sex", "hours"])
    (trigger,) = check_triggers(p, NOW, None, {"age": "critical", "hours": "critical"})
    assert trigger == Trigger("drift", "critical drift on age, hours")


def write_data(folder: Path) -> tuple[Path, Path]:
    adult = load_adult()
    first = adult.sample(n=4000, random_state=0)
    recent = adult.drop(index=first.index).sample(n=4000, random_state=1)
    paths = folder / "adult.csv", folder / "recent.csv"
    first.to_csv(paths[0], index=False)
    recent.to_csv(paths[1], index=False)
    return paths


def entries(backend: Backend, name: str) -> list[tuple[str, str, int | None]]:
    log = RetrainLog(backend.config, backend.data_dir)
    try:
        return [(e.trigger, e.outcome, e.version) for e in log.entries(name)]
    finally:
        log.close()


def stage_of(backend: Backend, name: str, version: int) -> str | None:
    registry = ModelRegistry(backend.config, backend.data_dir)
    try:
        return registry.version(name, version).stage
    finally:
        registry.close()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # mlflow's SQLAlchemy use
def test_triggers_retrain_gated_candidates(sqlite_backend: Backend, tmp_path: Path) -> None:
    ml, data_dir, name = sqlite_backend.config, sqlite_backend.data_dir, sqlite_backend.model()
    data, recent = write_data(tmp_path)
    weak_path, strong_path = tmp_path / "weak.yaml", tmp_path / "prod.yaml"
    strong_path.write_text(adult_config(data, EXPERIMENT, "lightgbm", STRONG))
    weak_path.write_text(adult_config(data, EXPERIMENT, "sklearn-logreg", "age"))
    p = RetrainPolicy(model=name, config=strong_path, drift_features=("age",), schedule_days=30)
    assert recent_config(p, recent).data.path == recent
    assert recent_config(p, None).experiment.register_as == name

    # production: a weak model, trained a while ago
    weak = RetrainPolicy(model=name, config=weak_path)
    first = train_job(recent_config(weak, None), ml, data_dir, tmp_path / "r1")
    assert first.version is not None and first.version.version == 1
    for stage in ("staging", "production"):
        promote_job(name, 1, stage, ml, data_dir)
    trained_at = production_trained_at(name, ml, data_dir)
    assert trained_at is not None
    assert check_triggers(p, trained_at, None, {}, production_trained_at=trained_at) == []
    later = trained_at + timedelta(days=31)
    (scheduled,) = check_triggers(p, later, None, {}, production_trained_at=trained_at)
    assert scheduled.kind == "scheduled"

    # the scheduled retrain with the production config beats it: a candidate in staging
    staged = retrain(p, scheduled, ml, data_dir, None, tmp_path / "r2")
    assert (staged.version, staged.promoted_to, staged.archived) == (2, "staging", None)
    assert staged.experiment_id not in (None, first.experiment_id)
    assert (stage_of(sqlite_backend, name, 1), stage_of(sqlite_backend, name, 2)) == (
        "production", "staging",
    )  # fmt: skip  # production is never replaced automatically
    promote_job(name, 2, "production", ml, data_dir)

    # drift on age: retrained on recent rows, the candidate does not clearly beat version 2
    (drift,) = check_triggers(p, NOW, None, {"age": "critical", "sex": "ok"})
    archived = retrain(p, drift, ml, data_dir, recent, tmp_path / "r3")
    assert (archived.version, archived.promoted_to) == (3, None)
    assert archived.archived is not None and "refused by gate(s) beats-production" in (
        archived.archived
    )
    assert "archived (promotion of" in archived.summary()
    # archived means archived: the registry keeps no stage for it either (issue 21)
    assert stage_of(sqlite_backend, name, 3) is None
    assert (stage_of(sqlite_backend, name, 2), stage_of(sqlite_backend, name, 1)) == (
        "production", None,
    )  # fmt: skip
    registry = ModelRegistry(ml, data_dir)
    try:
        last = registry.history(name)[-1]
    finally:
        registry.close()
    assert (last.action, last.version, last.from_stage) == ("archive", 3, "development")
    assert last.reason.startswith("promotion of") and "beats-production" in last.reason
    with Tracker(ml, data_dir) as tracker:
        record = tracker.get(archived.experiment_id or "")
    assert record.outcome is not None and record.outcome.verdict == "archived"

    assert entries(sqlite_backend, name) == [
        ("scheduled", "started", None), ("scheduled", "staged", 2),
        ("drift", "started", None), ("drift", "archived", 3),
    ]  # fmt: skip
    log = RetrainLog(ml, data_dir)
    try:
        rows = log.entries(name)
    finally:
        log.close()
    assert rows[2].reason == "critical drift on age" and str(recent) in rows[2].detail
    assert rows[3].experiment == archived.experiment_id and "beats-production" in rows[3].detail
