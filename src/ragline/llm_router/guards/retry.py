"""Retrying a call with exponential backoff, and a wall-clock limit per call.

    config = RetryConfig(attempts=3, timeout_s=30)
    completion = call_with_retry(
        lambda: call_with_timeout(lambda: model.complete(request), config.timeout_s, model.name),
        config,
    )

Which errors are retried is `ragline.llm_router.errors.retryable`: `Timeout`, `RateLimited` and
`ServerError`. Everything else (`BadRequest`, `AuthError`, `Unavailable`, ...) propagates at
once, because the same request would fail the same way. A `RateLimited` whose `retry_after_s`
is longer than `max_retry_after_s` also propagates at once: a request should not sleep for
minutes inside a web handler when another deployment may serve it now.

Delay before retry number n (1-based), before jitter: `min(max_s, base_s * 2**(n-1))`; with
`jitter` j the delay is drawn uniformly from `[delay * (1 - j), delay]` (j=1: "full jitter", which
spreads clients that failed together). A provider's Retry-After is a floor: never wait less.
"""

from __future__ import annotations

import contextvars
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import TypeVar

from pydantic import Field

from ragline.core.strict import Strict
from ragline.llm_router.errors import ProviderError, RateLimited, Timeout, retryable

T = TypeVar("T")

# 2**60 * any sane base_s is far beyond any max_s; the cap keeps huge attempt numbers finite.
_MAX_EXPONENT = 60


class RetryConfig(Strict):
    """How often, and how patiently, one deployment is retried.

    RetryConfig()                                   # 3 tries, 0.25 s then 0.5 s (jittered)
    RetryConfig(attempts=1, timeout_s=None)         # no retry, no time limit
    """

    attempts: int = Field(3, ge=1, description="total tries per deployment (1: no retry)")
    base_s: float = Field(0.25, ge=0, description="delay before the first retry")
    max_s: float = Field(8.0, ge=0, description="the longest single delay")
    jitter: float = Field(1.0, ge=0, le=1, description="0: none; 1: uniform in 0..delay")
    max_retry_after_s: float = Field(
        30.0, ge=0, description="a longer Retry-After is not waited for: the error is raised"
    )
    timeout_s: float | None = Field(60.0, gt=0, description="per-call limit; null: none")


def backoff_s(
    attempt: int,
    config: RetryConfig,
    rng: random.Random,
    retry_after_s: float | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (1-based); at least `retry_after_s`."""
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}; pass 1 for the first retry")
    delay = min(config.max_s, config.base_s * 2.0 ** min(attempt - 1, _MAX_EXPONENT))
    delay *= 1.0 - config.jitter * rng.random()
    if retry_after_s is not None:
        # The provider said when it will take requests again; jitter only ever adds to that.
        delay = max(delay, retry_after_s)
    return delay


def call_with_retry(
    fn: Callable[[], T],
    config: RetryConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[int, ProviderError, float], None] | None = None,
) -> T:
    """`fn()`, tried up to `config.attempts` times while it raises a retryable error.

    `on_retry(attempt, error, delay_s)` is called before each sleep (attempt 1 = the first
    retry), e.g. to log or count retries. The last error propagates unchanged, with a note.
    """
    rng = rng if rng is not None else random.Random()
    attempt = 1
    while True:
        try:
            return fn()
        except ProviderError as error:
            if not retryable(error):
                raise
            if attempt >= config.attempts:
                error.add_note(f"gave up after {attempt} attempt(s) (RetryConfig.attempts)")
                raise
            retry_after = error.retry_after_s if isinstance(error, RateLimited) else None
            if retry_after is not None and retry_after > config.max_retry_after_s:
                error.add_note(
                    f"Retry-After {retry_after:g} s exceeds max_retry_after_s="
                    f"{config.max_retry_after_s:g}; not waited for (raise it to wait)"
                )
                raise
            delay = backoff_s(attempt, config, rng, retry_after)
            if on_retry is not None:
                on_retry(attempt, error, delay)
            sleep(delay)
            attempt += 1


def call_with_timeout(fn: Callable[[], T], timeout_s: float | None, what: str) -> T:
    """`fn()`, or `Timeout` if it has not returned within `timeout_s` seconds (None: no limit).

    `fn` runs in a new daemon thread (with the caller's contextvars). Python cannot kill a
    thread, so a call that times out keeps running in the background until it returns on its
    own; its result or error is dropped. That is why HTTP providers also pass their own
    timeout to the SDK, which does close the connection. A fresh daemon thread per call (not a
    shared pool) means abandoned calls can neither exhaust a pool, making later healthy calls
    queue and time out, nor keep the interpreter from exiting.
    """
    if timeout_s is None:
        return fn()
    future: Future[T] = Future()
    context = contextvars.copy_context()

    def run() -> None:
        try:
            future.set_result(context.run(fn))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who re-raises it
            future.set_exception(exc)

    threading.Thread(target=run, name=f"ragline-call:{what}", daemon=True).start()
    if not wait([future], timeout=timeout_s).done:
        raise Timeout(
            f"{what} did not answer within {timeout_s} s; raise RetryConfig.timeout_s "
            "(or the provider's timeout_s) if it is just slow, or route to a faster deployment"
        )
    return future.result()


def enforces_timeout(model: object, timeout_s: float | None) -> bool:
    """True when the provider enforces a per-call timeout at least as strict as `timeout_s`
    itself (the HTTP SDKs do): then no watchdog thread is needed."""
    own = getattr(model, "timeout_s", None)
    return isinstance(own, int | float) and (timeout_s is None or own <= timeout_s)
