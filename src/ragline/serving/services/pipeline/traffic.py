"""The pipeline stages that send traffic: the load test of the candidate and the canary.

    rows = request_rows(frame, "income")
    report = load_test(settings, ("adult-income", 4), rows, LoadTestSpec(requests=200))
    state, rounds = drive_canary(settings, "adult-income", rows, CanarySpec())

Both go through the real FastAPI application (`ragline.serving.api.app.create_app`: routes,
validation, middleware, cost and prediction logging) served by uvicorn on a loopback port in
this process, as `ragline serve` serves it (TCP_NODELAY), over real HTTP from an
`httpx.Client`, driven by `ragline.serving.services.load.predict_load`.

The load test runs before the candidate may reach production, and the app's predictor serves
production versions only. So for the load test, and only there, the app's predictor is a
`Predictor` subclass pinned to the candidate: it loads the candidate version from the registry
the way the real predictor loads production (download, pickle check, `load_model` /
`load_pipeline`) and scores rows with the same call (`predict_labels`); everything in front of
it is the real app. One warm-up request (not counted) loads it before the measured ones. The
canary uses the unmodified app: the rollout (`ragline.mltrack.rollout`) decides per sticky user
which version answers, and judges the canary on the live signals the app records.

The HTTP door is looked up by its import path, as `ragline serve` hands uvicorn its factory
string: the CLI door must not import it (import-linter keeps ``cli.app`` and ``api``
independent), and `ragline pipeline` calls this service.
"""

from __future__ import annotations

import importlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.pipeline.config import CanarySpec, LoadTestSpec
from ragline.serving.services.load import LoadReport, predict_load
from ragline.serving.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from ragline.mltrack.rollout import RolloutState

__all__ = ["API", "drive_canary", "load_test", "request_rows", "serving_client"]

API = "ragline.serving.api"  # app.create_app(settings, services); services.Services(settings)
ROWS_FOR_LOAD = 500  # distinct rows the requests cycle through
Candidate = tuple[str, int]  # (model name, version) the load test serves
_START_S = 10.0  # the server starts in milliseconds; this bounds a failure to


def request_rows(
    frame: pd.DataFrame, target: str, limit: int = ROWS_FOR_LOAD
) -> list[dict[str, object]]:
    """Up to `limit` rows of `frame` without `target`, as JSON bodies carry them (NaN: null).

    Example:
        >>> import pandas as pd
        >>> request_rows(pd.DataFrame({"x": [1.5, None], "y": [0, 1]}), "y")
        [{'x': 1.5}, {'x': None}]
    """
    rows = frame.drop(columns=[target], errors="ignore").head(limit)
    parsed: list[dict[str, object]] = json.loads(rows.to_json(orient="records"))
    return parsed


def _api(module: str) -> Any:
    return importlib.import_module(f"{API}.{module}")


def _pinned_predictor(settings: Settings, name: str, version: int) -> Any:
    """The app's `Predictor`, serving `version` of `name` instead of production's."""
    predictor = _api("predictor")
    from ragline.mltrack.tabular.artifacts import load_model, load_pipeline
    from ragline.mltrack.tracking.registry import ModelRegistry

    registry = ModelRegistry(settings.ml, settings.data_dir)
    try:
        pinned = registry.load_version(name, version, lambda f: (load_model(f), load_pipeline(f)))
    finally:
        registry.close()

    base: Any = predictor.Predictor

    class PinnedPredictor(base):  # type: ignore[misc]
        # *_, **__: whatever else the route passes (a canary key) means nothing to a pin
        def predict(
            self, model: str, rows: Sequence[Mapping[str, object]], *_: object, **__: object
        ) -> Any:
            if model != name:
                raise predictor.ModelNotServed(f"the load test serves {name}:{version} only")
            import pandas as pd

            from ragline.mltrack.tabular.models import predict_labels

            loaded, pipeline = pinned
            meta = loaded.meta
            scores, best = predict_labels(loaded, pipeline, pd.DataFrame(list(rows)))
            labels = None
            if best is not None and meta.classes:  # multiclass: the label's probability
                labels = [meta.classes[i] for i in best.tolist()]
            return predictor.Prediction(name, version, meta.task, scores.tolist(), labels)

    return PinnedPredictor(settings.ml, settings.data_dir)


