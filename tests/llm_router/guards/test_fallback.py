"""Redis down: the Redis stores answer from per-process state (a warning, a counter), and
probe Redis again after the cooldown."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest
import redis

from ragline.llm_router.errors import RateLimited
from ragline.llm_router.guards.breaker import BreakerConfig, CircuitBreaker, RedisBreakerStore
from ragline.llm_router.guards.budgets import RedisBudgetStore
from ragline.llm_router.guards.fallback import RedisFallback, open_fallbacks, redis_client
from ragline.llm_router.guards.ratelimit import RateLimitConfig, RedisRateLimiter

pytestmark = pytest.mark.unit


def dead_client() -> redis.Redis:
    with socket.socket() as sock:  # a port nobody listens on: refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return redis_client(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)


def test_rate_limits_hold_per_process_while_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisRateLimiter(dead_client(), RateLimitConfig(requests_per_minute=2))
    limiter.acquire("alice", 0)
    limiter.acquire("alice", 0)
    with pytest.raises(RateLimited):
        limiter.acquire("alice", 0)  # the per-process bucket is empty too
    health = limiter.fallback.health()
    assert health.degraded and health.fallbacks == 3
    assert "ConnectionError" in health.detail
    assert any(h.what == "rate limits" and h.degraded for h in open_fallbacks())
    warnings = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once per interval, not once per call


def test_budgets_and_breakers_fall_back_too() -> None:
    client = dead_client()
    budgets = RedisBudgetStore(client)
    assert budgets.add("day:x", Decimal("0.25"), 60) == Decimal("0.25")
    assert budgets.spent("day:x") == Decimal("0.25")
    breaker = CircuitBreaker(BreakerConfig(failures=2), RedisBreakerStore(client))
    breaker.record_failure("m")
    breaker.record_failure("m")
    assert breaker.state("m") == "open" and not breaker.allow("m")


def test_the_cooldown_skips_redis_then_one_call_probes() -> None:
    now = [0.0]
    fallback = RedisFallback("budgets", cooldown_s=5.0, clock=lambda: now[0])
    calls: list[str] = []

    def down() -> str:
        calls.append("redis")
        raise redis.ConnectionError("refused")

    assert fallback.call(down, lambda: "local") == "local"
    assert fallback.call(down, lambda: "local") == "local"  # open: Redis is not tried
    assert calls == ["redis"]
    now[0] = 6.0
    assert fallback.call(lambda: "redis", lambda: "local") == "redis"  # the probe: back
    assert not fallback.health().degraded
    with pytest.raises(ValueError, match="cooldown_s"):
        RedisFallback("x", cooldown_s=0)
