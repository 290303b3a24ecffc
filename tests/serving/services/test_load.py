"""`predict_load` on an in-memory transport (the seam httpx gives us): bodies, sticky users,
pacing by an injected clock, errors counted, versions tallied. The real predict path is driven in
tests/serving/api/routes/test_predict_rollout.py."""

from __future__ import annotations

import json

import httpx
import pytest

from ragline.serving.services.load import predict_load

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now, self.slept = 0.0, []  # type: ignore[var-annotated]

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_bodies_users_versions_and_errors() -> None:
    seen: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if len(seen) == 3:
            return httpx.Response(503, json={"error": {"message": "down"}})
        version = 2 if body["user"] == "load-1" else 1
        return httpx.Response(200, json={"version": version, "scores": [0.5]})

    client = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://x")
    done: list[int] = []
    rows = [{"a": 1}, {"a": 2}, {"a": 3}]
    report = predict_load(
        client, "churn", rows, requests=6, users=2, batch=2, on_progress=done.append
    )
    assert [b["user"] for b in seen] == ["load-0", "load-1"] * 3
    assert seen[0]["rows"] == [{"a": 1}, {"a": 2}] and seen[1]["rows"] == [{"a": 3}, {"a": 1}]
    assert (report.requests, report.errors, report.versions) == (
        6,
        1,
        {1: 2, 2: 3},
    )  # the failed one was load-0
    assert done == [1, 2, 3, 4, 5, 6]


def test_pacing_follows_the_rate_on_the_injected_clock() -> None:
    clock = Clock()
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"version": 1})),
        base_url="http://x",
    )
    report = predict_load(
        client, "m", [{"a": 1}], requests=4, rps=2.0, clock=clock, sleep=clock.sleep
    )
    assert clock.slept == [0.5, 0.5, 0.5] and report.seconds == 1.5 and report.rps == 4 / 1.5
    with pytest.raises(ValueError, match="rps must be positive"):
        predict_load(client, "m", [{"a": 1}], requests=1, rps=0)
    with pytest.raises(ValueError, match="some rows"):
        predict_load(client, "m", [], requests=1)
