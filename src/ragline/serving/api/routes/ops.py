"""Operations routes, without authentication: /health, /ready and /metrics.

    GET /health    200 {"status": "ok"} while the process is up (liveness)
    GET /ready     200 {"ready": true, "parts": {...}} once warm and every part is ready, else
                   503 with the parts that are not (readiness: send traffic only then)
    GET /metrics   Prometheus text (ragline.serving.api.metrics)

`WarmUp` runs the services' warm-up in a background thread at start-up, so /health answers
at once and /ready stays false until the models are loaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Literal, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ragline.serving.api.metrics import Metrics
from ragline.serving.logs import ERROR_LOGGER

WarmState = Literal["warming", "done", "failed"]
log = logging.getLogger(ERROR_LOGGER)


class OpsStats(Protocol):
    """What /metrics reads from `Services.stats()`."""

    @property
    def breakers(self) -> Mapping[str, str]: ...


class OpsServices(Protocol):
    """The part of `ragline.serving.api.services.Services` the ops routes use."""

    def ready(self) -> tuple[bool, dict[str, str]]: ...

    def stats(self) -> OpsStats: ...


class WarmUp:
    """The state of the start-up warm-up, which runs once in a background thread.

    warm = WarmUp()
    warm.start(services.warm_up)
    warm.state            # "warming", then "done" (or "failed": see the server log)
    """

    def __init__(self) -> None:
        self._done = threading.Event()
        self._failed = False
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> WarmState:
        if not self._done.is_set():
            return "warming"
        return "failed" if self._failed else "done"

    def start(self, warm_up: Callable[[], None]) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(warm_up,), name="ragline-warm-up", daemon=True
        )
        self._thread.start()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Blocks until the warm-up ended (or `timeout_s` passed); True if it ended."""
        return self._done.wait(timeout_s)

    def _run(self, warm_up: Callable[[], None]) -> None:
        try:
            warm_up()
        except Exception as exc:  # reported by /ready and logged, not hidden
            self._failed = True
            log.error("warm-up failed; /ready stays false", exc_info=exc)
        finally:
            self._done.set()


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    parts: dict[str, str]


router = APIRouter(tags=["ops"])


@router.get("/health")
async def health() -> Health:
    """Liveness: the process is up (async, so a busy thread pool cannot delay it)."""
    return Health()


@router.get("/ready", responses={503: {"model": Readiness, "description": "not ready yet"}})
async def ready(request: Request) -> JSONResponse:
    """Readiness: warmed up, and every part (store, collection, models) reports ready."""
    readiness = await run_in_threadpool(check_ready, request.app.state.warm, _services(request))
    return JSONResponse(readiness.model_dump(), status_code=200 if readiness.ready else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    """Prometheus exposition of this worker's registry."""
    services, sink = _services(request), request.app.state.metrics
    assert isinstance(sink, Metrics)
    readiness = await run_in_threadpool(check_ready, request.app.state.warm, services)
    stats = await run_in_threadpool(services.stats)
    sink.observe_services(stats.breakers, readiness.ready)
    body, content_type = sink.render()
    return Response(body, media_type=content_type)


def check_ready(warm: WarmUp, services: OpsServices) -> Readiness:
    """The readiness report: the warm-up state, then each part's status from the services."""
    state = warm.state
    if state != "done":
        detail = "failed (see the server log)" if state == "failed" else state
        return Readiness(ready=False, parts={"warm_up": detail})
    try:
        ok, parts = services.ready()
    except Exception as exc:  # not ready is the answer; the cause is logged
        log.error("readiness check failed", exc_info=exc)
        return Readiness(ready=False, parts={"warm_up": "done", "services": "check failed"})
    return Readiness(ready=ok, parts={"warm_up": "done", **parts})


def _services(request: Request) -> OpsServices:
    services: OpsServices = request.app.state.services
    return services
