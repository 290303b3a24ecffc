"""Circuit breaker behaviour, run against every store (memory, real Redis) with an injected clock.

The module has no single `pytestmark`: each store's cases carry their own marker (memory: unit,
Redis: integration, through the `store` fixture's params), so `-m unit` still runs the memory
half without Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from pydantic import ValidationError

from ragline.llm_router.guards.breaker import (
    BreakerConfig,
    BreakerStore,
    CircuitBreaker,
    MemoryBreakerStore,
    RedisBreakerStore,
)

CONFIG = BreakerConfig(failures=3, window_s=30.0, cooldown_s=15.0)
NAME = "openai:gpt-4o-mini"
# Far from the real time: a store that consulted Redis's clock instead of `now` would fail.
START = 1_000_000.125


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def at(self, offset_s: float) -> None:
        self.now = START + offset_s


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("redis", marks=pytest.mark.integration),
    ]
)
def store(request: pytest.FixtureRequest) -> BreakerStore:
    if request.param == "memory":
        return MemoryBreakerStore()
    client: redis.Redis = request.getfixturevalue("redis_client")
    return RedisBreakerStore(client, prefix=request.getfixturevalue("redis_prefix"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(store: BreakerStore, clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(CONFIG, store, clock=clock)


def open_at(breaker: CircuitBreaker, clock: Clock, offset_s: float) -> None:
    clock.at(offset_s)
    for _ in range(CONFIG.failures):
        breaker.record_failure(NAME)
    assert breaker.state(NAME) == "open"


def allow_many(allow: Callable[[], bool], n: int = 16) -> list[bool]:
    """`n` allow() calls at once from a thread pool: concurrent callers, not a loop."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: allow(), range(n)))


# --- closed -> open --------------------------------------------------------------------------


def test_a_new_name_is_closed_and_allowed(breaker: CircuitBreaker) -> None:
    assert breaker.state(NAME) == "closed"
    assert breaker.allow(NAME)


def test_opens_after_exactly_n_failures(breaker: CircuitBreaker, clock: Clock) -> None:
    for offset in (0.0, 1.0):
        clock.at(offset)
        breaker.record_failure(NAME)
    assert breaker.state(NAME) == "closed" and breaker.allow(NAME)  # N-1 do not open
    clock.at(2.0)
    breaker.record_failure(NAME)
    assert breaker.state(NAME) == "open"
    assert not breaker.allow(NAME)


def test_failures_older_than_the_window_do_not_count(breaker: CircuitBreaker, clock: Clock) -> None:
    for offset in (0.0, 10.0, 30.0):  # the first is exactly window_s old at 30: out
        clock.at(offset)
        breaker.record_failure(NAME)
    assert breaker.state(NAME) == "closed"
    clock.at(35.0)
    breaker.record_failure(NAME)  # 10, 30, 35: three within 30 s
    assert breaker.state(NAME) == "open"


def test_successes_in_between_do_not_reset_the_count(breaker: CircuitBreaker) -> None:
    # a deployment failing every other call must still open (half its traffic is lost)
    for _ in range(2):
        breaker.record_failure(NAME)
        breaker.record_success(NAME)
    assert breaker.state(NAME) == "closed"
    breaker.record_failure(NAME)
    assert breaker.state(NAME) == "open"


def test_circuits_are_per_name(breaker: CircuitBreaker, clock: Clock) -> None:
    open_at(breaker, clock, 0.0)
    assert breaker.allow("anthropic:claude")
    assert breaker.state("anthropic:claude") == "closed"


# --- open ------------------------------------------------------------------------------------


def test_stays_open_for_the_full_cooldown(breaker: CircuitBreaker, clock: Clock) -> None:
    open_at(breaker, clock, 0.0)
    for offset in (0.0, 1.0, 7.5, 14.999):
        clock.at(offset)
        assert allow_many(lambda: breaker.allow(NAME)) == [False] * 16
        assert breaker.state(NAME) == "open"
    clock.at(15.0)
    assert breaker.state(NAME) == "half_open"


