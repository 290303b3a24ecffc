"""Fixtures for tabular training: an in-memory RunLogger, a 5,000-row UCI Adult CSV and a
small synthetic multi-store daily time series."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.data.datasets import load_adult

ADULT_ROWS = 5_000


class MemoryLogger:
    """A RunLogger that keeps every call: ``order`` lists the kinds of call as they came."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.params: dict[str, object] = {}
        self.metrics: list[tuple[dict[str, float], int | None]] = []
        self.tags: dict[str, str] = {}
        self.artifacts: list[tuple[Path, str | None]] = []

    def log_params(self, params: Mapping[str, object]) -> None:
        self.order.append("params")
        self.params |= params

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.order.append("metrics")
        self.metrics.append((dict(metrics), step))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.order.append("tags")
        self.tags |= tags

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        self.order.append("artifact")
        self.artifacts.append((path, folder))


@pytest.fixture
def memory_logger() -> MemoryLogger:
    return MemoryLogger()


@pytest.fixture(scope="session")
def adult_frame() -> pd.DataFrame:
    """5,000 rows of UCI Adult (seeded sample), target "income" as "<=50K"/">50K" strings."""
    frame = load_adult().sample(ADULT_ROWS, random_state=0).reset_index(drop=True)
    frame["income"] = np.where(frame["income"] == 1, ">50K", "<=50K")
    return frame


@pytest.fixture(scope="session")
def adult_csv(adult_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("adult") / "adult.csv"
    adult_frame.to_csv(path, index=False)
    return path


ADULT_YAML = """
data: {{path: {path}, target: income, task: classification, positive_label: ">50K",
        protected: sex}}
split: {{kind: stratified, test_size: 0.2, valid_size: 0.2, seed: 0}}
features:
  numeric:
    - {{columns: [age, hours-per-week, education-num], ops: [standardize]}}
    - {{columns: [capital-*], ops: [log, {{bin: 8}}]}}
  categorical:
    - {{columns: [workclass, marital-status, relationship, race, sex], encoding: onehot}}
    - {{columns: [occupation, native-country, education], encoding: target, folds: 5}}
model: {{kind: {kind}, rounds: 150, early_stopping: 20, threads: 1}}
tune: {{trials: {trials}, seed: 0}}
metrics: {{resamples: 200, seed: 0}}
"""


@pytest.fixture
def adult_config(adult_csv: Path, tmp_path: Path) -> Callable[..., Path]:
    """Writes the Adult training YAML next to a test's files; returns its path."""

    def write(kind: str = "lightgbm", trials: int = 0) -> Path:
        path = tmp_path / f"adult-{kind}.yaml"
        path.write_text(ADULT_YAML.format(path=adult_csv, kind=kind, trials=trials), "utf-8")
        return path

    return write


def store_sales(stores: int = 6, days: int = 120, seed: int = 0) -> pd.DataFrame:
    """Daily sales per store with a weekly cycle and a store level, rows shuffled."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    rows = []
    for store in range(stores):
        level = 50.0 + 10.0 * store
        for day in dates:
            weekly = 8.0 * np.sin(2 * np.pi * day.day_of_week / 7)
            rows.append((f"s{store}", day, level + weekly + rng.normal(0, 2)))
    frame = pd.DataFrame(rows, columns=["store", "date", "sales"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
