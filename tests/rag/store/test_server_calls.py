"""Retries with backoff, parallel batches and the unreachable-server error, at the HTTP boundary:
qdrant-client over loopback against `FakeQdrant`, a port nobody listens on, and a socket that
never answers."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from ragline.rag.config import ServerStoreConfig
from ragline.rag.errors import StoreError, StoreUnreachable
from ragline.rag.store.server import QdrantServerStore
from ragline.rag.store.server_calls import transient, with_retries
from ragline.rag.testing.store import POINTS, SPEC
from tests.rag.store.qdrant_fake import FakeQdrant

FAST = ServerStoreConfig(backoff_s=0.0, backoff_max_s=0.0)


def _response(status: int) -> UnexpectedResponse:
    return UnexpectedResponse(status, "x", b"{}", httpx.Headers())


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.mark.unit
class TestRetryPolicy:
    def test_transient_failures(self) -> None:
        assert transient(_response(503)) and transient(_response(429))
        assert not transient(_response(400)) and not transient(_response(404))
        assert transient(ResponseHandlingException(httpx.ConnectError("refused")))
        assert not transient(ResponseHandlingException(ValueError("bad json")))

    def test_backs_off_exponentially_then_succeeds(self) -> None:
        failures = [_response(503), _response(502), _response(429)]
        slept: list[float] = []

        def call() -> str:
            if failures:
                raise failures.pop(0)
            return "done"

        config = ServerStoreConfig(retries=3, backoff_s=0.5, backoff_max_s=1.5)
        assert with_retries(call, config, sleep=slept.append) == "done"
        assert len(slept) == 3
        # full jitter: each delay is within (0, cap] where cap doubles up to backoff_max_s
        for delay, cap in zip(slept, (0.5, 1.0, 1.5), strict=True):
            assert 0 <= delay <= cap

    def test_a_retry_after_is_a_floor(self) -> None:
        busy = UnexpectedResponse(429, "x", b"{}", httpx.Headers({"Retry-After": "3"}))
        failures = [busy]
        slept: list[float] = []

        def call() -> str:
            if failures:
                raise failures.pop(0)
            return "done"

        assert with_retries(call, ServerStoreConfig(backoff_s=0.1), sleep=slept.append) == "done"
        assert slept == [3.0]

    def test_gives_up_after_the_retries(self) -> None:
        calls = []

        def call() -> None:
            calls.append(1)
            raise _response(503)

        with pytest.raises(UnexpectedResponse):
            with_retries(call, ServerStoreConfig(retries=2), sleep=lambda s: None)
        assert len(calls) == 3

    def test_a_bad_request_is_not_retried(self) -> None:
        calls = []

        def call() -> None:
            calls.append(1)
            raise _response(400)

        with pytest.raises(UnexpectedResponse):
            with_retries(call, ServerStoreConfig(retries=5), sleep=lambda s: None)
        assert calls == [1]


@pytest.mark.integration
class TestOverHttp:
    def test_upsert_survives_transient_503s(self) -> None:
        with FakeQdrant(fail_first=2) as fake:
            store = QdrantServerStore("docs", url=fake.url, config=FAST.model_copy())
            store.ensure_collection(SPEC)
            store.upsert(POINTS)
            store.close()
            assert fake.count("PUT", "/collections/docs/points") == 3
            assert set(fake.points) == {p.id for p in POINTS}

    def test_upsert_gives_up_with_a_clear_error(self) -> None:
        config = ServerStoreConfig(retries=1, backoff_s=0.0)
        with FakeQdrant(fail_first=10) as fake:
            store = QdrantServerStore("docs", url=fake.url, config=config)
            store.ensure_collection(SPEC)
            with pytest.raises(StoreError, match=r"HTTP 503 to an upsert 2 times.*idempotent"):
                store.upsert(POINTS)
            assert fake.count("PUT", "/collections/docs/points") == 2
            assert fake.points == {}

    def test_upserts_go_in_parallel_batches(self) -> None:
        config = ServerStoreConfig(upsert_batch=2, upsert_parallel=3, backoff_s=0.0)
        with FakeQdrant(fail_first=1) as fake:
            store = QdrantServerStore("docs", url=fake.url, config=config)
            store.ensure_collection(SPEC)
            store.upsert(POINTS)
            bodies = fake.bodies("PUT", "/collections/docs/points")
            # 6 points in batches of 2, one of them sent twice after the injected 503
            assert len(bodies) == 4
            assert all(len(b["points"]) == 2 for b in bodies)
            assert set(fake.points) == {p.id for p in POINTS}

    def test_an_unreachable_server_is_named(self, free_port: int) -> None:
        url = f"http://127.0.0.1:{free_port}"
        store = QdrantServerStore("docs", url=url, config=FAST)
        for call in (store.exists, store.count, lambda: store.ensure_collection(SPEC)):
            with pytest.raises(StoreUnreachable, match=rf"at {url} \(ConnectError.*is running"):
                call()
        with pytest.raises(StoreUnreachable, match="RAGLINE_STORE__URL"):
            store.upsert(POINTS)  # retried (transient), then reported the same way

    def test_a_silent_server_times_out_in_bounded_time(self, silent_port: int) -> None:
        url = f"http://127.0.0.1:{silent_port}"
        store = QdrantServerStore("docs", url=url, config=ServerStoreConfig(timeout_s=1))
        started = time.monotonic()
        with pytest.raises(StoreUnreachable, match=r"no answer within 1 s.*timeout_s"):
            store.count()
        assert time.monotonic() - started < 5
