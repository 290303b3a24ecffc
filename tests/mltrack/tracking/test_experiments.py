"""Experiments on a real MLflow store (SQLite, and PostgreSQL where marked): records round-trip,
ids, batching, trials, nested runs, failures, dataset hashes."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import DataError, TrackingError
from ragline.mltrack.tracking.experiments import (
    BaselineDelta,
    ExperimentPlan,
    MetricValue,
    Tracker,
    dataset_version,
)
from ragline.mltrack.tracking.mlflow_store import ledger_url, redact, resolve_tracking_uri
from tests.mltrack.conftest import Backend

pytestmark = [
    pytest.mark.integration,
    # MLflow's SQLAlchemy models use a loader strategy SQLAlchemy 2.1 deprecates
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*"),
]

TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
PLAN = ExperimentPlan(
    hypothesis="deeper trees separate the long-tenure churners",
    dataset_version="sha256:0123456789abcdef",
    model_type="lightgbm",
    features=("tenure", "spend", "plan"),
    params={"num_leaves": 63, "learning_rate": 0.05, "objective": "binary", "bagging": False},
    actor="ana",
    command="ragline ml train churn.yaml",
)


def test_record_round_trips(backend: Backend, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("why we tried this")
    report = tmp_path / "report"
    report.mkdir()
    (report / "summary.json").write_text("{}")
    with Tracker(backend.config, backend.data_dir) as tracker:
        with tracker.start_run(PLAN) as run:
            run.log_params({"max_depth": 7})
            run.log_metrics({"val_auc": 0.80}, step=1)
            run.log_artifact(notes, "docs")
            run.log_artifact(report)
            run.finish(
                "promoted",
                MetricValue("auc", 0.91, 0.89, 0.93),
                {"logloss": 0.31, "recall": 0.7},
                BaselineDelta("EXP-2026-01-02-003", 0.02, 0.005, 0.035),
            )
        record = tracker.get(run.exp_id)
    assert re.fullmatch(rf"EXP-{TODAY}-\d{{3,}}", record.id)
    assert record.run_id == run.run_id
    assert record.plan == ExperimentPlan(
        PLAN.hypothesis,
        PLAN.dataset_version,
        PLAN.model_type,
        PLAN.features,
        {**PLAN.params, "max_depth": 7},  # numbers and booleans come back typed
        "ana",
        PLAN.command,
    )
    assert record.outcome is not None
    assert record.outcome.verdict == "promoted"
    assert record.outcome.primary == MetricValue("auc", 0.91, 0.89, 0.93)
    assert record.outcome.secondary == {"logloss": 0.31, "recall": 0.7}
    assert record.outcome.baseline == BaselineDelta("EXP-2026-01-02-003", 0.02, 0.005, 0.035)
    assert record.artifacts == ("docs/notes.txt", "report")
    stored = tracker.store.client.list_artifacts(run.run_id, "report")
    assert [a.path for a in stored] == ["report/summary.json"]
    assert record.status == "FINISHED"
    assert record.wall_clock_s is not None and 0 < record.wall_clock_s < 60
    assert abs((datetime.now(UTC) - record.started_at).total_seconds()) < 120


def test_mlflow_ui_shows_the_record(sqlite_backend: Backend) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    with tracker.start_run(PLAN) as run:
        run.finish("archived", MetricValue("auc", 0.7))
    mlflow_run = tracker.store.client.get_run(run.run_id)
    assert mlflow_run.info.run_name == run.exp_id
    assert mlflow_run.data.tags["mlflow.note.content"] == PLAN.hypothesis
    assert mlflow_run.data.tags["mlflow.user"] == "ana"
    assert mlflow_run.data.params["num_leaves"] == "63"
    assert mlflow_run.data.tags["ragline.verdict"] == "archived"
    tracker.close()


def test_ids_count_up_per_day(sqlite_backend: Backend) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    ids = []
    for _ in range(3):
        with tracker.start_run(PLAN) as run:
            ids.append(run.exp_id)
    assert ids == [f"EXP-{TODAY}-001", f"EXP-{TODAY}-002", f"EXP-{TODAY}-003"]
    tracker.close()


def test_concurrent_trackers_never_share_an_id(sqlite_backend: Backend) -> None:
    # two trackers (as two processes would) on one store, four threads starting runs at once
    trackers = [Tracker(sqlite_backend.config, sqlite_backend.data_dir) for _ in range(2)]
    for tracker in trackers:
        _ = tracker.experiment_id
    ids: list[str] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(4)

    def start(tracker: Tracker) -> None:
        barrier.wait()
        try:
            for _ in range(2):
                with tracker.start_run(PLAN) as run:
                    ids.append(run.exp_id)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(trackers[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(ids) == [f"EXP-{TODAY}-{n:03d}" for n in range(1, 9)]
    for tracker in trackers:
        tracker.close()


def test_trials_are_batched_step_metrics(
    sqlite_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    client = tracker.store.client
    calls: list[int] = []
    real = client.log_batch

    def counting(run_id: str, metrics=(), params=(), tags=(), synchronous=None):  # type: ignore[no-untyped-def]
        calls.append(len(metrics) + len(params) + len(tags))
        return real(run_id, metrics, params, tags, synchronous=synchronous)

    monkeypatch.setattr(client, "log_batch", counting)
    with tracker.start_run(PLAN) as run:
        start_calls = len(calls)
        for trial in range(200):
            run.log_trial(trial, {"lr": 0.01 * (trial + 1)}, {"val_auc": trial / 200, "t": 1.0})
        assert len(calls) == start_calls  # nothing written while trials run
        run.finish("iterate", MetricValue("val_auc", 0.995))
    # the run's start is one call; its end writes 400 trial metrics + outcome in one more
    assert len(calls) == start_calls + 1
    assert max(calls) <= 1000
    history = client.get_metric_history(run.run_id, "trial.val_auc")
    assert sorted(m.step for m in history) == list(range(200))
    local = Path(
        client.download_artifacts(run.run_id, "trials.jsonl", str(sqlite_backend.data_dir))
    )
    trials = [json.loads(line) for line in local.read_text().splitlines()]
    assert len(trials) == 200
    assert trials[7] == {
        "number": 7,
        "params": {"lr": 0.08},
        "metrics": {"val_auc": 0.035, "t": 1.0},
    }
    tracker.close()


def test_flush_every_bounds_the_buffer(sqlite_backend: Backend) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    with tracker.start_run(PLAN, flush_every=50) as run:
        for step in range(120):
            run.log_metrics({"loss": 1 / (step + 1)}, step=step)
        # two flushes of 50 happened; 20 still buffered
        written = tracker.store.client.get_metric_history(run.run_id, "loss")
        assert len(written) == 100
    assert len(tracker.store.client.get_metric_history(run.run_id, "loss")) == 120
    tracker.close()


def test_final_metric_value_wins_over_training_steps(sqlite_backend: Backend) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    with tracker.start_run(PLAN) as run:
        for step, auc in enumerate((0.6, 0.95, 0.7)):
            run.log_metrics({"auc": auc}, step=step)
        run.finish("iterate", MetricValue("auc", 0.8))
    outcome = tracker.get(run.exp_id).outcome
    assert outcome is not None and outcome.primary.value == 0.8
    tracker.close()


def test_params_are_fixed_per_run(sqlite_backend: Backend) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    with tracker.start_run(PLAN) as run:
        run.log_params({"num_leaves": 63})  # the same value again is fine
        with pytest.raises(TrackingError, match="log per-trial values with log_trial"):
            run.log_params({"num_leaves": 31})
    tracker.close()


def test_failed_block_marks_the_run_failed_and_keeps_its_metrics(sqlite_backend: Backend) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    with pytest.raises(RuntimeError, match="boom"), tracker.start_run(PLAN) as run:
        run.log_metrics({"val_auc": 0.5}, step=0)
        raise RuntimeError("boom")
    record = tracker.get(run.exp_id)
    assert record.status == "FAILED"
    assert record.outcome is None
    assert tracker.store.client.get_run(run.run_id).data.metrics["val_auc"] == 0.5
    tracker.close()


def test_nested_runs_and_listing(backend: Backend) -> None:
    tracker = Tracker(backend.config, backend.data_dir)
    with tracker.start_run(PLAN) as parent:
        for fold in range(2):
            with tracker.start_run(PLAN, parent=parent) as child:
                child.finish("iterate", MetricValue("auc", 0.8 + fold / 100))
        parent.finish("promoted", MetricValue("auc", 0.805))
    with tracker.start_run(PLAN) as other:
        other.finish("archived", MetricValue("auc", 0.7))
    child_record = tracker.get(f"{parent.exp_id}.2")
    assert child_record.parent_id == parent.exp_id
    assert tracker.store.client.get_run(child.run_id).data.tags["mlflow.parentRunId"] == (
        parent.run_id
    )
    assert [r.id for r in tracker.list()] == [other.exp_id, parent.exp_id]
    assert [r.id for r in tracker.list(verdict="promoted")] == [parent.exp_id]
    assert len(tracker.list(children=True, day=TODAY)) == 4
    assert tracker.list(day="1999-01-01") == ()
    tracker.close()


def test_long_text_is_spilled_over_tags(sqlite_backend: Backend) -> None:
    features = tuple(f"feature_{i:05d}" for i in range(1500))  # ~24k characters of JSON
    plan = ExperimentPlan("h" * 9000, "sha256:0", "xgboost", features, actor="ben", command="x")
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    with tracker.start_run(plan) as run:
        pass
    record = tracker.get(run.exp_id)
    assert record.plan.features == features
    assert record.plan.hypothesis == "h" * 9000
    tracker.close()


def test_get_explains_unknown_and_malformed_ids(sqlite_backend: Backend) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    with pytest.raises(TrackingError, match=r"no experiment EXP-1999-01-01-001 .*Tracker.list"):
        tracker.get("EXP-1999-01-01-001")
    with pytest.raises(ValueError, match="not an experiment id"):
        tracker.get("run-42' OR 1=1")
    with pytest.raises(ValueError, match="verdict must be one of"):
        tracker.list(verdict="shipped")  # type: ignore[arg-type]
    tracker.close()


def test_finish_validates_its_inputs(sqlite_backend: Backend) -> None:
    tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
    with tracker.start_run(PLAN) as run:
        with pytest.raises(ValueError, match="verdict must be one of promoted, archived, iterate"):
            run.finish("shipped", MetricValue("auc", 0.9))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="drop it from secondary"):
            run.finish("iterate", MetricValue("auc", 0.9), {"auc": 0.9})
    tracker.close()


def test_dataset_version_hashes_content(tmp_path: Path) -> None:
    import pandas as pd

    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y\n1,2\n")
    b.write_text("x,y\n1,2\n")
    assert dataset_version(a) == dataset_version(str(b))  # content, not name
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", dataset_version(a))
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "part-0.csv").write_text("1\n")
    before = dataset_version(folder)
    (folder / "part-0.csv").write_text("2\n")
    assert dataset_version(folder) != before
    frame = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    assert dataset_version(frame) == dataset_version(frame.copy())
    assert dataset_version(frame) != dataset_version(frame.assign(x=[1, 3]))
    with pytest.raises(DataError, match="no such file or folder"):
        dataset_version(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="pass a path or a pandas DataFrame"):
        dataset_version(42)


def test_store_uris(tmp_path: Path) -> None:
    assert resolve_tracking_uri(MltrackConfig(), tmp_path) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    pg = resolve_tracking_uri(MltrackConfig(tracking_uri="postgresql://u@db/ml"), tmp_path)
    assert pg == "postgresql+psycopg://u@db/ml"  # only psycopg 3 is installed
    assert ledger_url(pg, tmp_path) == pg  # mltrack's tables sit beside MLflow's
    assert ledger_url("http://mlflow:5000", tmp_path) == f"sqlite:///{tmp_path / 'mltrack.db'}"
    assert redact("postgresql://ml:s3cret@db/ml") == "postgresql://ml:***@db/ml"
    assert redact("http://mlflow:5000") == "http://mlflow:5000"
