"""Redis down: rate limits, budgets and breaker state fall back to this process's own state.

    fallback = RedisFallback("rate limits")
    fallback.call(lambda: shared.acquire(key, 0), lambda: local.acquire(key, 0))
    fallback.health()          # degraded or not, and how many calls fell back

`RedisRateLimiter`, `RedisBudgetStore` and `RedisBreakerStore` each route every Redis call
through one of these, with the matching `Memory*` store as the fallback. A call that raises
`redis.RedisError` (refused, reset, timed out) is answered by the per-process store instead,
and opens a small circuit breaker: for `cooldown_s` every call goes straight to the fallback
(no connect attempt, no timeout to wait), then one call probes Redis again. A warning says
once a minute that the replicas no longer share limits; `open_fallbacks()` feeds /ready and
/metrics.

What the fallback sees while Redis is down stays in this process: spending charged then is
not added to the shared totals when Redis returns, and each replica enforces its own rate
limit (N replicas together allow up to N times the configured rate).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

T = TypeVar("T")
_WARN_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class FallbackHealth:
    """One Redis-backed store: `degraded` while its calls go to the per-process fallback.

    FallbackHealth("rate limits", True, "unreachable for 4 s (ConnectionError)", 12)
    """

    what: str
    degraded: bool
    detail: str
    fallbacks: int


_OPEN: weakref.WeakSet[RedisFallback] = weakref.WeakSet()


def open_fallbacks() -> list[FallbackHealth]:
    """The health of every Redis-backed store of this process (for /ready and /metrics)."""
    return sorted((f.health() for f in list(_OPEN)), key=lambda h: h.what)


def redis_client(url: str, timeout_s: float = 2.0) -> redis.Redis:
    """A client whose every wait is bounded: `timeout_s` to connect and to answer, and one
    immediate retry (a pooled connection Redis closed), not redis-py's default three retries
    with backoff, which hold a request for seconds per call while Redis is down."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 1)
    )


class RedisFallback:
    """Calls Redis, or the per-process fallback while Redis fails (module docstring).

    Example:
        >>> fallback = RedisFallback("budgets", cooldown_s=5.0)
        >>> fallback.call(lambda: 1, lambda: 0)
        1
    """

    def __init__(
        self, what: str, cooldown_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        import redis

        if cooldown_s <= 0:
            raise ValueError(f"cooldown_s must be > 0, got {cooldown_s}")
        self.what = what
        self.cooldown_s = cooldown_s
        self._errors = (redis.RedisError,)
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._cause = ""
        self._warned_at = -_WARN_EVERY_S
        self._fallbacks = 0
        _OPEN.add(self)

    def call(self, shared: Callable[[], T], local: Callable[[], T]) -> T:
        """`shared()` (the Redis call) unless Redis is known down; else, or when it raises a
        Redis error, `local()`."""
        if not self._try_redis():
            return self._fall_back(local)
        try:
            result = shared()
        except self._errors as exc:
            self._failed(exc)
            return self._fall_back(local)
        self._recovered()
        return result

    def health(self) -> FallbackHealth:
        with self._lock:
            down, cause, fallbacks = self._down_since, self._cause, self._fallbacks
        if down is None:
            return FallbackHealth(self.what, False, "ok", fallbacks)
        detail = (
            f"degraded: Redis unreachable for {self._clock() - down:.0f} s ({cause}); "
            f"{self.what} are per process"
        )
        return FallbackHealth(self.what, True, detail, fallbacks)

    def _try_redis(self) -> bool:
        """Closed: yes. Open: no, until the cooldown passed; then this call is the probe."""
        with self._lock:
            if self._down_since is None:
                return True
            now = self._clock()
            if now < self._retry_at:
                return False
            self._retry_at = now + self.cooldown_s  # the others fall back meanwhile
            return True

    def _fall_back(self, local: Callable[[], T]) -> T:
        with self._lock:
            self._fallbacks += 1
        return local()

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            now = self._clock()
            first = self._down_since is None
            if first:
                self._down_since = now
            self._retry_at = now + self.cooldown_s
            self._cause = type(exc).__name__
            warn = first or now - self._warned_at >= _WARN_EVERY_S
            if warn:
                self._warned_at = now
            fallbacks = self._fallbacks
        if warn:
            log.warning(
                "Redis is unreachable (%s: %s): %s fall back to this process's own state "
                "(%d calls so far); replicas no longer share them until it returns",
                type(exc).__name__,
                exc,
                self.what,
                fallbacks,
            )

    def _recovered(self) -> None:
        with self._lock:
            down, self._down_since, self._cause = self._down_since, None, ""
        if down is not None:
            log.warning("Redis is back: %s are shared again", self.what)