def test_late_reports_while_open_do_not_change_the_cooldown(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    open_at(breaker, clock, 0.0)
    clock.at(3.0)
    breaker.record_success(NAME)  # a call let through before the circuit opened
    assert breaker.state(NAME) == "open" and not breaker.allow(NAME)
    clock.at(14.0)
    breaker.record_failure(NAME)  # does not extend the cooldown either
    clock.at(15.0)
    assert breaker.state(NAME) == "half_open"


# --- half-open -------------------------------------------------------------------------------


def test_exactly_one_probe_while_half_open(breaker: CircuitBreaker, clock: Clock) -> None:
    open_at(breaker, clock, 0.0)
    clock.at(20.0)
    assert sorted(allow_many(lambda: breaker.allow(NAME))) == [False] * 15 + [True]
    assert not breaker.allow(NAME)  # still out
    assert breaker.state(NAME) == "half_open"


def test_probe_success_closes_and_forgets_failures(breaker: CircuitBreaker, clock: Clock) -> None:
    open_at(breaker, clock, 0.0)
    clock.at(16.0)
    assert breaker.allow(NAME)
    breaker.record_success(NAME)
    assert breaker.state(NAME) == "closed"
    assert allow_many(lambda: breaker.allow(NAME)) == [True] * 16
    for _ in range(CONFIG.failures - 1):
        breaker.record_failure(NAME)
    assert breaker.state(NAME) == "closed"  # counting starts from zero again


def test_probe_failure_reopens_for_a_full_cooldown(breaker: CircuitBreaker, clock: Clock) -> None:
    open_at(breaker, clock, 0.0)
    clock.at(20.0)
    assert breaker.allow(NAME)
    breaker.record_failure(NAME)
    assert breaker.state(NAME) == "open"
    clock.at(34.999)  # 20 + 15 - epsilon
    assert not breaker.allow(NAME)
    clock.at(35.0)
    assert breaker.state(NAME) == "half_open"
    assert breaker.allow(NAME)  # a fresh probe, not blocked by the failed one's lock


def test_a_probe_that_never_reports_is_released_after_the_cooldown(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    open_at(breaker, clock, 0.0)
    clock.at(15.0)
    assert breaker.allow(NAME)  # ...and the caller crashes without reporting
    clock.at(29.999)
    assert not breaker.allow(NAME)
    clock.at(30.0)
    assert breaker.allow(NAME)  # the next caller probes
    assert not breaker.allow(NAME)
    breaker.record_success(NAME)
    assert breaker.state(NAME) == "closed"


# --- CircuitBreaker --------------------------------------------------------------------------


def test_states_lists_every_name_seen(breaker: CircuitBreaker, clock: Clock) -> None:
    open_at(breaker, clock, 0.0)
    breaker.allow("vllm:llama")
    breaker.record_success("local")
    assert breaker.states() == {"local": "closed", NAME: "open", "vllm:llama": "closed"}
    clock.at(15.0)
    assert breaker.states()[NAME] == "half_open"


@pytest.mark.unit
def test_breaker_defaults_to_memory_and_the_wall_clock() -> None:
    breaker = CircuitBreaker(BreakerConfig(failures=1, cooldown_s=3600))
    breaker.record_failure(NAME)
    assert breaker.state(NAME) == "open"
    assert not breaker.allow(NAME)


@pytest.mark.unit
def test_breaker_config_is_strict_and_validated() -> None:
    with pytest.raises(ValidationError):
        BreakerConfig(failures=0)
    with pytest.raises(ValidationError):
        BreakerConfig(cooldown_s=0)
    with pytest.raises(ValidationError):
        BreakerConfig(threshold=3)  # type: ignore[call-arg]


# --- Redis: several replicas -----------------------------------------------------------------


@pytest.mark.integration
def test_replicas_share_the_circuit_and_only_one_probes(
    redis_url: str, redis_prefix: str, redis_client: redis.Redis
) -> None:
    clock = Clock()
    second_client = redis.Redis.from_url(redis_url)
    try:
        a = CircuitBreaker(CONFIG, RedisBreakerStore(redis_client, redis_prefix), clock)
        b = CircuitBreaker(CONFIG, RedisBreakerStore(second_client, redis_prefix), clock)
        a.record_failure(NAME)
        b.record_failure(NAME)
        assert a.state(NAME) == b.state(NAME) == "closed"
        a.record_failure(NAME)  # the third failure, counted across replicas
        assert b.state(NAME) == "open" and not b.allow(NAME)

        clock.at(15.0)
        allowed = [a.allow(NAME), b.allow(NAME), b.allow(NAME), a.allow(NAME)]
        assert allowed == [True, False, False, False]
        a.record_success(NAME)
        assert b.state(NAME) == "closed" and b.allow(NAME)
    finally:
        second_client.close()


@pytest.mark.integration
def test_redis_keys_carry_the_prefix_and_expire(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    clock = Clock()
    breaker = CircuitBreaker(CONFIG, RedisBreakerStore(redis_client, redis_prefix), clock)
    breaker.record_failure("a")
    open_at(breaker, clock, 0.0)
    clock.at(15.0)
    assert breaker.allow(NAME)
    keys = sorted(k.decode() for k in redis_client.scan_iter(match=f"{redis_prefix}*"))
    assert keys == [
        f"{redis_prefix}a:failures",
        f"{redis_prefix}{NAME}:open_until",
        f"{redis_prefix}{NAME}:probe",
    ]
    assert all(redis_client.pttl(key) > 0 for key in keys)  # nothing is left behind forever
