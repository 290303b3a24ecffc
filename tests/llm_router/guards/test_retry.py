"""Retry with backoff and the per-call time limit; sleeps are recorded, never slept."""

from __future__ import annotations

import contextvars
import random
import threading
from collections.abc import Callable, Iterator

import pytest
from pydantic import ValidationError

from ragline.llm_router.errors import (
    AuthError,
    BadRequest,
    ProviderError,
    RateLimited,
    ServerError,
    Timeout,
    Unavailable,
)
from ragline.llm_router.guards.retry import (
    RetryConfig,
    backoff_s,
    call_with_retry,
    call_with_timeout,
)

pytestmark = pytest.mark.unit

NO_JITTER = RetryConfig(attempts=6, base_s=0.25, max_s=8.0, jitter=0.0)


class Flaky:
    """Raises the given errors in turn, then returns "ok"; counts calls."""

    def __init__(self, *errors: ProviderError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.fixture
def slept() -> list[float]:
    return []


def run(
    fn: Callable[[], str],
    config: RetryConfig,
    slept: list[float],
    on_retry: Callable[[int, ProviderError, float], None] | None = None,
) -> str:
    return call_with_retry(fn, config, sleep=slept.append, rng=random.Random(7), on_retry=on_retry)


# --- backoff_s -------------------------------------------------------------------------------


def test_backoff_doubles_from_base_and_is_capped() -> None:
    rng = random.Random(0)
    delays = [backoff_s(n, NO_JITTER, rng) for n in range(1, 9)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff_s(10_000, NO_JITTER, rng) == 8.0  # no overflow for absurd attempt numbers


def test_full_jitter_stays_within_zero_and_the_delay() -> None:
    config = RetryConfig(base_s=1.0, max_s=4.0, jitter=1.0)
    rng = random.Random(42)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 4.0)]:
        delays = [backoff_s(attempt, config, rng) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert min(delays) < 0.1 * ceiling and max(delays) > 0.9 * ceiling  # really spread


def test_partial_jitter_keeps_the_lower_part_of_the_delay() -> None:
    config = RetryConfig(base_s=2.0, jitter=0.25)
    delays = [backoff_s(1, config, random.Random(seed)) for seed in range(200)]
    assert all(1.5 <= d <= 2.0 for d in delays)
    assert len(set(delays)) > 100


def test_seeded_rng_gives_reproducible_delays() -> None:
    config = RetryConfig()
    first = [backoff_s(n, config, random.Random(3)) for n in range(1, 5)]
    again = [backoff_s(n, config, random.Random(3)) for n in range(1, 5)]
    assert first == again


def test_retry_after_is_a_floor_without_jitter_below_it() -> None:
    config = RetryConfig(base_s=0.25, jitter=1.0)
    rng = random.Random(1)
    assert all(backoff_s(1, config, rng, retry_after_s=5.0) == 5.0 for _ in range(50))
    # when the backoff is already longer, the longer wait wins
    assert backoff_s(4, NO_JITTER, rng, retry_after_s=0.1) == 2.0


def test_backoff_attempt_is_one_based() -> None:
    with pytest.raises(ValueError, match="1-based"):
        backoff_s(0, NO_JITTER, random.Random())


def test_config_is_strict_and_frozen() -> None:
    with pytest.raises(ValidationError):
        RetryConfig(attempts=0)
    with pytest.raises(ValidationError):
        RetryConfig(jitter=1.5)
    with pytest.raises(ValidationError):
        RetryConfig(retries=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        NO_JITTER.attempts = 9  # type: ignore[misc]


# --- call_with_retry -------------------------------------------------------------------------


@pytest.mark.parametrize("error", [Timeout("t"), RateLimited("r"), ServerError("s")])
def test_retryable_errors_are_retried_with_growing_delays(
    error: ProviderError, slept: list[float]
) -> None:
    fn = Flaky(error, error, error)
    assert run(fn, RetryConfig(attempts=4, jitter=0.0), slept) == "ok"
    assert fn.calls == 4
    assert slept == [0.25, 0.5, 1.0]


@pytest.mark.parametrize(
    "error", [BadRequest("b"), AuthError("a"), Unavailable("u"), ProviderError("p")]
)
def test_other_errors_propagate_at_once(error: ProviderError, slept: list[float]) -> None:
    fn = Flaky(error)
    with pytest.raises(type(error)) as raised:
        run(fn, NO_JITTER, slept)
    assert raised.value is error
    assert fn.calls == 1 and slept == []


def test_non_provider_errors_are_not_retried(slept: list[float]) -> None:
    calls = []

    def broken() -> str:
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run(broken, NO_JITTER, slept)
    assert len(calls) == 1 and slept == []


def test_exhausted_attempts_reraise_the_last_error(slept: list[float]) -> None:
    last = ServerError("third")
    fn = Flaky(Timeout("first"), RateLimited("second"), last, ServerError("never raised"))
    with pytest.raises(ServerError) as raised:
        run(fn, RetryConfig(attempts=3, jitter=0.0), slept)
    assert raised.value is last
    assert any("3 attempt" in note for note in raised.value.__notes__)
    assert fn.calls == 3 and slept == [0.25, 0.5]


def test_one_attempt_means_no_retry(slept: list[float]) -> None:
    fn = Flaky(Timeout("t"))
    with pytest.raises(Timeout):
        run(fn, RetryConfig(attempts=1), slept)
    assert fn.calls == 1 and slept == []


def test_retry_after_is_honoured(slept: list[float]) -> None:
    fn = Flaky(RateLimited("429", retry_after_s=7.5), RateLimited("429", retry_after_s=None))
    assert run(fn, RetryConfig(jitter=0.0, max_retry_after_s=30), slept) == "ok"
    assert slept == [7.5, 0.5]  # the second 429 has no hint: plain backoff


def test_too_long_retry_after_raises_at_once(slept: list[float]) -> None:
    error = RateLimited("429", retry_after_s=120.0)
    fn = Flaky(error)
    with pytest.raises(RateLimited) as raised:
        run(fn, RetryConfig(max_retry_after_s=30), slept)
    assert raised.value is error
    assert any("max_retry_after_s" in note for note in raised.value.__notes__)
    assert fn.calls == 1 and slept == []


def test_retry_after_exactly_at_the_limit_is_waited_for(slept: list[float]) -> None:
    fn = Flaky(RateLimited("429", retry_after_s=30.0))
    assert run(fn, RetryConfig(max_retry_after_s=30), slept) == "ok"
    assert slept == [30.0]


def test_on_retry_gets_attempt_error_and_the_slept_delay(slept: list[float]) -> None:
    first, second = Timeout("a"), RateLimited("b", retry_after_s=3.0)
    seen: list[tuple[int, ProviderError, float]] = []
    fn = Flaky(first, second)
    result = run(fn, RetryConfig(jitter=1.0), slept, on_retry=lambda *a: seen.append(a))
    assert result == "ok"
    assert [(n, e) for n, e, _ in seen] == [(1, first), (2, second)]
    assert [d for _, _, d in seen] == slept
    assert 0.0 <= slept[0] <= 0.25 and slept[1] == 3.0


def test_success_on_first_try_does_not_sleep(slept: list[float]) -> None:
    assert run(Flaky(), RetryConfig(), slept) == "ok"
    assert slept == []


# --- call_with_timeout -----------------------------------------------------------------------


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown so that an abandoned call's thread finishes."""
    event = threading.Event()
    yield event
    event.set()


def test_timeout_raises_on_a_slow_call(release: threading.Event) -> None:
    started = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)
        return "late"

    with pytest.raises(Timeout, match=r"openai:gpt-4o-mini did not answer within 0\.05 s"):
        call_with_timeout(slow, 0.05, "openai:gpt-4o-mini")
    assert started.is_set()  # it really ran, and was abandoned


def test_timeout_returns_the_result_of_a_fast_call() -> None:
    assert call_with_timeout(lambda: 42, 30.0, "fast") == 42


def test_timeout_passes_the_call_error_through() -> None:
    error = ServerError("502")

    def broken() -> int:
        raise error

    with pytest.raises(ServerError) as raised:
        call_with_timeout(broken, 30.0, "broken")
    assert raised.value is error


def test_a_builtin_timeout_error_from_the_call_is_not_mistaken_for_ours() -> None:
    def socket_timeout() -> int:
        raise TimeoutError("read timed out")

    with pytest.raises(TimeoutError, match="read timed out"):
        call_with_timeout(socket_timeout, 30.0, "sdk")


def test_call_runs_in_a_worker_thread_with_the_callers_contextvars() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    request_id.set("req-1")
    seen = call_with_timeout(lambda: (threading.get_ident(), request_id.get()), 30.0, "ctx")
    assert seen[0] != threading.get_ident()
    assert seen[1] == "req-1"


def test_no_timeout_calls_directly_in_this_thread() -> None:
    assert call_with_timeout(threading.get_ident, None, "direct") == threading.get_ident()


def test_retry_around_timeout_retries_a_timed_out_call(
    release: threading.Event, slept: list[float]
) -> None:
    calls: list[int] = []

    def first_hangs() -> str:
        calls.append(1)
        if len(calls) == 1:
            release.wait(10)
        return "ok"

    config = RetryConfig(jitter=0.0, timeout_s=0.05)
    result = run(lambda: call_with_timeout(first_hangs, config.timeout_s, "m"), config, slept)
    assert result == "ok" and len(calls) == 2 and slept == [0.25]
