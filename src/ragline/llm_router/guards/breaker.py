"""A circuit breaker per deployment name: stop sending requests to a deployment that keeps failing.

                 `failures` failures within `window_s`
     ┌────────┐  (successes in between do not reset)   ┌────────┐
     │ closed │ ─────────────────────────────────────> │  open  │ <───────────┐
     └────────┘                                        └────────┘             │
         ^                                                 │ cooldown_s       │ the probe
         │ the probe succeeds                              v passes           │ fails
         │                                           ┌───────────┐            │
         └────────────────────────────────────────── │ half_open │ ───────────┘
                                                     └───────────┘
- closed: every call is allowed; failures are counted in a sliding window, and successes do
  not reset the count, so a deployment failing every other call opens too (a consecutive-
  failure count would keep sending it half the traffic forever).
- open: `allow()` is False for the full `cooldown_s`, however often it is asked. A late report
  from a call let through before the circuit opened changes nothing: the cooldown holds.
- half_open: exactly one call at a time, the probe, is allowed. Its success closes the circuit
  and forgets every failure; its failure re-opens it for another full cooldown. A probe that
  never reports (the caller crashed) is released after `cooldown_s`, and the next call probes,
  so a circuit cannot stay stuck half-open.

Which errors count as failures is the caller's choice, not the breaker's: the Router records a
failure for `Timeout`, `ServerError`, `Unavailable` and `RateLimited` (the deployment is
unhealthy or saturated) and none for `BadRequest` or `AuthError` (the request or the key is
wrong; the deployment is fine, and opening its circuit would punish other requests).

Where the state lives is a `BreakerStore`: `MemoryBreakerStore` for one process,
`RedisBreakerStore` for several replicas that must agree (one replica's failures open the
circuit for all; only one replica gets the half-open probe). Every store method takes `now`
(wall-clock seconds) from the caller, so tests inject time and replicas never consult Redis's
clock. While Redis is down, `RedisBreakerStore` keeps state in this process instead
(`ragline.llm_router.guards.fallback`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import Field

from ragline.core.strict import Strict
from ragline.llm_router.guards.fallback import RedisFallback

if TYPE_CHECKING:
    import redis

BreakerStateName = Literal["closed", "open", "half_open"]


class BreakerConfig(Strict):
    """When a deployment's circuit opens, and for how long.

    BreakerConfig()                                      # 5 failures in 30 s: rest 15 s
    BreakerConfig(failures=3, window_s=10, cooldown_s=60)
    """

    failures: int = Field(5, ge=1, description="failures within window_s that open the circuit")
    window_s: float = Field(30.0, gt=0, description="how far back failures count")
    cooldown_s: float = Field(15.0, gt=0, description="open -> half_open after this")


class BreakerStore(Protocol):
    """Where breaker state lives. `now` is wall-clock seconds, passed in by the caller."""

    def allow(self, name: str, now: float, config: BreakerConfig) -> bool:
        """True when closed, or for the one half-open probe."""
        ...

    def record_success(self, name: str, now: float, config: BreakerConfig) -> None: ...

    def record_failure(self, name: str, now: float, config: BreakerConfig) -> None: ...

    def state(self, name: str, now: float, config: BreakerConfig) -> BreakerStateName: ...


@dataclass
class _Circuit:
    failures: list[float] = field(default_factory=list)  # fewer than `failures` entries
    open_until: float | None = None  # set while open or half-open; None: closed
    probe_until: float | None = None  # the half-open probe is out until then


def _state_at(open_until: float | None, now: float) -> BreakerStateName:
    if open_until is None:
        return "closed"
    return "open" if now < open_until else "half_open"


class MemoryBreakerStore:
    """Breaker state in this process's memory, guarded by one lock.

    breaker = CircuitBreaker(BreakerConfig(), MemoryBreakerStore())
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}

    def allow(self, name: str, now: float, config: BreakerConfig) -> bool:
        with self._lock:
            circuit = self._circuits.setdefault(name, _Circuit())
            state = _state_at(circuit.open_until, now)
            if state != "half_open":
                return state == "closed"
            if circuit.probe_until is not None and now < circuit.probe_until:
                return False
            circuit.probe_until = now + config.cooldown_s
            return True

    def record_success(self, name: str, now: float, config: BreakerConfig) -> None:
        with self._lock:
            circuit = self._circuits.setdefault(name, _Circuit())
            if _state_at(circuit.open_until, now) == "half_open":  # the probe: close
                self._circuits[name] = _Circuit()

    def record_failure(self, name: str, now: float, config: BreakerConfig) -> None:
        with self._lock:
            circuit = self._circuits.setdefault(name, _Circuit())
            state = _state_at(circuit.open_until, now)
            if state == "open":
                return
            if state == "half_open":
                self._circuits[name] = _Circuit(open_until=now + config.cooldown_s)
                return
            # A filter, not a popleft loop: threads may report slightly out of clock order.
            cutoff = now - config.window_s
            circuit.failures = [t for t in circuit.failures if t > cutoff] + [now]
            if len(circuit.failures) >= config.failures:
                self._circuits[name] = _Circuit(open_until=now + config.cooldown_s)

    def state(self, name: str, now: float, config: BreakerConfig) -> BreakerStateName:
        with self._lock:
            circuit = self._circuits.get(name)
            return _state_at(circuit.open_until if circuit else None, now)


# The scripts mirror MemoryBreakerStore line for line. Times travel as strings made by Python's
# repr (exact doubles); Lua only compares them (tostring would round to 14 digits). PX/PEXPIRE
# values are only garbage collection for keys nobody reads any more: the logical expiry is the
# stored timestamp compared with the caller's `now`.

