"""Rate limits per key (requests and tokens per minute), in memory and on real Redis.

The module has no single `pytestmark`: the behaviour cases run on both limiters through the
`make` fixture (memory: unit, Redis: integration), so `-m unit` runs without Redis.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import redis
from pydantic import ValidationError

from ragline.llm_router.errors import BadRequest, RateLimited, retryable
from ragline.llm_router.guards.ratelimit import (
    MemoryRateLimiter,
    RateLimitConfig,
    RateLimiter,
    RedisRateLimiter,
)

# Far from zero, like time.time(): rounding at this magnitude must not break exact retries.
START = 1_790_000_000.125


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Make = Callable[[RateLimitConfig], RateLimiter]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("redis", marks=pytest.mark.integration),
    ]
)
def make(request: pytest.FixtureRequest, clock: Clock) -> Make:
    if request.param == "memory":
        return lambda config: MemoryRateLimiter(config, clock=clock)
    client: redis.Redis = request.getfixturevalue("redis_client")
    prefix: str = request.getfixturevalue("redis_prefix")
    return lambda config: RedisRateLimiter(client, config, prefix=prefix, clock=clock)


def _refused(limiter: RateLimiter, key: str, tokens: int) -> RateLimited:
    with pytest.raises(RateLimited) as info:
        limiter.acquire(key, tokens)
    return info.value


def test_unlimited_config_never_refuses(make: Make) -> None:
    limiter = make(RateLimitConfig())
    for _ in range(1000):
        limiter.acquire("alice", 1_000_000)


def test_requests_per_minute_with_exact_retry_after(make: Make, clock: Clock) -> None:
    limiter = make(RateLimitConfig(requests_per_minute=3))
    for _ in range(3):  # a full minute's allowance may be used at once
        limiter.acquire("alice", 0)
    error = _refused(limiter, "alice", 0)
    assert retryable(error)
    assert error.retry_after_s == pytest.approx(20.0)  # one request every 60/3 s
    assert "requests_per_minute=3" in str(error) and "'alice'" in str(error)
    clock.advance(19.99)
    assert _refused(limiter, "alice", 0).retry_after_s == pytest.approx(0.01)
    clock.advance(0.01)  # waiting exactly as told is enough
    limiter.acquire("alice", 0)
    assert _refused(limiter, "alice", 0).retry_after_s == pytest.approx(20.0)


def test_waiting_retry_after_is_enough_despite_float_rounding(make: Make, clock: Clock) -> None:
    # Found by search: here the refill after exactly `retry_after_s` falls 3e-8 s short of a
    # whole request, because timestamps near 1.8e9 s carry only ~0.24 µs of precision.
    clock.now = 1790000134.3642442
    limiter = make(RateLimitConfig(requests_per_minute=7))
    for _ in range(7):
        limiter.acquire("k", 0)
    clock.advance(1.2753451286971085)
    retry = _refused(limiter, "k", 0).retry_after_s
    assert retry is not None
    clock.advance(retry)
    limiter.acquire("k", 0)


def test_tokens_per_minute_and_refusals_take_nothing(make: Make, clock: Clock) -> None:
    limiter = make(RateLimitConfig(tokens_per_minute=1000))
    limiter.acquire("alice", 800)
    error = _refused(limiter, "alice", 500)
    assert error.retry_after_s == pytest.approx(18.0)  # 300 tokens at 1000 per 60 s
    assert "tokens_per_minute=1000" in str(error)
    limiter.acquire("alice", 200)  # the refused call took none of the 200 left
    clock.advance(18.0)
    assert _refused(limiter, "alice", 500).retry_after_s == pytest.approx(12.0)
    clock.advance(12.0)
    limiter.acquire("alice", 500)


def test_retry_after_waits_for_both_limits(make: Make, clock: Clock) -> None:
    limiter = make(RateLimitConfig(requests_per_minute=2, tokens_per_minute=600))
    limiter.acquire("k", 100)
    limiter.acquire("k", 100)
    error = _refused(limiter, "k", 500)
    # requests: 1 at 2/min -> 30 s; tokens: 100 short at 600/min -> 10 s; both must be there
    assert error.retry_after_s == pytest.approx(30.0)
    assert "requests_per_minute=2" in str(error) and "tokens_per_minute=600" in str(error)
    clock.advance(30.0)
    limiter.acquire("k", 500)


def test_bucket_refills_only_up_to_one_minute(make: Make, clock: Clock) -> None:
    limiter = make(RateLimitConfig(requests_per_minute=2))
    limiter.acquire("k", 0)
    clock.advance(3600)  # an idle hour does not bank 120 requests
    limiter.acquire("k", 0)
    limiter.acquire("k", 0)
    assert _refused(limiter, "k", 0).retry_after_s == pytest.approx(30.0)


def test_keys_have_separate_allowances(make: Make) -> None:
    limiter = make(RateLimitConfig(requests_per_minute=1))
    limiter.acquire("alice", 0)
    limiter.acquire("bob", 0)
    _refused(limiter, "alice", 0)


def test_a_clock_stepping_back_does_not_refill(make: Make, clock: Clock) -> None:
    limiter = make(RateLimitConfig(requests_per_minute=1))
    limiter.acquire("k", 0)
    clock.advance(-30)
    error = _refused(limiter, "k", 0)
    assert error.retry_after_s == pytest.approx(60.0)


def test_a_call_larger_than_a_minute_of_tokens_is_a_bad_request(make: Make) -> None:
    limiter = make(RateLimitConfig(tokens_per_minute=100))
    with pytest.raises(BadRequest, match="tokens_per_minute") as info:
        limiter.acquire("k", 101)
    assert not retryable(info.value)
    with pytest.raises(ValueError, match=">= 0"):
        limiter.acquire("k", -1)
    limiter.acquire("k", 100)  # exactly a minute's worth fits


def test_concurrent_callers_get_exactly_the_allowance(make: Make) -> None:
    limiter = make(RateLimitConfig(requests_per_minute=50))
    granted: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(20):
            try:
                limiter.acquire("shared", 1)
            except RateLimited:
                continue
            with lock:
                granted.append(1)

    threads = [threading.Thread(target=work) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 50  # 100 attempts, frozen clock: no more, no fewer


@pytest.mark.unit
def test_config_is_strict() -> None:
    with pytest.raises(ValidationError):
        RateLimitConfig(requests_per_minute=0)
    with pytest.raises(ValidationError):
        RateLimitConfig(tokens_per_hour=5)  # type: ignore[call-arg]


@pytest.mark.unit
def test_memory_limiter_forgets_idle_keys_without_changing_behaviour(clock: Clock) -> None:
    limiter = MemoryRateLimiter(RateLimitConfig(requests_per_minute=1), clock=clock)
    for n in range(100):
        limiter.acquire(f"user-{n}", 0)
    clock.advance(61)
    limiter.acquire("user-0", 0)  # refilled; the sweep dropped the 99 idle buckets
    assert len(limiter._buckets) == 1
    _refused(limiter, "user-0", 0)


@pytest.mark.integration
def test_two_redis_replicas_share_one_limit(
    redis_url: str, redis_prefix: str, redis_client: redis.Redis, clock: Clock
) -> None:
    config = RateLimitConfig(requests_per_minute=4, tokens_per_minute=10_000)
    second_client = redis.Redis.from_url(redis_url)
    try:
        a = RedisRateLimiter(redis_client, config, prefix=redis_prefix, clock=clock)
        b = RedisRateLimiter(second_client, config, prefix=redis_prefix, clock=clock)
        a.acquire("alice", 1000)
        b.acquire("alice", 1000)
        a.acquire("alice", 1000)
        b.acquire("alice", 1000)
        assert _refused(a, "alice", 10).retry_after_s == pytest.approx(15.0)
        assert _refused(b, "alice", 10).retry_after_s == pytest.approx(15.0)
        clock.advance(15.0)
        b.acquire("alice", 10)
        _refused(a, "alice", 10)
        keys = [k.decode() for k in redis_client.scan_iter(match=f"{redis_prefix}*")]
        assert keys == [f"{redis_prefix}alice"]
        assert 60_000 < redis_client.pttl(keys[0]) <= 61_000  # gone once it would be full
    finally:
        second_client.close()
