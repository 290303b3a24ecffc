"""Requests and tokens per minute, per key: in one process, or shared by replicas through Redis.

    config = RateLimitConfig(requests_per_minute=60, tokens_per_minute=90_000)
    limiter = MemoryRateLimiter(config)
    limiter.acquire("alice", tokens=1_200)   # over: RateLimited(retry_after_s=...); never sleeps

Each key has two token buckets that hold one minute's allowance and refill continuously
(`requests_per_minute / 60` per second), so a client may burst up to a minute's allowance and
then proceeds at the configured rate. A refused call takes nothing from either bucket, and
`retry_after_s` is the exact time until both hold enough again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import Field

from ragline.core.strict import Strict
from ragline.llm_router.errors import BadRequest, RateLimited
from ragline.llm_router.guards.fallback import RedisFallback

if TYPE_CHECKING:
    import redis

# Waits this short are rounding, not a limit: timestamps near 1.8e9 s carry only ~0.24 µs of
# precision, and waiting exactly `retry_after_s` must be enough.
_EPS_S = 1e-6
_WINDOW_S = 60.0
_KEY_TTL_MS = int(_WINDOW_S * 1000) + 1000


class RateLimitConfig(Strict):
    """Allowance per key per minute; None: unlimited.

    RateLimitConfig(requests_per_minute=600, tokens_per_minute=200_000)
    """

    requests_per_minute: int | None = Field(None, gt=0)
    tokens_per_minute: int | None = Field(None, gt=0)


class RateLimiter(Protocol):
    """Takes one request and `tokens` tokens from `key`'s allowance, or raises `RateLimited`."""

    def acquire(self, key: str, tokens: int) -> None: ...


@dataclass(slots=True)
class _Bucket:
    requests: float
    tokens: float
    ts: float


@dataclass(frozen=True, slots=True)
class _Waits:
    requests_s: float
    tokens_s: float


def _refill(bucket: _Bucket, now: float, config: RateLimitConfig) -> None:
    elapsed = max(0.0, now - bucket.ts)  # a clock that steps back must not drain the bucket
    rpm, tpm = config.requests_per_minute or 0, config.tokens_per_minute or 0
    bucket.requests = min(float(rpm), bucket.requests + elapsed * rpm / _WINDOW_S)
    bucket.tokens = min(float(tpm), bucket.tokens + elapsed * tpm / _WINDOW_S)
    bucket.ts = max(bucket.ts, now)


def _take(bucket: _Bucket, tokens: int, config: RateLimitConfig) -> _Waits:
    """Take from a refilled bucket if both allowances suffice; else how long each must wait."""
    rpm, tpm = config.requests_per_minute, config.tokens_per_minute
    wait_r = _wait(1 - bucket.requests, rpm)
    wait_t = _wait(tokens - bucket.tokens, tpm)
    if wait_r == 0 and wait_t == 0:
        bucket.requests -= 1 if rpm else 0
        bucket.tokens -= tokens if tpm else 0
    return _Waits(wait_r, wait_t)


def _wait(short: float, per_minute: int | None) -> float:
    if not per_minute:
        return 0.0
    wait = short * _WINDOW_S / per_minute
    return wait if wait > _EPS_S else 0.0


def _check_tokens(key: str, tokens: int, config: RateLimitConfig) -> None:
    if tokens < 0:
        raise ValueError(f"tokens must be >= 0, got {tokens}")
    tpm = config.tokens_per_minute
    if tpm is not None and tokens > tpm:
        raise BadRequest(
            f"rate limit for {key!r}: a call of {tokens} tokens can never fit "
            f"tokens_per_minute={tpm}; raise RateLimitConfig.tokens_per_minute, or send a "
            f"shorter prompt / lower max_tokens"
        )


def _raise_if_refused(key: str, waits: _Waits, config: RateLimitConfig) -> None:
    if waits.requests_s == 0 and waits.tokens_s == 0:
        return
    over = []
    if waits.requests_s > 0:
        over.append(f"requests_per_minute={config.requests_per_minute}")
    if waits.tokens_s > 0:
        over.append(f"tokens_per_minute={config.tokens_per_minute}")
    retry = max(waits.requests_s, waits.tokens_s)
    raise RateLimited(
        f"rate limit for {key!r} reached ({', '.join(over)}); retry in {retry:.3f} s, "
        f"or raise RateLimitConfig.{over[0].split('=')[0]}",
        retry_after_s=retry,
    )


