"""Dependency outages on the serving path (issue 20), against the real app (TestClient, real
embedder, Edge store, extractive answerer):

- the request-log and cost-ledger PostgreSQL behind a loopback proxy that turns into a tarpit
  (accepts, never answers) for 200 requests: /health stays under 100 ms, /v1/query within its
  normal latency + 1 s, no 5xx; once the database returns every record is in it (0 lost);
- Redis (a redis-server of our own, or a proxy to 127.0.0.1:6379) killed mid-run with
  llm.state redis, Redis rate limits, budgets and breakers: no 5xx, the fallback chain answers,
  /ready says Redis is degraded.
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ragline.mltrack.config import sql_url
from ragline.mltrack.sql_batch import open_tables
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.ingest import NoProgress
from ragline.serving.api.app import create_app
from ragline.serving.api.services import Services
from tests.faults.loopback import Proxy
from tests.rag.ingest_helpers import write_corpus
from tests.services import POSTGRES_URL, require
from tests.serving.api.test_services import api_settings

pytestmark = [pytest.mark.faults, pytest.mark.integration]

REQUESTS = 200
QUESTION = {"question": "Where do deltas form?", "collection": "docs"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(client: TestClient, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get("/ready")
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body
        time.sleep(0.2)


def wait_degraded(client: TestClient, names: tuple[str, ...]) -> dict[str, str]:
    """/ready's parts once it reports `names` degraded (up to 5 s: a first write in flight
    counts after 1 s); /ready itself stays 200."""
    deadline = time.monotonic() + 5.0
    while True:
        parts: dict[str, str] = wait_ready(client)["parts"]
        degraded = all(str(parts.get(n, "")).startswith("degraded") for n in names)
        if degraded or time.monotonic() > deadline:
            return parts
        time.sleep(0.1)


def timed(client: TestClient, method: str, path: str, **kw: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.request(method, path, **kw)
    return time.perf_counter() - started, response


def served(settings_services: Services) -> None:
    settings = settings_services.settings
    settings_services.ingest("docs", [write_corpus(settings.data_dir / "corpus")], NoProgress())


def test_a_blackholed_telemetry_database_degrades_and_loses_nothing(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    require("PostgreSQL", "127.0.0.1", 5432)
    proxy = Proxy(("127.0.0.1", 5432), forwarding=True)
    url = sa.engine.make_url(POSTGRES_URL).set(host="127.0.0.1", port=proxy.port)
    suffix = uuid.uuid4().hex[:10]
    tables = {"ledger": f"ledger_{suffix}", "requests": f"requests_{suffix}"}
    shown = url.render_as_string(hide_password=False)
    settings = api_settings(
        tmp_path,
        embedder.config.onnx_cache,
        llm={"provider": "extractive", "cache": {"enabled": False}},
        costs={"ledger": {"url": shown, "table": tables["ledger"]}},
        monitor={"request_log": {"url": shown, "table": tables["requests"]}},
    )
    services = Services(settings)
    ids: list[str] = []
    try:
        served(services)
        with TestClient(create_app(settings, services)) as client:
            wait_ready(client)
            normal = []
            for _ in range(20):
                seconds, response = timed(client, "POST", "/v1/query", json=QUESTION)
                assert response.status_code == 200, response.text
                normal.append(seconds)
                ids.append(response.headers["X-Request-ID"])

            proxy.tarpit()  # the database now accepts and never answers
            health, query, errors = [], [], 0
            for _ in range(REQUESTS):
                seconds, response = timed(client, "GET", "/health")
                health.append(seconds)
                errors += response.status_code >= 500
                seconds, response = timed(client, "POST", "/v1/query", json=QUESTION)
                query.append(seconds)
                errors += response.status_code >= 500
                ids.append(response.headers["X-Request-ID"])
            parts = wait_degraded(client, ("request_log", "cost_ledger"))

            proxy.forward()  # the database returns: spilled rows are replayed
            replayed = wait_replayed(timeout_s=30.0)
    finally:
        services.close()
        proxy.close()
    lost = count_lost(ids, tables)
    base = statistics.median(normal)
    print(
        f"\ntelemetry db blackholed: {2 * REQUESTS} requests, {errors} 5xx; /health max "
        f"{max(health) * 1000:.1f} ms; /v1/query median {statistics.median(query) * 1000:.1f} ms"
        f" max {max(query) * 1000:.1f} ms (normal median {base * 1000:.1f} ms); /ready parts "
        f"request_log={parts.get('request_log')!r} cost_ledger={parts.get('cost_ledger')!r}; "
        f"replayed {replayed}; records lost: {lost}"
    )
    assert errors == 0
    assert max(health) < 0.1
    assert max(query) < max(normal) + 1.0
    assert str(parts.get("request_log", "")).startswith("degraded")
    assert str(parts.get("cost_ledger", "")).startswith("degraded")
    assert replayed > 0
    assert lost == 0


def wait_replayed(timeout_s: float) -> int:
    """Waits until no open table is degraded or holds spilled rows; the rows replayed."""
    deadline = time.monotonic() + timeout_s
    while True:
        health = open_tables()
        done = all(not t.degraded and t.spilled == t.replayed and not t.buffered for t in health)
        if done or time.monotonic() > deadline:
            assert done, health
            return sum(t.replayed for t in health)
        time.sleep(0.2)


def count_lost(ids: list[str], tables: dict[str, str]) -> int:
    """Requests missing from the request log, plus queries with no event in the ledger."""
    engine = sa.create_engine(sql_url(POSTGRES_URL, Path("."), "unused.db"))
    try:
        with engine.begin() as conn:
            logged = {
                r for (r,) in conn.execute(sa.text(f"select request_id from {tables['requests']}"))
            }
            billed = {
                r for (r,) in conn.execute(sa.text(f"select request_id from {tables['ledger']}"))
            }
            for table in tables.values():
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    finally:
        engine.dispose()
    return len(set(ids) - logged) + len(set(ids) - billed)


@pytest.fixture
def redis_url() -> Iterator[tuple[str, Any]]:
    """(url, kill): a redis-server of our own on a free port, else a proxy to 127.0.0.1:6379."""
    binary = shutil.which("redis-server")
    if binary is None:
        require("Redis", "127.0.0.1", 6379)
        proxy = Proxy(("127.0.0.1", 6379), forwarding=True)
        yield f"redis://127.0.0.1:{proxy.port}/15", proxy.close
        proxy.close()
        return
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def kill() -> None:
        server.kill()
        server.wait(5)

    yield f"redis://127.0.0.1:{port}/0", kill
    if server.poll() is None:
        kill()


def test_redis_killed_mid_run_falls_back_to_process_state(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, redis_url: tuple[str, Any]
) -> None:
    url, kill = redis_url
    limits = {"requests_per_minute": 100_000}
    llm = {
        "provider": "vllm:small",  # nothing listens there: every call fails over
        "vllm": {"base_url": f"http://127.0.0.1:{free_port()}/v1"},
        "fallbacks": ["extractive"],
        "state": "redis",
        "redis_url": url,
        "cache": {"enabled": False},
        "budgets": {"daily_usd": "100"},
        "rate_limit": limits,
    }
    settings = api_settings(
        tmp_path, embedder.config.onnx_cache, llm=llm, serve={"rate_limit": limits}
    )
    services = Services(settings)
    statuses: list[int] = []
    latency: list[float] = []
    models: set[str] = set()
    try:
        served(services)
        with TestClient(create_app(settings, services)) as client:
            wait_ready(client)
            for i in range(REQUESTS):
                if i == REQUESTS // 2:
                    kill()
                seconds, response = timed(client, "POST", "/v1/query", json=QUESTION)
                statuses.append(response.status_code)
                latency.append(seconds)
                if response.status_code == 200:
                    models.add(response.json()["model"])
            parts = wait_degraded(client, ("redis",))
    finally:
        services.close()
    errors = sum(s >= 500 for s in statuses)
    before, after = latency[: REQUESTS // 2], latency[REQUESTS // 2 :]
    print(
        f"\nredis killed after {REQUESTS // 2} of {REQUESTS} requests: {errors} 5xx, "
        f"{statuses.count(200)} answered by {sorted(models)}; /v1/query max before "
        f"{max(before) * 1000:.1f} ms, after {max(after) * 1000:.1f} ms; "
        f"/ready redis={parts.get('redis')!r}"
    )
    assert errors == 0 and statuses.count(200) == REQUESTS
    assert all(m.startswith("extractive") for m in models)
    assert max(after) < max(before) + 1.0
    assert str(parts.get("redis", "")).startswith("degraded")
