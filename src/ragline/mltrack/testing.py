"""Conformance suites for mltrack's seams, Haystack-style, and an in-memory `RunLogger`.

    class TestMyTracking(RunLoggerConformance):
        @pytest.fixture
        def run(self) -> Iterator[RunUnderTest]:
            with my_backend.start_run() as logger:
                yield RunUnderTest(logger, read=lambda: my_backend.read(logger.run_id))

RunLoggerConformance  `ragline.mltrack.tracking.protocols.RunLogger`: what training logs arrives
MemoryRunLogger       a `RunLogger` that keeps everything in memory (tests, dry runs)

The ledger's own suite is `ragline.core.testing.CostSinkConformance`. Needs pytest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ragline.mltrack.tracking.protocols import RunLogger


@dataclass
class LoggedRun:
    """What a run holds: params as text, the last value of each metric, tags, artifact names."""

    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: set[str] = field(default_factory=set)


class MemoryRunLogger:
    """A `RunLogger` that keeps one run in memory.

    run = MemoryRunLogger(); run.log_metrics({"auc": 0.9}); run.logged.metrics["auc"]
    """

    def __init__(self) -> None:
        self.logged = LoggedRun()
        self.history: list[tuple[str, float, int | None]] = []

    def log_params(self, params: Mapping[str, object]) -> None:
        self.logged.params.update({k: str(v) for k, v in params.items()})

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for name, value in metrics.items():
            self.logged.metrics[name] = float(value)
            self.history.append((name, float(value), step))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.logged.tags.update(tags)

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        names = [p.name for p in path.iterdir()] if path.is_dir() else [path.name]
        prefix = f"{folder}/" if folder else ""
        self.logged.artifacts.update(prefix + name for name in names)


@dataclass(frozen=True, slots=True)
class RunUnderTest:
    """A run logger, and how to read back what reached its backend (after it flushed)."""

    logger: RunLogger
    read: Callable[[], LoggedRun]


class RunLoggerConformance:
    """Tests every `RunLogger` passes. Subclasses provide a `run` fixture (`RunUnderTest`)."""

    @pytest.fixture
    def run(self) -> RunUnderTest:
        raise NotImplementedError("a backend's test class provides the `run` fixture")

    def test_is_a_run_logger(self, run: RunUnderTest) -> None:
        assert isinstance(run.logger, RunLogger)

    def test_params_metrics_and_tags_arrive(self, run: RunUnderTest) -> None:
        run.logger.log_params({"num_leaves": 31, "objective": "binary"})
        run.logger.log_metrics({"val_auc": 0.91, "val_logloss": 0.31})
        run.logger.set_tags({"team": "ml"})
        logged = run.read()
        assert {"num_leaves": "31", "objective": "binary"}.items() <= logged.params.items()
        assert logged.metrics["val_auc"] == pytest.approx(0.91)
        assert logged.metrics["val_logloss"] == pytest.approx(0.31)
        assert logged.tags["team"] == "ml"

    def test_a_metric_logged_per_step_keeps_its_last_value(self, run: RunUnderTest) -> None:
        for step, value in enumerate((0.5, 0.7, 0.8)):
            run.logger.log_metrics({"trial_auc": value}, step=step)
        assert run.read().metrics["trial_auc"] == pytest.approx(0.8)

    def test_artifacts_arrive_by_name(self, run: RunUnderTest, tmp_path: Path) -> None:
        report = tmp_path / "report.md"
        report.write_text("# report\n", encoding="utf-8")
        run.logger.log_artifact(report, "reports")
        assert "reports/report.md" in run.read().artifacts