class MemoryRateLimiter:
    """Token buckets per key in this process; thread-safe.

    limiter = MemoryRateLimiter(RateLimitConfig(requests_per_minute=60))
    limiter.acquire("alice", tokens=0)
    """

    def __init__(
        self, config: RateLimitConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._next_prune = 0.0

    def acquire(self, key: str, tokens: int) -> None:
        _check_tokens(key, tokens, self.config)
        if self.config.requests_per_minute is None and self.config.tokens_per_minute is None:
            return
        with self._lock:
            now = self._clock()
            self._prune(now)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = self._full(now)
            _refill(bucket, now, self.config)
            waits = _take(bucket, tokens, self.config)
        _raise_if_refused(key, waits, self.config)

    def _full(self, now: float) -> _Bucket:
        c = self.config
        return _Bucket(float(c.requests_per_minute or 0), float(c.tokens_per_minute or 0), now)

    def _prune(self, now: float) -> None:
        # A bucket untouched for a whole window is full again: the same as no bucket.
        if now < self._next_prune:
            return
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.ts < _WINDOW_S}
        self._next_prune = now + _WINDOW_S


# The same arithmetic as `_refill` + `_take`, run atomically in Redis so replicas share one
# allowance. Numbers are stored with 17 significant digits (Lua's tostring keeps only 14).
_ACQUIRE = """
local now, rpm, tpm, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
local eps, window = 1e-6, 60.0
local s = redis.call('HMGET', KEYS[1], 'r', 't', 'ts')
local r, t, ts = tonumber(s[1]) or rpm, tonumber(s[2]) or tpm, tonumber(s[3]) or now
local elapsed = math.max(0, now - ts)
r = math.min(rpm, r + elapsed * rpm / window)
t = math.min(tpm, t + elapsed * tpm / window)
local wait_r, wait_t = 0, 0
if rpm > 0 then wait_r = (1 - r) * window / rpm end
if tpm > 0 then wait_t = (need - t) * window / tpm end
if wait_r <= eps then wait_r = 0 end
if wait_t <= eps then wait_t = 0 end
if wait_r == 0 and wait_t == 0 then
  if rpm > 0 then r = r - 1 end
  if tpm > 0 then t = t - need end
end
local f = '%.17g'
redis.call('HSET', KEYS[1], 'r', string.format(f, r), 't', string.format(f, t),
  'ts', string.format(f, math.max(ts, now)))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {string.format(f, wait_r), string.format(f, wait_t)}
"""


class RedisRateLimiter:
    """Token buckets per key in Redis, shared by every replica (one atomic Lua script per call).

    limiter = RedisRateLimiter(redis.Redis.from_url(url), RateLimitConfig(requests_per_minute=600))

    The replicas' clocks (`time.time`) set the refill; keep them in sync (NTP). A replica whose
    clock is behind only refills less, never more. While Redis is down, each process limits
    on its own (`ragline.llm_router.guards.fallback`).
    """

    def __init__(
        self,
        client: redis.Redis,
        config: RateLimitConfig,
        prefix: str = "ragline:rl:",
        clock: Callable[[], float] = time.time,
        fallback: RedisFallback | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._acquire = client.register_script(_ACQUIRE)
        self.fallback = fallback or RedisFallback("rate limits")
        self._local = MemoryRateLimiter(config)

    def acquire(self, key: str, tokens: int) -> None:
        _check_tokens(key, tokens, self.config)
        if self.config.requests_per_minute is None and self.config.tokens_per_minute is None:
            return
        waits = self.fallback.call(lambda: self._shared(key, tokens), lambda: None)
        if waits is None:
            self._local.acquire(key, tokens)
            return
        _raise_if_refused(key, waits, self.config)

    def _shared(self, key: str, tokens: int) -> _Waits:
        rpm, tpm = self.config.requests_per_minute, self.config.tokens_per_minute
        # After a full window the bucket is full again, so the key may expire then.
        args: list[str | int] = [repr(self._clock()), rpm or 0, tpm or 0, tokens, _KEY_TTL_MS]
        wait_r, wait_t = self._acquire(keys=[self._prefix + key], args=args)
        return _Waits(float(wait_r), float(wait_t))
