"""A bounded load test of POST /v1/predict: the real predict path, driven by a client.

Used to check a gradual rollout (canary) under traffic, by tests (a `fastapi.testclient.TestClient`
over the real app) and by people (an `httpx.Client` pointed at a running `ragline serve`):

    with httpx.Client(base_url="http://127.0.0.1:8000", headers=auth) as client:
        report = predict_load(client, "churn", rows, requests=500, users=50, rps=100)
    print(report.rps, report.p99_ms, report.versions)   # {3: 476, 4: 24} responses per version

Each request carries one sticky user id (`"user": "load-{i % users}"`) so a canary's sticky
assignment sees a stable population of callers, as it would in production.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...

    def json(self, **kwargs: Any) -> Any: ...


class PostClient(Protocol):
    """What the load needs of a client: an `httpx.Client`, or starlette's `TestClient` (built
    on the `httpx2` package here, so it is no `httpx.Client` to a type checker)."""

    def post(self, url: str, *, json: Any = None) -> _Response: ...


@dataclass(frozen=True)
class LoadReport:
    """What a load run measured: counts, wall time, throughput, latency and who served.

    `versions` counts successful responses per model version (production vs canary).

        report = predict_load(client, "churn", rows, requests=100)
        assert report.errors == 0 and sum(report.versions.values()) == 100
    """

    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    versions: dict[int, int]


def predict_load(
    client: PostClient,
    model: str,
    rows: Sequence[Mapping[str, object]],
    *,
    requests: int,
    users: int = 50,
    rps: float | None = None,
    batch: int = 1,
    on_progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadReport:
    """POST `requests` predictions of `batch` rows each to /v1/predict/{model}, sequentially.

    Rows are taken cycling through `rows`; request i is sent as user `load-{i % users}`; with
    `rps`, requests are paced to that rate (never faster). A response with status >= 400 or
    an httpx transport failure counts as an error (the run goes on; a `TestClient` raises the
    app's unhandled exceptions, which end it). `on_progress(done)` is called
    after each request. `clock`/`sleep` are injectable for tests.

        client = TestClient(create_app(settings))
        report = predict_load(client, "churn", [{"age": 39, "plan": "pro"}], requests=300)
    """
    if requests < 0 or users < 1 or batch < 1 or not rows:
        raise ValueError("predict_load needs requests >= 0, users >= 1, batch >= 1 and some rows")
    if rps is not None and rps <= 0:
        raise ValueError(f"rps must be positive (got {rps}); leave it out to send unpaced")
    latencies: list[float] = []
    versions: Counter[int] = Counter()
    errors = 0
    start = clock()
    for i in range(requests):
        if rps is not None:
            wait = start + i / rps - clock()
            if wait > 0:
                sleep(wait)
        body = {"rows": [dict(rows[(i * batch + j) % len(rows)]) for j in range(batch)]}
        body["user"] = f"load-{i % users}"  # type: ignore[assignment]
        sent = clock()
        version = _post(client, model, body)
        latencies.append((clock() - sent) * 1000.0)
        if version is None:
            errors += 1
        else:
            versions[version] += 1
        if on_progress is not None:
            on_progress(i + 1)
    seconds = clock() - start
    return LoadReport(
        requests=requests,
        errors=errors,
        seconds=seconds,
        rps=requests / seconds if seconds > 0 else 0.0,
        p50_ms=_quantile(latencies, 0.50),
        p99_ms=_quantile(latencies, 0.99),
        versions=dict(sorted(versions.items())),
    )


def _post(client: PostClient, model: str, body: Mapping[str, object]) -> int | None:
    """The serving version of one request, or None when it failed."""
    try:
        response = client.post(f"/v1/predict/{model}", json=body)
    except httpx.HTTPError:
        return None
    if response.status_code >= 400:
        return None
    version = response.json().get("version")
    return int(version) if isinstance(version, int) else None


def _quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[rank]
