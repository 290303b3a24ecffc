"""`ragline serve` writes one request-log row per /v1 request: route template, status, latency,
caller, A/B arm and cache outcome; probes and bodies are not logged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from ragline.mltrack.monitor.config import RequestLogConfig
from ragline.mltrack.monitor.request_log import CACHE_HIT, CACHE_MISS, CACHE_NONE, RequestLog

pytestmark = pytest.mark.integration

probe = APIRouter(prefix="/v1/probe")


@probe.get("/{name}")
def answer(name: str) -> JSONResponse:
    if name == "boom":
        raise RuntimeError("boom")
    headers = {"X-Ragline-Arm": "treatment", "X-Ragline-Cache": name}
    return JSONResponse({"name": name}, headers=headers)


def test_v1_requests_are_logged_with_arm_and_cache(
    make_app: Callable[..., FastAPI], tmp_path: Path
) -> None:
    app = make_app(routers=[probe])
    with TestClient(app, raise_server_exceptions=False) as client:
        for name in ("exact", "miss", "semantic", "boom"):
            client.get(f"/v1/probe/{name}", headers={"X-Request-ID": f"req-{name}"})
        client.get("/health")
        client.get("/metrics")
    # the lifespan closed (and flushed) the log; read it back
    now = datetime.now(UTC)
    with RequestLog(RequestLogConfig(), tmp_path / "data") as log:
        window = log.window(now - timedelta(minutes=5), now + timedelta(seconds=1))
        arms = log.assignments()
    assert window.ts.size == 4  # /health and /metrics are not traffic
    assert window.status.tolist() == [200, 200, 200, 500]
    assert window.cache.tolist() == [CACHE_HIT, CACHE_MISS, CACHE_HIT, CACHE_NONE]
    assert (window.latency_ms > 0).all()
    assert arms == {"req-exact": "treatment", "req-miss": "treatment", "req-semantic": "treatment"}


def test_request_log_can_be_turned_off(make_app: Callable[..., FastAPI], tmp_path: Path) -> None:
    config: dict[str, Any] = {"monitor": {"request_log": {"enabled": False}}}
    app = make_app(config, routers=[probe])
    with TestClient(app) as client:
        assert client.get("/v1/probe/miss").status_code == 200
    assert app.state.request_log is None
    assert not (tmp_path / "data" / "requests.db").exists()
