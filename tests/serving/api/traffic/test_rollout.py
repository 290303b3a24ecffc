"""A/B stickiness and canary rollback end to end: a real `ragline serve` on 127.0.0.1, driven
with httpx. The canary arm's model is a `vllm` server at a dead port with no fallback, so its
requests fail; after `min_requests` the canary rolls back and its users reach the control."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ragline.serving.api.traffic.split import Traffic
from ragline.serving.serve_config import TrafficConfig
from tests.llm_router.llama_server import free_port
from tests.serving.api.conftest import LiveServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEYS = {f"k{i}": f"sk-traffic-test-{i:02d}-" + "x" * 24 for i in range(24)}
MIN_REQUESTS = 4


def key_entries() -> list[dict[str, str]]:
    return [{"name": n, "sha256": hashlib.sha256(k.encode()).hexdigest()} for n, k in KEYS.items()]


def chat(server: LiveServer, name: str, text: str) -> httpx.Response:
    body = {"model": "ragline", "messages": [{"role": "user", "content": text}], "max_tokens": 8}
    headers = {"Authorization": f"Bearer {KEYS[name]}"}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=60)


def split(traffic: dict[str, Any]) -> dict[str | None, list[str]]:
    """Key names by the arm a fresh Traffic of the same config gives them."""
    chooser = Traffic(TrafficConfig.model_validate(traffic))
    arms: dict[str | None, list[str]] = {}
    for name in KEYS:
        arms.setdefault(chooser.choose(name), []).append(name)
    return arms


CANARY: dict[str, Any] = {
    "canary": {
        "arm": {
            "name": "v2",
            "llm": {
                "provider": "vllm:dead",
                "fallbacks": [],
                "vllm": {"base_url": f"http://127.0.0.1:{free_port()}/v1", "model": "dead"},
                "retry": {"attempts": 1},
                "cache": {"enabled": False},
            },
        },
        "percent": 50,
        "min_requests": MIN_REQUESTS,
        "window_s": 300,
    }
}
AB: dict[str, Any] = {
    "ab": {
        "arms": [
            {"name": "short", "weight": 1, "answer": {"max_tokens": 64}},
            {"name": "long", "weight": 1, "answer": {"max_tokens": 128}},
        ]
    }
}


@pytest.fixture(scope="module")
def canary_server(live_server: Callable[..., LiveServer]) -> LiveServer:
    serve = {"api_keys": key_entries(), "traffic": CANARY}
    return live_server({"serve": serve}, name="canary", ready=True)


def test_a_failing_canary_rolls_back_and_its_users_reach_the_control(
    canary_server: LiveServer,
) -> None:
    arms = split(CANARY)
    control, canary = arms[None], arms["v2"]
    assert len(control) >= 2 and len(canary) >= 2
    for i in range(MIN_REQUESTS + 1):
        answer = chat(canary_server, control[i % len(control)], f"control question {i}")
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-ragline-arm"] == "control"
    for i in range(MIN_REQUESTS):  # the dead model fails every canary request
        failed = chat(canary_server, canary[i % len(canary)], f"canary question {i}")
        assert failed.status_code >= 500, failed.text
    for i, name in enumerate(canary):  # rolled back: the canary's users now get the control
        answer = chat(canary_server, name, f"after the rollback {i}")
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-ragline-arm"] == "control"
    warnings = [
        line
        for line in canary_server.logs()
        if line.get("logger") == "ragline.serving.api.traffic.split"
    ]
    assert len(warnings) == 1, canary_server.tail()
    assert warnings[0]["level"] == "WARNING"
    assert "canary 'v2' rolled back: error rate 1.00 vs 0.00 over 300 s" in warnings[0]["message"]


def test_ab_arms_are_sticky_per_key(live_server: Callable[..., LiveServer]) -> None:
    server = live_server({"serve": {"api_keys": key_entries(), "traffic": AB}}, name="ab")
    expected = split(AB)
    assert set(expected) == {"short", "long"}
    seen: dict[str, set[str]] = {}
    for round_ in range(2):
        for name in KEYS:
            answer = chat(server, name, f"question {round_} from {name}")
            assert answer.status_code == 200, answer.text
            seen.setdefault(name, set()).add(answer.headers["x-ragline-arm"])
    assert {name: arms.pop() for name, arms in seen.items() if len(arms) == 1} == {
        name: arm for arm, names in expected.items() for name in names if arm is not None
    }
