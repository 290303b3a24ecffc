"""Models from mltrack's registry, loaded once and kept current, for POST /v1/predict.

    predictor = Predictor(settings.ml, settings.data_dir)
    result = predictor.predict("adult-income", [{"age": 39, "workclass": "Private", ...}])
    result.version, result.scores, result.labels

Each model name serves its production version. The production alias is looked up again at
most every `refresh_s` seconds, so a promotion or a rollback takes effect without a restart;
a version is downloaded and loaded (no pickle: LightGBM text, XGBoost JSON, skops) once.

`warm_up` (called by `Services.warm_up`, in the server's start-up thread) opens the registry
before the first request: importing MLflow and creating or migrating its database take seconds
(2-7 s for a new SQLite file here, plus 2-3 s of import), which the first predict used to pay.

When the registry cannot be reached (its database is down: a connect times out in ~2 s), a
model already loaded keeps serving its version until the registry answers again; a model never
loaded raises RegistryUnavailable (the route's 503), remembered for `refresh_s` so that queued
requests do not each wait for a connect timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import MltrackError, TrackingError

if TYPE_CHECKING:
    from ragline.mltrack.tabular.data import Label
    from ragline.mltrack.tabular.features import FeaturePipeline
    from ragline.mltrack.tabular.models import TabularModel
    from ragline.mltrack.tracking.registry import ModelRegistry

log = logging.getLogger(__name__)


class ModelNotServed(MltrackError):
    """No such registered model, or it has no production version."""


class RegistryUnavailable(MltrackError):
    """The model registry cannot be reached, and the model has no version loaded yet."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """One request's predictions, in row order."""

    model: str
    version: int
    task: str
    scores: list[float]
    labels: list[Label] | None


@dataclass(slots=True)
class _Loaded:
    version: int
    model: TabularModel
    pipeline: FeaturePipeline | None
    checked: float


class Predictor:
    """Thread-safe: requests for one model share its loaded version."""

    def __init__(self, ml: MltrackConfig, data_dir: Path, refresh_s: float = 5.0) -> None:
        self._ml, self._data_dir = ml, data_dir
        self.refresh_s = refresh_s  # seconds between looks at the production alias
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self._registry: ModelRegistry | None = None  # opened on the first request, kept
        self._down: tuple[float, RegistryUnavailable] | None = None  # (until, error)

    def warm_up(self) -> None:
        """Open the registry now rather than in the first request; a registry that is down is
        logged and remembered as a request would remember it (RegistryUnavailable for
        `refresh_s`), and the next request looks again."""
        from ragline.mltrack.tracking.registry import ModelRegistry

        with self._lock:
            if self._registry is None:
                self._registry = ModelRegistry(self._ml, self._data_dir)
            try:  # any name: an absent model is one cheap read, after the database is ready
                self._registry.current("ragline-warm-up", "production")
            except TrackingError as exc:
                error = RegistryUnavailable(f"the model registry is unavailable: {exc}")
                self._down = (time.monotonic() + self.refresh_s, error)
                log.warning("predict warm-up: %s", error)

    def close(self) -> None:
        """Release the registry's connections."""
        with self._lock:
            if self._registry is not None:
                self._registry.close()
                self._registry = None

    def predict(self, name: str, rows: Sequence[Mapping[str, object]]) -> Prediction:
        """Scores (and labels) for `rows`; ModelNotServed, or DataError for missing columns."""
        loaded = self._current(name)  # first: a registry that is down fails before imports

        import pandas as pd

        from ragline.mltrack.tabular.models import predict_labels

        model, pipeline = loaded.model, loaded.pipeline
        meta = model.meta
        scores, best = predict_labels(model, pipeline, pd.DataFrame(list(rows)))
        labels = None
        if best is not None and meta.classes:  # multiclass: score is the label's probability
            labels = [meta.classes[i] for i in best.tolist()]
        return Prediction(name, loaded.version, meta.task, scores.tolist(), labels)

    def _current(self, name: str) -> _Loaded:
        with self._lock:
            known = self._loaded.get(name)
            now = time.monotonic()
            if known is not None and now - known.checked < self.refresh_s:
                return known
            if self._down is not None and now < self._down[0] and known is None:
                raise self._down[1]
            try:
                loaded = self._load(name, known)
            except TrackingError as exc:
                return self._unreachable(name, known, exc)
            self._down = None
            self._loaded[name] = loaded
            return loaded

    def _unreachable(self, name: str, known: _Loaded | None, exc: TrackingError) -> _Loaded:
        """The loaded version while the registry is down, else RegistryUnavailable (kept for
        `refresh_s`)."""
        now = time.monotonic()
        error = RegistryUnavailable(f"the model registry is unavailable: {exc}")
        self._down = (now + self.refresh_s, error)
        if known is None:
            raise error from exc
        known.checked = now  # serve it on; look at the registry again in refresh_s
        return known

    def _load(self, name: str, known: _Loaded | None) -> _Loaded:
        from ragline.mltrack.tracking.registry import ModelRegistry

        if self._registry is None:
            self._registry = ModelRegistry(self._ml, self._data_dir)
        registry = self._registry
        try:
            info = registry.current(name, "production")
            if info is None:
                raise ModelNotServed(
                    f"model {name!r} has no production version; train it and "
                    f"`ragline ml promote {name} VERSION --to production`"
                )
            if known is not None and known.version == info.version:
                known.checked = time.monotonic()
                return known
            from ragline.mltrack.tabular.artifacts import load_model, load_pipeline

            model, pipeline = registry.load_version(
                name, info.version, lambda folder: (load_model(folder), load_pipeline(folder))
            )
        except (ModelNotServed, TrackingError):
            raise
        except MltrackError as exc:
            raise ModelNotServed(f"model {name!r} cannot be served: {exc}") from exc
        return _Loaded(info.version, model, pipeline, time.monotonic())
