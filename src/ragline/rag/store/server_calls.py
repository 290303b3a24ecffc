"""How `QdrantServerStore` talks to a server that may be slow, busy or down.

    with reachable("http://qdrant:6333", timeout_s=10):
        client.count("docs")                 # a refused connection raises StoreUnreachable
    upsert_batches(lambda batch: client.upsert("docs", batch), points, config, parallel=True)

Transient failures (a refused or dropped connection, a timeout, HTTP 429, 502, 503 or 504) are
retried with exponential backoff (`ragline.llm_router.guards.retry.backoff_s`, full jitter). An
upsert is idempotent (point ids come from content), so writing again a batch that the server
applied before the connection dropped is safe. Anything else (a 4xx, a missing collection)
propagates at once: the same request would fail the same way.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

import httpx
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from ragline.core.errors import redact
from ragline.llm_router.guards.retry import RetryConfig, backoff_s
from ragline.rag.config import ServerStoreConfig
from ragline.rag.errors import StoreError, StoreUnreachable

T = TypeVar("T")
P = TypeVar("P")
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0  # a server's Retry-After is a floor on the delay, up to this


def transient(exc: BaseException) -> bool:
    """True for failures that a later try of the same request may not meet."""
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in TRANSIENT_STATUS
    return isinstance(exc, ResponseHandlingException) and isinstance(
        exc.source, httpx.TransportError
    )


def unreachable(url: str, timeout_s: int, source: BaseException) -> StoreUnreachable:
    """The error for a server that refused, dropped or did not answer a request."""
    if isinstance(source, httpx.TimeoutException):
        what = f"no answer within {timeout_s} s (raise store.server.timeout_s if it is just busy)"
    else:
        what = f"{type(source).__name__}: {source}"
    return StoreUnreachable(
        redact(
            f"cannot reach the Qdrant server at {url} ({what}); check that it is running and "
            "listening there, that store.url (env RAGLINE_STORE__URL) names it, and that no "
            "firewall or proxy is in between"
        )
    )


def gave_up(url: str, exc: UnexpectedResponse, retries: int) -> StoreError:
    """The error for an upsert the server kept refusing as busy or unavailable."""
    return StoreError(
        redact(
            f"the Qdrant server at {url} answered HTTP {exc.status_code} to an upsert "
            f"{retries + 1} times (store.server.retries={retries}); it is overloaded or a shard "
            f"is down: check {url.rstrip('/')}/cluster and its log, then run again (upserts "
            "are idempotent)"
        )
    )


@contextmanager
def reachable(url: str, timeout_s: int) -> Iterator[None]:
    """Report a connection failure or timeout (httpx's, or qdrant-client's wrapping of it) as
    `StoreUnreachable` naming `url`."""
    try:
        yield
    except httpx.TransportError as exc:
        raise unreachable(url, timeout_s, exc) from None
    except ResponseHandlingException as exc:
        if not isinstance(exc.source, httpx.TransportError):
            raise
        raise unreachable(url, timeout_s, exc.source) from None


def retry_after_s(exc: BaseException) -> float | None:
    """The seconds a 429 or 503 asks to wait (Retry-After, in seconds), at most 60."""
    if not isinstance(exc, UnexpectedResponse):
        return None
    try:
        return min(float(exc.headers.get("retry-after", "")), MAX_RETRY_AFTER_S)
    except ValueError:
        return None


def with_retries(
    call: Callable[[], T],
    config: ServerStoreConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """`call()`, tried again up to `config.retries` times while it fails transiently; the
    delays double from `config.backoff_s` (full jitter), never below a Retry-After."""
    policy = RetryConfig(
        attempts=config.retries + 1,
        base_s=config.backoff_s,
        max_s=config.backoff_max_s,
        timeout_s=None,
    )
    rng = rng if rng is not None else random.Random()
    for attempt in itertools.count(1):
        try:
            return call()
        except (UnexpectedResponse, ResponseHandlingException) as exc:
            if not transient(exc) or attempt > config.retries:
                raise
            sleep(backoff_s(attempt, policy, rng, retry_after_s(exc)))
    raise AssertionError("unreachable: itertools.count never ends")


def upsert_batches(
    send: Callable[[Sequence[P]], object],
    points: Sequence[P],
    config: ServerStoreConfig,
    *,
    parallel: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """`send` each batch of `config.upsert_batch` points, up to `config.upsert_parallel` at a
    time when `parallel` (a server; qdrant-client's local mode is not thread-safe), each with
    retries. The first failure is raised once every batch has been tried."""
    size = config.upsert_batch
    batches = [points[i : i + size] for i in range(0, len(points), size)]
    workers = min(config.upsert_parallel, len(batches)) if parallel else 1
    if workers <= 1:
        for batch in batches:
            with_retries(partial(send, batch), config, sleep=sleep)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="ragline-upsert") as pool:
        futures = [
            pool.submit(with_retries, partial(send, batch), config, sleep=sleep)
            for batch in batches
        ]
    for future in futures:
        future.result()