# KEYS: open_until, probe. ARGV: now, probe_until, probe_px.
_ALLOW = """
local open_until = redis.call('GET', KEYS[1])
if not open_until then return 1 end
local now = tonumber(ARGV[1])
if now < tonumber(open_until) then return 0 end
local probe_until = redis.call('GET', KEYS[2])
if probe_until and now < tonumber(probe_until) then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""

# KEYS: failures, open_until, probe. ARGV: now.
_SUCCESS = """
local open_until = redis.call('GET', KEYS[2])
if not open_until or tonumber(ARGV[1]) < tonumber(open_until) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1
"""

# KEYS: failures, open_until, probe.
# ARGV: now, window cutoff, threshold, open_until if it opens, member, failures_px, open_px.
_FAILURE = """
local now = tonumber(ARGV[1])
local open_until = redis.call('GET', KEYS[2])
if open_until and now < tonumber(open_until) then return 0 end
if not open_until then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then return 0 end
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[7])
return 1
"""

# An open_until key nobody touched for this long is dropped, which reads as closed: harmless.
_IDLE_KEY_S = 7 * 24 * 3600.0


def _ms(seconds: float) -> str:
    return str(max(1, int(seconds * 1000)))


class RedisBreakerStore:
    """Breaker state in Redis, shared by every replica; each operation is one atomic Lua script.

    breaker = CircuitBreaker(BreakerConfig(), RedisBreakerStore(redis.Redis.from_url(url)))

    Keys per name: `{prefix}{name}:failures` (sorted set of failure times, trimmed to the
    window), `{prefix}{name}:open_until` (set while open or half-open) and `{prefix}{name}:probe`
    (the half-open probe lock: set only if free, like SET NX PX, but "free" is judged by the
    stored expiry against the caller's `now`, so that all replicas and tests share one clock).
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "ragline:breaker:",
        fallback: RedisFallback | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._allow = client.register_script(_ALLOW)
        self._success = client.register_script(_SUCCESS)
        self._failure = client.register_script(_FAILURE)
        self.fallback = fallback or RedisFallback("breaker states")
        self._local = MemoryBreakerStore()

    def _keys(self, name: str) -> list[str]:
        base = f"{self._prefix}{name}"
        return [f"{base}:failures", f"{base}:open_until", f"{base}:probe"]

    def allow(self, name: str, now: float, config: BreakerConfig) -> bool:
        _, open_key, probe_key = self._keys(name)
        args = [repr(now), repr(now + config.cooldown_s), _ms(2 * config.cooldown_s + 60)]
        return self.fallback.call(
            lambda: bool(self._allow(keys=[open_key, probe_key], args=args)),
            lambda: self._local.allow(name, now, config),
        )

    def record_success(self, name: str, now: float, config: BreakerConfig) -> None:
        self.fallback.call(
            lambda: self._success(keys=self._keys(name), args=[repr(now)]),
            lambda: self._local.record_success(name, now, config),
        )

    def record_failure(self, name: str, now: float, config: BreakerConfig) -> None:
        args = [
            repr(now),
            repr(now - config.window_s),
            str(config.failures),
            repr(now + config.cooldown_s),
            f"{now!r}:{uuid.uuid4().hex}",  # unique: two failures may share a timestamp
            _ms(2 * config.window_s + 60),
            _ms(config.cooldown_s + _IDLE_KEY_S),
        ]
        self.fallback.call(
            lambda: self._failure(keys=self._keys(name), args=args),
            lambda: self._local.record_failure(name, now, config),
        )

    def state(self, name: str, now: float, config: BreakerConfig) -> BreakerStateName:
        return self.fallback.call(
            lambda: self._shared_state(name, now),
            lambda: self._local.state(name, now, config),
        )

    def _shared_state(self, name: str, now: float) -> BreakerStateName:
        raw = self._client.get(self._keys(name)[1])
        return _state_at(None if raw is None else float(raw), now)


class CircuitBreaker:
    """The breaker the Router asks before each call to a deployment, and tells after it.

    breaker = CircuitBreaker(BreakerConfig(failures=5, cooldown_s=15))
    if not breaker.allow("openai:gpt-4o-mini"):
        raise Unavailable("circuit open for openai:gpt-4o-mini; another deployment may serve")
    try:
        completion = model.complete(request)
    except (Timeout, ServerError, Unavailable, RateLimited):
        breaker.record_failure("openai:gpt-4o-mini")
        raise
    breaker.record_success("openai:gpt-4o-mini")

    Report every call that `allow()` let through. After a `BadRequest` or `AuthError` the
    deployment did answer, so `record_success` is right; reporting nothing is safe too, but a
    half-open probe then holds its lock until it expires (`cooldown_s`).
    """

    def __init__(
        self,
        config: BreakerConfig,
        store: BreakerStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._store: BreakerStore = store if store is not None else MemoryBreakerStore()
        self._clock = clock
        self._names: set[str] = set()
        self._names_lock = threading.Lock()

    def _seen(self, name: str) -> None:
        with self._names_lock:
            self._names.add(name)

    def allow(self, name: str) -> bool:
        """True when a call to `name` may go out (closed, or this is the half-open probe)."""
        self._seen(name)
        return self._store.allow(name, self._clock(), self.config)

    def record_success(self, name: str) -> None:
        self._seen(name)
        self._store.record_success(name, self._clock(), self.config)

    def record_failure(self, name: str) -> None:
        self._seen(name)
        self._store.record_failure(name, self._clock(), self.config)

    def state(self, name: str) -> BreakerStateName:
        self._seen(name)
        return self._store.state(name, self._clock(), self.config)

    def states(self) -> dict[str, BreakerStateName]:
        """The state of every name this object has been asked about, sorted by name."""
        with self._names_lock:
            names = sorted(self._names)
        now = self._clock()
        return {name: self._store.state(name, now, self.config) for name in names}
