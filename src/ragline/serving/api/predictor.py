"""Models from mltrack's registry, loaded once and kept current, for POST /v1/predict.

    predictor = Predictor(settings.ml, settings.data_dir)
    result = predictor.predict("adult-income", [{"age": 39, "workclass": "Private", ...}])
    result.version, result.scores, result.labels

Each model name serves its production version. The production alias is looked up again at
most every `refresh_s` seconds, so a promotion or a rollback takes effect without a restart;
a version is downloaded and loaded (no pickle: LightGBM text, XGBoost JSON, skops) once.

Gradual rollout (`ragline.mltrack.rollout`): the model's running rollout is looked up at the same
cadence. Its canary version serves the callers whose sticky key (`predict(..., key=...)`: the
request's `user`, else the API key's name) hashes into the canary's percent
(`ragline.mltrack.rollout.policy.in_canary`: a larger percent keeps the earlier users). Both
versions' requests, errors, latency and scores feed per-process windows; after each canary
request the rollout is judged (`Rollouts.judge`): a breach rolls the canary back, a healthy
stage advances, and this process follows the new state at once (other replicas within `refresh_s`).

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
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import MltrackError, TrackingError
from ragline.mltrack.rollout.window import SignalWindow

if TYPE_CHECKING:
    from ragline.mltrack.rollout.policy import MetricSignals, VersionSignals
    from ragline.mltrack.rollout.service import Rollouts
    from ragline.mltrack.rollout.state import RolloutState
    from ragline.mltrack.tabular.data import Label
    from ragline.mltrack.tabular.features import FeaturePipeline
    from ragline.mltrack.tabular.models import TabularModel
    from ragline.mltrack.tracking.registry import ModelRegistry

# The primary metric of both versions on labelled predictions (None: not enough labels yet)
MetricSource: TypeAlias = "Callable[[RolloutState], MetricSignals | None]"

log = logging.getLogger(__name__)
_REPLICA = f"{socket.gethostname()}:{os.getpid()}"  # which server published a rollout's signals


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


@dataclass(frozen=True, slots=True)
class _Version:
    version: int
    model: TabularModel
    pipeline: FeaturePipeline | None


@dataclass(slots=True)
class _Loaded:
    production: _Version
    checked: float
    rollout: RolloutState | None = None  # a running rollout of this model, else None
    canary: _Version | None = None
    metric: MetricSignals | None = None

    @property
    def version(self) -> int:
        return self.production.version


class Predictor:
    """Thread-safe: requests for one model share its loaded version."""

    def __init__(
        self,
        ml: MltrackConfig,
        data_dir: Path,
        refresh_s: float = 5.0,
        *,
        metric_source: MetricSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ml, self._data_dir = ml, data_dir
        self.refresh_s = refresh_s  # seconds between looks at the production alias
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self._registry: ModelRegistry | None = None  # opened on the first request, kept
        self._rollouts: Rollouts | None = None
        self._down: tuple[float, RegistryUnavailable] | None = None  # (until, error)
        self._window = SignalWindow(ml.rollout.window_s, clock)
        self._metric_source = metric_source

    def warm_up(self) -> None:
        """Open the registry now rather than in the first request; a registry that is down is
        logged and remembered as a request would remember it (RegistryUnavailable for
        `refresh_s`), and the next request looks again."""
        with self._lock:
            registry = self._open_registry()
            try:  # any name: an absent model is one cheap read, after the database is ready
                registry.current("ragline-warm-up", "production")
            except TrackingError as exc:
                error = RegistryUnavailable(f"the model registry is unavailable: {exc}")
                self._down = (time.monotonic() + self.refresh_s, error)
                log.warning("predict warm-up: %s", error)

    def close(self) -> None:
        """Release the registry's connections."""
        with self._lock:
            if self._registry is not None:
                self._registry.close()
                self._registry, self._rollouts = None, None

    def predict(
        self, name: str, rows: Sequence[Mapping[str, object]], *, key: str | None = None
    ) -> Prediction:
        """Scores (and labels) for `rows`; ModelNotServed, or DataError for missing columns.
        `key` (a caller or user id) makes the request eligible for a running canary."""
        loaded = self._current(name)  # first: a registry that is down fails before imports
        served = self._choose(name, loaded, key)
        started = time.perf_counter()
        try:
            result = _predict(name, served, rows)
        except (MltrackError, KeyError, ValueError):
            self._observe(name, loaded, served, (time.perf_counter() - started) * 1000, None)
            raise
        self._observe(name, loaded, served, (time.perf_counter() - started) * 1000, result)
        return result

    def _choose(self, name: str, loaded: _Loaded, key: str | None) -> _Version:
        state, canary = loaded.rollout, loaded.canary
        if state is None or canary is None or key is None or not state.running:
            return loaded.production
        from ragline.mltrack.rollout.policy import in_canary

        chosen = in_canary(name, state.version, state.percent, key)
        return canary if chosen else loaded.production

    def _observe(
        self,
        name: str,
        loaded: _Loaded,
        served: _Version,
        latency_ms: float,
        result: Prediction | None,
    ) -> None:
        """Feed the rollout's windows (only while one runs); judge after a canary request."""
        state = loaded.rollout
        if state is None or not state.running:
            return
        is_canary = served is loaded.canary
        key = _canary_key(state) if is_canary else (name, served.version)
        scores = result.scores if result is not None else ()
        self._window.add(key, ok=result is not None, latency_ms=latency_ms, scores=scores)
        if is_canary:
            self._judge(name, loaded, state)

    def _judge(self, name: str, loaded: _Loaded, state: RolloutState) -> None:
        from ragline.mltrack.rollout.policy import judge
        from ragline.mltrack.tracking.audit import By

        policy = self._ml.rollout
        canary = self._window.signals(_canary_key(state))
        if canary.requests < policy.min_requests:
            return
        production = self._production_signals(name, loaded)
        if judge(canary, production, loaded.metric, policy).action == "wait":
            return
        by = By("ragline-serve", f"POST /v1/predict/{name} (rollout verdict)")
        with self._lock:
            current = self._loaded.get(name, loaded)
            seen = current.rollout
            if seen is None or (seen.id, seen.revision) != (state.id, state.revision):
                return  # another request judged it meanwhile
            try:
                new = self._open_rollouts().judge(state, canary, production, loaded.metric, by=by)
            except TrackingError as exc:
                log.warning("rollout of %s not judged (the registry did not answer): %s", name, exc)
                return
            self._follow(current, new)
        if new.status == "rolled_back":
            log.warning("rollout of %s version %d rolled back: %s", name, new.version, new.reason)

    def _production_signals(self, name: str, loaded: _Loaded) -> VersionSignals:
        # kept past the window: at 100% production gets no traffic but stays the reference
        keep = self._ml.rollout.min_requests
        return self._window.signals((name, loaded.production.version), keep_at_least=keep)

    def _follow(self, loaded: _Loaded, new: RolloutState) -> None:
        """This process serves `new` from now on (called with the lock held)."""
        self._publish(new.name, loaded)  # the numbers the verdict saw, for `rollout status`
        loaded.rollout = new if new.running else None
        if not new.running:
            loaded.canary = None
            ended = _canary_key(new)[:3]  # every stage's canary window of this rollout
            self._window.forget(lambda key: isinstance(key, tuple) and key[:3] == ended)
            loaded.checked = -float("inf")  # promoted: read the production alias again

    def _publish(self, name: str, loaded: _Loaded) -> None:
        """This replica's windows of the running rollout, for `ragline ml rollout status`
        (best effort: a registry that does not answer costs the status a few seconds)."""
        from ragline.mltrack.rollout.policy import score_kl
        from ragline.mltrack.rollout.state import SignalReport

        state = loaded.rollout
        if state is None:
            return
        canary = self._window.signals(_canary_key(state))
        production = self._production_signals(name, loaded)
        kl, now = score_kl(production.scores, canary.scores), datetime.now(UTC)
        pairs = (("canary", state.version, canary), ("production", loaded.version, production))
        reports = [
            SignalReport(_REPLICA, role, v, state.percent, s.requests, s.errors, s.p95_ms, kl, now)
            for role, v, s in pairs
        ]
        try:
            self._open_rollouts().store.publish(state, reports)
        except TrackingError as exc:
            log.warning("signals of %s's rollout not published: %s", name, exc)

    def rollout_signals(self, name: str) -> tuple[VersionSignals, VersionSignals] | None:
        """This process's (canary, production) windows of `name`'s running rollout, or None."""
        loaded = self._loaded.get(name)
        if loaded is None or loaded.rollout is None:
            return None
        canary = self._window.signals(_canary_key(loaded.rollout))
        return canary, self._production_signals(name, loaded)

    def _current(self, name: str) -> _Loaded:
        with self._lock:
            known = self._loaded.get(name)
            now = time.monotonic()
            if known is not None and now - known.checked < self.refresh_s:
                return known
            if self._down is not None and now < self._down[0] and known is None:
                raise self._down[1]
            if known is not None and known.rollout is not None and self._down is None:
                self._publish(name, known)  # every refresh_s while a rollout runs
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

    def _open_registry(self) -> ModelRegistry:
        from ragline.mltrack.tracking.registry import ModelRegistry

        if self._registry is None:
            self._registry = ModelRegistry(self._ml, self._data_dir)
        return self._registry

    def _open_rollouts(self) -> Rollouts:
        from ragline.mltrack.rollout.service import Rollouts

        if self._rollouts is None:
            self._rollouts = Rollouts(self._open_registry(), self._ml.rollout)
        return self._rollouts

    def _load(self, name: str, known: _Loaded | None) -> _Loaded:
        registry = self._open_registry()
        try:
            info = registry.current(name, "production")
            if info is None:
                raise ModelNotServed(
                    f"model {name!r} has no production version; train it and "
                    f"`ragline ml promote {name} VERSION --to production`"
                )
            production = self._version(name, info.version, known)
            state = self._open_rollouts().status(name)
            loaded = _Loaded(production, time.monotonic())
            if state is not None and state.running and state.version != info.version:
                loaded.rollout, loaded.canary = state, self._version(name, state.version, known)
                loaded.metric = self._metric(state)
        except (ModelNotServed, TrackingError):
            raise
        except MltrackError as exc:
            raise ModelNotServed(f"model {name!r} cannot be served: {exc}") from exc
        return loaded

    def _metric(self, state: RolloutState) -> MetricSignals | None:
        if self._metric_source is None:
            return None
        try:
            return self._metric_source(state)
        except MltrackError as exc:  # the labels signal waits; serving must not
            log.warning("labels of %s's rollout not read: %s", state.name, exc)
            return None

    def _version(self, name: str, version: int, known: _Loaded | None) -> _Version:
        """`version` of `name`, loaded once: reused from `known` when it holds it."""
        if known is not None:
            for held in (known.production, known.canary):
                if held is not None and held.version == version:
                    return held
        from ragline.mltrack.tabular.artifacts import load_model, load_pipeline

        model, pipeline = self._open_registry().load_version(
            name, version, lambda folder: (load_model(folder), load_pipeline(folder))
        )
        return _Version(version, model, pipeline)


def _canary_key(state: RolloutState) -> tuple[str, int, int, int]:
    # a new stage (percent) or a new rollout (id) starts an empty canary window
    return (state.name, state.version, state.id, state.percent)


def _predict(name: str, served: _Version, rows: Sequence[Mapping[str, object]]) -> Prediction:
    import pandas as pd

    from ragline.mltrack.tabular.models import predict_labels

    meta = served.model.meta
    scores, best = predict_labels(served.model, served.pipeline, pd.DataFrame(list(rows)))
    labels = None
    if best is not None and meta.classes:  # multiclass: score is the label's probability
        labels = [meta.classes[i] for i in best.tolist()]
    return Prediction(name, served.version, meta.task, scores.tolist(), labels)
