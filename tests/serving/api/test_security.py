"""API keys, per-key rate limits, body limits, validation and error shapes: against a real
`ragline serve` process (httpx and the official OpenAI client), plus in-process checks of the
middleware with fake services (timeouts, provider errors, crashes, CORS, the Redis limiter)."""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
import yaml
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from ragline.llm_router import errors
from ragline.llm_router.errors import RateLimited
from ragline.llm_router.guards.ratelimit import RedisRateLimiter
from ragline.serving.api import security
from ragline.serving.api.context import caller
from ragline.serving.api.security import ApiKeyAuth, build_rate_limiter
from ragline.serving.cli.serve import api_key_line, new_key
from ragline.serving.serve_config import ApiKey, key_digest
from ragline.serving.settings import Settings
from tests.serving.api.conftest import FakeServices, LiveServer

pytestmark = pytest.mark.integration

KEYS = {name: new_key() for name in ("alice", "bob", "carol", "dave", "erin")}
RPM = 5
MAX_BODY = 4096


@pytest.fixture(scope="module")
def secure(live_server: Callable[..., LiveServer]) -> LiveServer:
    # The keys go in exactly as `ragline hash-key` prints them.
    entries = [yaml.safe_load(api_key_line(name, key))[0] for name, key in KEYS.items()]
    serve = {"api_keys": entries, "rate_limit": {"requests_per_minute": RPM}}
    return live_server({"serve": serve | {"max_body_bytes": MAX_BODY}}, name="secure")


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def assert_error(response: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == type_
    assert error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return dict(error)


# -- a real server -----------------------------------------------------------------------------


@pytest.mark.slow
def test_no_key_is_401_with_a_bearer_challenge(secure: LiveServer) -> None:
    for response in (
        httpx.get(f"{secure.url}/v1/models"),
        httpx.post(f"{secure.url}/v1/search", json={"query": "dough"}),
    ):
        error = assert_error(response, 401, "authentication_error")
        assert response.headers["www-authenticate"] == "Bearer"
        assert "serve.api_keys" in error["message"]


@pytest.mark.slow
def test_wrong_key_is_401(secure: LiveServer) -> None:
    wrong = new_key()
    for headers in (
        {"Authorization": f"Bearer {wrong}"},
        {"X-API-Key": wrong},
        {"Authorization": f"Basic {KEYS['alice']}"},  # not the bearer scheme
        {"Authorization": f"Bearer {key_digest(KEYS['alice'])}"},  # the digest is not the key
    ):
        assert_error(
            httpx.get(f"{secure.url}/v1/models", headers=headers), 401, "authentication_error"
        )


@pytest.mark.slow
def test_right_key_passes_in_either_header(secure: LiveServer) -> None:
    by_bearer = httpx.get(f"{secure.url}/v1/models", headers=bearer("alice"))
    by_header = httpx.get(f"{secure.url}/v1/models", headers={"X-API-Key": KEYS["alice"]})
    assert by_bearer.status_code == by_header.status_code == 200
    assert "ragline" in [model["id"] for model in by_bearer.json()["data"]]


@pytest.mark.slow
def test_official_openai_client_authenticates(secure: LiveServer) -> None:
    stranger = openai.OpenAI(base_url=f"{secure.url}/v1", api_key=new_key(), max_retries=0)
    with stranger, pytest.raises(openai.AuthenticationError):
        stranger.models.list()
    with openai.OpenAI(base_url=f"{secure.url}/v1", api_key=KEYS["erin"]) as client:
        assert "ragline" in [model.id for model in client.models.list()]


@pytest.mark.slow
def test_rate_limit_is_per_key_with_retry_after(secure: LiveServer) -> None:
    for _ in range(RPM):
        assert httpx.get(f"{secure.url}/v1/models", headers=bearer("carol")).status_code == 200
    limited = httpx.get(f"{secure.url}/v1/models", headers=bearer("carol"))
    error = assert_error(limited, 429, "rate_limit_error")
    # 5 per minute refill one every 12 s; the header is whole seconds, rounded up.
    assert 1 <= int(limited.headers["retry-after"]) <= 60 / RPM
    assert "carol" in error["message"]
    assert httpx.get(f"{secure.url}/v1/models", headers=bearer("dave")).status_code == 200


@pytest.mark.slow
def test_oversize_bodies_are_413(secure: LiveServer) -> None:
    big = json.dumps({"query": "x" * MAX_BODY}).encode()
    declared = httpx.post(f"{secure.url}/v1/search", content=big, headers=bearer("bob"))
    assert_error(declared, 413, "invalid_request_error")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    streamed = httpx.post(f"{secure.url}/v1/search", content=chunks(), headers=bearer("bob"))
    error = assert_error(streamed, 413, "invalid_request_error")
    assert "serve.max_body_bytes" in error["message"]


@pytest.mark.slow
def test_bad_input_is_a_clear_400_or_422(secure: LiveServer) -> None:
    headers = bearer("bob") | {"Content-Type": "application/json"}
    broken = httpx.post(f"{secure.url}/v1/search", content=b'{"query": ', headers=headers)
    # a body that is not JSON is a 400 (as OpenAI answers), a JSON body out of range a 422
    assert "not valid JSON" in assert_error(broken, 400, "invalid_request_error")["message"]
    out_of_range = httpx.post(
        f"{secure.url}/v1/search", json={"query": "dough", "k": 0}, headers=bearer("bob")
    )
    error = assert_error(out_of_range, 422, "invalid_request_error")
    assert error["param"] == "body.k"
    assert error["message"].startswith("body.k: ")


@pytest.mark.slow
def test_cors_is_off_by_default(secure: LiveServer) -> None:
    response = httpx.get(f"{secure.url}/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.slow
def test_logs_carry_request_ids_and_never_keys(secure: LiveServer) -> None:
    sent = httpx.get(
        f"{secure.url}/v1/models", headers=bearer("alice") | {"X-Request-ID": "req-e2e-42"}
    )
    assert sent.headers["x-request-id"] == "req-e2e-42"
    odd = httpx.get(f"{secure.url}/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert odd.headers["x-request-id"] != "bad id\twith spaces"  # replaced, not logged raw
    mine = secure.access_log("req-e2e-42")
    assert mine | {"ts": "", "latency_ms": 0} == mine | {
        "ts": "", "latency_ms": 0, "level": "INFO", "caller": "alice", "method": "GET",
        "path": "/v1/models", "route": "/v1/models", "status": 200,
    }  # fmt: skip
    assert isinstance(mine["latency_ms"], float)
    refused = [line for line in secure.access_logs() if line["status"] == 401]
    assert refused and all(line["caller"] is None for line in refused)
    text = secure.stderr()
    for key in KEYS.values():
        assert key not in text
    assert "Traceback" not in text


# -- in process --------------------------------------------------------------------------------


def test_every_digest_is_compared_even_after_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [
        ApiKey(name=f"k{i}", sha256=key_digest(f"key-number-{i}-" + "x" * 20)) for i in range(4)
    ]
    auth = ApiKeyAuth(keys)
    calls: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", counting)
    assert auth.authenticate("key-number-0-" + "x" * 20) == "k0"
    assert len(calls) == 4
    assert auth.authenticate("nope") is None
    assert auth.authenticate(None) is None
    assert ApiKeyAuth([]).authenticate(None) == "anonymous"


class Echo(BaseModel):
    name: str = Field(min_length=1)
    count: int = Field(ge=1)


def probe_router(gate: threading.Event) -> APIRouter:
    router = APIRouter(prefix="/v1")
    failures: dict[str, errors.ProviderError] = {
        "rate": errors.RateLimited("provider said slow down", retry_after_s=2.2),
        "budget": errors.BudgetExceeded("key:alice/day budget of $1 reached", budget="d"),
        "bad": errors.BadRequest("prompt too long: 9000 tokens > 8192"),
        "auth": errors.AuthError("OPENAI_API_KEY sk-secret-123 was refused"),
        "down": errors.Unavailable("vllm at http://10.0.0.7:8000 refused the connection"),
        "timeout": errors.Timeout("no answer in 30 s"),
    }

    @router.get("/probe/fail/{kind}")
    def fail(kind: str) -> None:
        raise failures[kind]

    @router.get("/probe/crash")
    def crash() -> None:
        raise RuntimeError("internal detail sk-secret-456")

    @router.get("/probe/who")
    def who(request: Request) -> dict[str, str]:
        return {"caller": caller(request)}

    @router.post("/probe/echo")
    def echo(body: Echo) -> Echo:
        return body

    @router.get("/search/blocked")
    def blocked() -> dict[str, str]:
        gate.wait(10)  # blocking work in the thread pool, longer than the search timeout
        return {"late": "yes"}

    @router.get("/search/stream")
    async def stream() -> StreamingResponse:
        async def pieces() -> Any:
            yield b"first "
            await asyncio.sleep(0.3)  # past the timeout, after the first byte: must not cut
            yield b"last"

        return StreamingResponse(pieces(), media_type="text/plain")

    return router


@pytest.fixture
def probed(make_app: Callable[..., FastAPI]) -> Iterator[tuple[TestClient, threading.Event]]:
    gate = threading.Event()
    config = {"serve": {"timeouts": {"search": 0.1}, "max_body_bytes": 200}}
    app = make_app(config, FakeServices(), [probe_router(gate)])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, gate
        gate.set()


@pytest.mark.parametrize(
    ("kind", "status", "leaks"),
    [
        ("rate", 429, None),
        ("budget", 402, None),
        ("bad", 400, None),
        ("auth", 502, "sk-secret-123"),
        ("down", 503, "10.0.0.7"),
        ("timeout", 503, None),
    ],
)
def test_provider_errors_map_to_statuses(
    probed: tuple[TestClient, threading.Event], kind: str, status: int, leaks: str | None
) -> None:
    client, _ = probed
    response = client.get(f"/v1/probe/fail/{kind}")
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param", "request_id"}
    if kind == "rate":
        assert response.headers["retry-after"] == "3"
    if kind == "bad":  # about the request itself: the client sees what to change
        assert error["message"] == "prompt too long: 9000 tokens > 8192"
    if kind == "budget":
        assert error["message"] == "key:alice/day budget of $1 reached"
    if leaks:
        assert leaks not in response.text


def test_crash_is_a_bare_500_and_logged_without_traceback(
    probed: tuple[TestClient, threading.Event], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = probed
    response = client.get("/v1/probe/crash", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "message": "internal error", "type": "server_error", "code": "internal_error",
            "param": None, "request_id": "crash-1",
        }
    }  # fmt: skip
    assert "sk-secret-456" not in response.text
    logged = [r for r in caplog.records if r.name == "ragline.error"]
    assert logged and logged[0].exc_info and isinstance(logged[0].exc_info[1], RuntimeError)


def test_timeout_answers_504_while_the_handler_is_stuck(
    probed: tuple[TestClient, threading.Event],
) -> None:
    client, gate = probed
    response = client.get("/v1/search/blocked")
    assert response.status_code == 504
    assert "serve.timeouts" in response.json()["error"]["message"]
    assert not gate.is_set()  # the handler was still blocked when the 504 went out


def test_a_stream_is_not_cut_after_its_first_byte(
    probed: tuple[TestClient, threading.Event],
) -> None:
    client, _ = probed
    response = client.get("/v1/search/stream")
    assert response.status_code == 200
    assert response.text == "first last"


def test_validation_and_body_limits_in_process(probed: tuple[TestClient, threading.Event]) -> None:
    client, _ = probed
    bad = client.post("/v1/probe/echo", json={"name": "", "count": 0})
    assert bad.status_code == 422
    message = bad.json()["error"]["message"]
    assert "body.name:" in message and "body.count:" in message
    assert client.post("/v1/probe/echo", json={"name": "a", "count": 2}).json() == {
        "name": "a",
        "count": 2,
    }
    big = client.post("/v1/probe/echo", content=iter([b"x" * 150, b"y" * 150]))
    assert big.status_code == 413


def test_cors_allows_only_configured_origins(make_app: Callable[..., FastAPI]) -> None:
    app = make_app({"serve": {"cors_origins": ["https://app.example"]}})
    preflight = {"Access-Control-Request-Method": "POST"}
    with TestClient(app) as client:
        ok = client.options("/v1/query", headers=preflight | {"Origin": "https://app.example"})
        other = client.options("/v1/query", headers=preflight | {"Origin": "https://evil.example"})
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


def test_keyless_server_calls_everyone_anonymous(
    probed: tuple[TestClient, threading.Event],
) -> None:
    client, _ = probed
    who = client.get("/v1/probe/who", headers={"Authorization": "Bearer anything-at-all"})
    assert who.json() == {"caller": "anonymous"}


def test_redis_limiter_is_shared_between_workers(
    redis_client: Any, redis_url: str, redis_prefix: str
) -> None:
    settings = Settings.model_validate(
        {
            "llm": {"state": "redis", "redis_url": redis_url},
            "serve": {"rate_limit": {"requests_per_minute": 2}},
        }
    )
    one = build_rate_limiter(settings, prefix=redis_prefix)
    two = build_rate_limiter(settings, prefix=redis_prefix)
    assert isinstance(one, RedisRateLimiter) and isinstance(two, RedisRateLimiter)
    one.acquire("alice", 0)
    two.acquire("alice", 0)
    with pytest.raises(RateLimited):
        one.acquire("alice", 0)
    two.acquire("bob", 0)  # another key has its own allowance
    assert build_rate_limiter(Settings.model_validate({})) is None
