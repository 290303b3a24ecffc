"""The `RunLogger` seam through the shipped conformance suite: MLflow runs (what training logs
to) and the in-memory logger that `ragline.mltrack.testing` ships."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ragline.mltrack.testing import (
    LoggedRun,
    MemoryRunLogger,
    RunLoggerConformance,
    RunUnderTest,
)
from ragline.mltrack.tracking.experiment_run import ActiveRun
from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker
from tests.mltrack.conftest import Backend

PLAN = ExperimentPlan("the seam carries what training logs", "sha256:0", "lightgbm", actor="t")


@pytest.mark.unit
class TestMemoryRunLogger(RunLoggerConformance):
    @pytest.fixture
    def run(self) -> RunUnderTest:
        logger = MemoryRunLogger()
        return RunUnderTest(logger, read=lambda: logger.logged)


def _read_mlflow(tracker: Tracker, run: ActiveRun) -> LoggedRun:
    """What reached MLflow for `run`, after writing what it buffers."""
    run.flush()
    client = tracker.store.client
    data = client.get_run(run.run_id).data
    artifacts = {
        f"{folder.path}/{child.path.rsplit('/', 1)[-1]}"
        for folder in client.list_artifacts(run.run_id)
        if folder.is_dir
        for child in client.list_artifacts(run.run_id, folder.path)
    }
    return LoggedRun(dict(data.params), dict(data.metrics), dict(data.tags), artifacts)


@pytest.mark.integration
class TestMlflowRun(RunLoggerConformance):
    @pytest.fixture
    def run(self, sqlite_backend: Backend) -> Iterator[RunUnderTest]:
        tracker = Tracker(sqlite_backend.config, sqlite_backend.data_dir)
        with tracker, tracker.start_run(PLAN) as active:
            yield RunUnderTest(active, read=lambda: _read_mlflow(tracker, active))
