"""The seam between training code and the tracking backend.

Training (`ragline.mltrack.tabular`) logs through `RunLogger`;
`ragline.mltrack.tracking.experiments` implements it on MLflow with batched writes, and tests can
use an in-memory one.

    with tracker.start_run(record) as run:      # run: RunLogger
        run.log_params({"num_leaves": 31})
        run.log_metrics({"val_auc": 0.93}, step=3)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class RunLogger(Protocol):
    """Where one run's parameters, metrics, tags and files go."""

    def log_params(self, params: Mapping[str, object]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...

    def set_tags(self, tags: Mapping[str, str]) -> None: ...

    def log_artifact(self, path: Path, folder: str | None = None) -> None: ...