@contextmanager
def serving_client(
    settings: Settings, candidate: Candidate | None = None
) -> Iterator[httpx.Client]:
    """An httpx client to the real app built from `settings`, served by uvicorn on a free
    loopback port in a thread (as `ragline serve` runs it: `NoDelayHTTPProtocol`, no access
    log; the app's lifespan is not run, so nothing is warmed up that the predict path does not
    load itself); with `candidate`, its predictor serves that version (the load test). The
    server, the services and the request log are closed on exit.

    Example:
        >>> with serving_client(settings, ("adult-income", 4)) as client:  # doctest: +SKIP
        ...     client.post("/v1/predict/adult-income", json={"rows": rows[:1]}).json()["version"]
        4
    """
    services = _api("services").Services(settings)
    try:
        if candidate is not None:
            services.predictor = _pinned_predictor(settings, *candidate)
        app = _api("app").create_app(settings, services)
        try:
            with _served(app) as url, httpx.Client(base_url=url, timeout=30.0) as client:
                yield client
            services.costs_flush()
            services.predictions_flush()
        finally:  # what the app's lifespan would close
            if app.state.request_log is not None:
                app.state.request_log.close()
    finally:
        services.close()


def _quick_stop_class() -> Any:
    import asyncio

    import uvicorn

    class QuickStop(uvicorn.Server):
        """uvicorn's server looking for a shutdown every 10 ms, not 100: a load test's server
        lives about a second, and its stop is counted in the stage's time."""

        async def main_loop(self) -> None:
            counter = 0
            while not await self.on_tick(counter):
                counter = (counter + 1) % 864_000
                await asyncio.sleep(0.01)

    return QuickStop


@contextmanager
def _served(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a port the OS picks) until the block ends; yields its URL."""
    import uvicorn

    from ragline.serving.nodelay import NoDelayHTTPProtocol

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, http=NoDelayHTTPProtocol
    )
    server = _quick_stop_class()(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise MltrackError(f"the app did not start serving within {_START_S:g} s")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=_START_S)
        sock.close()


def load_test(
    settings: Settings,
    candidate: Candidate,
    rows: Sequence[Mapping[str, object]],
    spec: LoadTestSpec,
) -> LoadReport:
    """`spec.requests` predictions of the candidate through the real app; one warm-up request
    first (a failure there is raised: the rows or the model are wrong, not slow).

    Example:
        >>> spec = LoadTestSpec(requests=60)
        >>> load_test(settings, ("adult-income", 4), rows, spec).p99_ms  # doctest: +SKIP
        7.1
    """
    name = candidate[0]
    with serving_client(settings, candidate) as client:
        warm = client.post(f"/v1/predict/{name}", json={"rows": [dict(rows[0])]})
        if warm.status_code >= 400:
            raise MltrackError(
                f"the candidate does not answer POST /v1/predict/{name}: {warm.status_code} "
                f"{warm.text[:300]}"
            )
        return predict_load(
            client,
            name,
            rows,
            requests=spec.requests,
            users=spec.users,
            rps=spec.rps,
            batch=spec.batch,
        )


def drive_canary(
    settings: Settings,
    name: str,
    rows: Sequence[Mapping[str, object]],
    spec: CanarySpec,
    *,
    on_round: Callable[[int, LoadReport, RolloutState], None] | None = None,
) -> tuple[RolloutState, int]:
    """Send rounds of `spec.requests_per_round` predictions through the real app while the
    rollout of `name` runs (the app's live signals advance or roll it back); after
    `spec.max_rounds` rounds a still-running canary is aborted. Returns the final state and
    the rounds sent. MltrackError when `name` has no rollout.

    Example:
        >>> spec = CanarySpec(requests_per_round=200)
        >>> state, rounds = drive_canary(settings, "m", rows, spec)  # doctest: +SKIP
        >>> state.status, rounds  # doctest: +SKIP
        ('promoted', 4)
    """
    from ragline.mltrack.rollout import Rollouts
    from ragline.mltrack.tracking.experiments import ExperimentPlan
    from ragline.mltrack.tracking.registry import ModelRegistry

    registry = ModelRegistry(settings.ml, settings.data_dir)
    rollouts = Rollouts(registry, settings.ml.rollout)
    try:
        state = rollouts.status(name)
        rounds = 0
        with serving_client(settings) as client:
            while state is not None and state.status == "running" and rounds < spec.max_rounds:
                report = predict_load(
                    client, name, rows, requests=spec.requests_per_round, users=spec.users
                )
                rounds += 1
                state = rollouts.status(name)
                if on_round is not None and state is not None:
                    on_round(rounds, report, state)
        if state is None:
            raise MltrackError(f"{name} has no rollout to drive; start one first")
        if state.status == "running":
            actor = ExperimentPlan("", "", "").actor
            why = f"still at {state.percent}% after {rounds} rounds of canary traffic"
            state = rollouts.abort(name, actor=actor, reason=why)
        return state, rounds
    finally:
        registry.close()
