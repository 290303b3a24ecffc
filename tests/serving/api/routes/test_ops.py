"""/health, /ready, /metrics and the JSON logs: a real keyless `ragline serve` on loopback, plus
in-process checks with fake services whose warm-up the test controls."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from ragline.core.costs import CostEvent
from ragline.serving.api.metrics import Metrics
from ragline.serving.logs import JsonFormatter
from tests.serving.api.conftest import FakeServices, FakeStats, LiveServer

pytestmark = pytest.mark.integration

ACCESS_FIELDS = {"ts", "level", "request_id", "caller", "method", "path", "status", "latency_ms"}


@pytest.fixture(scope="module")
def keyless(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server(name="keyless")


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the first sample of `name` with these labels in Prometheus text."""
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if metric == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


# -- a real server -----------------------------------------------------------------------------


@pytest.mark.slow
def test_health_at_once_then_ready_after_warm_up(keyless: LiveServer) -> None:
    assert httpx.get(f"{keyless.url}/health").json() == {"status": "ok"}
    statuses = keyless.wait_ready()
    # Not-ready answers (while the model loads) come only before the first ready one.
    assert statuses[-1] == 200 and all(s == 503 for s in statuses[:-1])
    ready = httpx.get(f"{keyless.url}/ready").json()
    assert ready["ready"] is True
    assert ready["parts"]["warm_up"] == "done"
    assert len(ready["parts"]) > 1  # the services' own parts (store, models)


@pytest.mark.slow
def test_metrics_count_routes_by_template(keyless: LiveServer) -> None:
    keyless.wait_ready()
    for _ in range(3):
        assert httpx.get(f"{keyless.url}/v1/models").status_code == 200
    assert httpx.get(f"{keyless.url}/v1/ingest/{'feedface' * 4}").status_code == 404
    assert httpx.get(f"{keyless.url}/no/such/page").status_code == 404
    chat = {"model": "ragline", "messages": [{"role": "user", "content": "What is yeast?"}]}
    assert httpx.post(f"{keyless.url}/v1/chat/completions", json=chat).status_code == 200
    response = httpx.get(f"{keyless.url}/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    models = sample(text, "ragline_requests_total", route="/v1/models", method="GET", status="200")
    assert models == 3.0
    job = "/v1/ingest/{job_id}"
    assert sample(text, "ragline_requests_total", route=job, status="404") == 1.0
    assert sample(text, "ragline_requests_total", route="unmatched", status="404") == 1.0
    assert "feedface" not in text and "/no/such/page" not in text
    assert sample(text, "ragline_request_seconds_count", route="/v1/models") == 3.0
    assert sample(text, "ragline_ready") == 1.0
    tokens_out = sample(text, "ragline_tokens_total", direction="out")
    assert tokens_out is not None and tokens_out > 0  # the extractive answer, via Metrics.record


@pytest.mark.slow
def test_every_log_line_is_json_and_access_lines_carry_the_fields(keyless: LiveServer) -> None:
    httpx.get(f"{keyless.url}/health", headers={"X-Request-ID": "ops-log-1"})
    access = keyless.access_log("ops-log-1")
    assert set(access) >= ACCESS_FIELDS
    assert access["caller"] is None  # /health is not behind auth
    lines = keyless.logs()  # fails on any line that is not JSON
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    v1 = [line for line in keyless.access_logs() if line["path"].startswith("/v1/")]
    assert v1 and all(line["caller"] == "anonymous" for line in v1)


# -- in process --------------------------------------------------------------------------------


def test_ready_is_false_until_the_warm_up_ends(make_app: Callable[..., FastAPI]) -> None:
    gate = threading.Event()
    services = FakeServices(gate=gate)
    app = make_app(services=services)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        warming = client.get("/ready")
        assert warming.status_code == 503
        assert warming.json() == {"ready": False, "parts": {"warm_up": "warming"}}
        gate.set()
        assert app.state.warm.wait(10)
        ready = client.get("/ready")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "parts": {"warm_up": "done", "store": "ok"}}
        services.is_ready, services.parts = False, {"store": "unreachable"}
        assert client.get("/ready").status_code == 503
    assert services.closed


def test_a_failed_warm_up_keeps_ready_false_and_is_logged(
    make_app: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(services=FakeServices(fail=OSError("model file missing")))
    with TestClient(app) as client:
        assert app.state.warm.wait(10)
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["parts"] == {"warm_up": "failed (see the server log)"}
    assert "model file missing" not in response.text
    assert any(r.name == "ragline.error" and r.exc_info for r in caplog.records)


def test_metrics_expose_breakers_and_readiness(make_app: Callable[..., FastAPI]) -> None:
    breakers = {"openai:gpt-4o-mini": "open", "vllm:small": "half_open", "extractive": "closed"}
    gate = threading.Event()
    app = make_app(services=FakeServices(gate=gate, stats_value=FakeStats(breakers=breakers)))
    router = APIRouter(prefix="/v1")

    @router.get("/items/{item_id}")
    def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    app.include_router(router)
    with TestClient(app) as client:
        assert sample(client.get("/metrics").text, "ragline_ready") == 0.0
        gate.set()
        assert app.state.warm.wait(10)
        client.get("/v1/items/secret-id-1")
        client.get("/v1/items/secret-id-2")
        text = client.get("/metrics").text
    assert sample(text, "ragline_ready") == 1.0
    assert sample(text, "ragline_breaker_state", deployment="openai:gpt-4o-mini") == 2.0
    assert sample(text, "ragline_breaker_state", deployment="vllm:small") == 1.0
    assert sample(text, "ragline_breaker_state", deployment="extractive") == 0.0
    assert sample(text, "ragline_requests_total", route="/v1/items/{item_id}") == 2.0
    assert "secret-id" not in text


def event(model: str, tokens: tuple[int, int], usd: str, cache: str | None = None) -> CostEvent:
    return CostEvent(
        "llm", model, tokens[0], tokens[1], 0, float(sum(tokens)), Decimal(usd),
        request_id="r", ts=time.time(), cache=cache,
    )  # fmt: skip


def test_metrics_record_tokens_cost_and_cache_hits() -> None:
    metrics = Metrics()
    metrics.record(event("openai:gpt-4o-mini", (100, 20), "0.0003"))
    metrics.record(event("openai:gpt-4o-mini", (50, 10), "0.0001"))
    metrics.record(event("openai:gpt-4o-mini", (100, 20), "0", cache="exact"))
    metrics.record(event("openai:gpt-4o-mini", (100, 20), "0", cache="semantic"))
    text = metrics.render()[0].decode()
    model = "openai:gpt-4o-mini"
    assert sample(text, "ragline_tokens_total", model=model, direction="in") == 150.0
    assert sample(text, "ragline_tokens_total", model=model, direction="out") == 30.0
    assert sample(text, "ragline_cost_usd_total", model=model) == pytest.approx(0.0004)
    assert sample(text, "ragline_cache_hits_total", kind="exact") == 1.0
    assert sample(text, "ragline_cache_hits_total", kind="semantic") == 1.0
    assert Metrics().registry is not metrics.registry  # one registry per app, not the global


def test_json_formatter_writes_the_error_type_and_message_without_a_traceback() -> None:
    try:
        raise ValueError("bad thing")
    except ValueError as exc:
        record = logging.LogRecord("ragline.error", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = (type(exc), exc, exc.__traceback__)
        record.fields = {"request_id": "r-1"}
    line = JsonFormatter().format(record)
    assert "Traceback" not in line and "\n" not in line
    parsed = json.loads(line)
    assert parsed["error_type"] == "ValueError"
    assert parsed["error"] == "bad thing"
    assert parsed["request_id"] == "r-1"
    assert parsed["level"] == "ERROR"
