"""A/B split and canary with automatic rollback, sticky per caller.

    traffic = Traffic(settings.serve.traffic, RedisTrafficStore(redis.Redis.from_url(url)))
    arm = traffic.choose(caller)        # an arm's name, or None: the main pipeline (control)
    ...                                 # serve the request with services.pipeline(arm)
    traffic.record(arm, ok=status < 500, latency_ms=elapsed_ms)
    traffic.status()                    # mode, effective canary percent, rollback reason, arms

Choice: a SHA-256 of the sticky key (the API key's name, or the request's `user`) is a point
in [0, 1); A/B arms split that interval by weight, the canary takes the first `percent`%.
The same key always gets the same arm, and raising a canary's percent keeps its users in it.

Window: per arm, buckets of `window_s / 30` seconds (at least 1 s) with counts and a latency
histogram (`ragline.serving.api.traffic.store`). The window spans the last 30 buckets, the current
one included, so it is between 29/30 and all of `window_s` long; p95 is exact to 5%.

Rollback: after each canary request, once both canary and control have `min_requests` in the
window, the canary rolls back when its error rate is >= `min_error_rate` and > `max_ratio` x
the control's, or its p95 latency > `max_ratio` x the control's (latency of every request,
failed ones included: that is what callers wait). The decision is stored with SET NX, so the
first worker to decide wins and every worker reports the same reason; it stays until the
traffic config changes (store keys are scoped by a fingerprint of it) or `reset()`.

Sharing: `RedisTrafficStore` shares the window counts as well as the rollback. With counts per
worker, each of N workers would see 1/N of the traffic, reach `min_requests` N times later and
decide on noisier samples. The cost is one pipelined round trip per recorded request and one
per canary evaluation (about 30 small hashes per arm). `MemoryTrafficStore` serves one process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ragline.serving.api.traffic.store import (
    MemoryTrafficStore,
    RedisTrafficStore,
    Rollback,
    TrafficStore,
    TrafficStoreError,
    WindowCounts,
    WindowKey,
    latency_bin,
)
from ragline.serving.serve_config import CanaryConfig, TrafficConfig

__all__ = [
    "ArmStatus",
    "MemoryTrafficStore",
    "RedisTrafficStore",
    "Traffic",
    "TrafficStatus",
    "TrafficStore",
    "TrafficStoreError",
    "rollback_reason",
    "sticky_point",
    "weighted_pick",
]

log = logging.getLogger(__name__)

Mode = Literal["off", "ab", "canary"]

# The main pipeline's name in a store; arm names match [A-Za-z0-9_-], so no arm can take it.
CONTROL = "~control"
_SPAN = 30  # buckets per window
_POLL_S = 1.0  # how long a worker trusts its last look at the shared rollback record
_AB_WINDOW_S = 300.0  # A/B arms never roll back; their window only feeds status()


def sticky_point(salt: str, key: str) -> float:
    """A point in [0, 1) fixed by `salt` and `key`, uniform over many keys."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def weighted_pick(weights: Sequence[float], point: float) -> int:
    """The index whose share of the summed weights contains `point` (in [0, 1))."""
    if not weights:
        raise ValueError("no weights to pick from; configure at least one arm")
    total, cumulative = sum(weights), 0.0
    for index, weight in enumerate(weights):
        cumulative += weight
        if point * total < cumulative:
            return index
    return len(weights) - 1  # float rounding can leave the last sliver unclaimed


def rollback_reason(
    canary: WindowCounts, control: WindowCounts, config: CanaryConfig
) -> str | None:
    """Why the canary must roll back, given both windows; None: keep it."""
    if min(canary.requests, control.requests) < config.min_requests:
        return None
    over, limit = f"over {config.window_s:g} s", f"x{config.max_ratio:.1f}"
    rate, base = canary.error_rate, control.error_rate
    if rate >= config.min_error_rate and rate > config.max_ratio * base:
        ratio = rate / base if base else math.inf
        return f"error rate {rate:.2f} vs {base:.2f} {over} (x{ratio:.1f} > {limit})"
    p95, base_p95 = canary.p95_ms(), control.p95_ms()
    if p95 is not None and base_p95 is not None and p95 > config.max_ratio * base_p95:
        ratio = p95 / base_p95
        return f"p95 latency {p95:.0f} ms vs {base_p95:.0f} ms {over} (x{ratio:.1f} > {limit})"
    return None


@dataclass(frozen=True, slots=True)
class ArmStatus:
    """One arm's window: name None is the main pipeline (the canary's control).

    ArmStatus(name="v2", requests=40, errors=2, error_rate=0.05, p95_ms=102.6)
    """

    name: str | None
    requests: int
    errors: int
    error_rate: float
    p95_ms: float | None


@dataclass(frozen=True, slots=True)
class TrafficStatus:
    """What `Traffic.status()` reports; `to_dict()` gives its JSON form.

    TrafficStatus(mode="canary", canary_percent=0.0, rolled_back=True,
                  reason="error rate 0.40 vs 0.05 over 300 s (x8.0 > x2.0)", window_s=300.0,
                  arms=(...))
    """

    mode: Mode
    canary_percent: float
    rolled_back: bool
    reason: str | None
    window_s: float
    arms: tuple[ArmStatus, ...]

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def fingerprint(config: TrafficConfig) -> str:
    """A short hash of the traffic config: store keys are scoped by it."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


class Traffic:
    """Picks each request's arm (A/B or canary), records outcomes, rolls a bad canary back.

    traffic = Traffic(TrafficConfig(canary=CanaryConfig(arm=Arm(name="v2", llm={...}))))
    arm = traffic.choose("alice")      # "v2" for ~5% of keys, else None (control)
    traffic.record(arm, ok=True, latency_ms=120.0)

    Thread-safe; `clock` is wall time (shared stores align buckets across workers by it).
    """

    def __init__(
        self,
        config: TrafficConfig,
        store: TrafficStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._store: TrafficStore = store if store is not None else MemoryTrafficStore()
        self._clock = clock
        self._scope = fingerprint(config)
        self._lock = threading.Lock()
        self._seen: Rollback | None = None
        self._seen_at = -math.inf
        window_s = config.canary.window_s if config.canary else _AB_WINDOW_S
        self._bucket_s = max(1.0, window_s / _SPAN)
        self._span = math.ceil(window_s / self._bucket_s)
        self._window_s = window_s

    @property
    def mode(self) -> Mode:
        return "ab" if self.config.ab else "canary" if self.config.canary else "off"

    def arms(self) -> tuple[str, ...]:
        """The configured arm names (the canary's one arm, or the A/B arms)."""
        if self.config.ab:
            return tuple(a.name for a in self.config.ab.arms)
        return (self.config.canary.arm.name,) if self.config.canary else ()

    def choose(self, sticky_key: str) -> str | None:
        """The arm for `sticky_key`; None: the main pipeline (canary control, or no traffic)."""
        if self.config.ab:
            weights = [a.weight for a in self.config.ab.arms]
            return self.config.ab.arms[weighted_pick(weights, sticky_point("ab", sticky_key))].name
        canary = self.config.canary
        if canary is None:
            return None
        if sticky_point(f"canary:{canary.arm.name}", sticky_key) * 100 >= canary.percent:
            return None
        try:
            rolled_back = self._current_rollback() is not None
        except TrafficStoreError as exc:
            # Unsure whether the canary was rolled back: the main pipeline is the safe side.
            log.warning("%s; this request goes to the main pipeline", exc)
            return None
        return None if rolled_back else canary.arm.name

    def record(self, arm: str | None, ok: bool, latency_ms: float) -> None:
        """Count one finished request (ok: no 5xx, no provider failure) for `arm`."""
        if self.mode == "off":
            return
        if arm is not None and arm not in self.arms():
            raise ValueError(f"unknown arm {arm!r}; configured arms: {list(self.arms())}")
        now, sample = self._clock(), latency_bin(latency_ms)
        try:
            self._store.add(self._key(arm, now), ok, sample)
            if self.config.canary is not None and arm is not None:
                self._evaluate(self.config.canary, now)
        except TrafficStoreError as exc:
            # The request was served; losing one sample must not turn it into an error.
            log.warning("%s; request of arm %r not counted", exc, arm)

    def status(self) -> TrafficStatus:
        """Mode, effective canary percent, rollback and every arm's window (control first)."""
        rollback = self._store.rollback(self._scope) if self.mode == "canary" else None
        percent = self.config.canary.percent if self.config.canary and not rollback else 0.0
        names: list[str | None] = [None] if self.mode == "canary" else []
        arms = tuple(self._arm_status(n, self._clock()) for n in [*names, *self.arms()])
        reason = rollback.reason if rollback else None
        return TrafficStatus(self.mode, percent, rollback is not None, reason, self._window_s, arms)

    def reset(self) -> None:
        """Lift a rollback and start an empty window (after fixing the canary), on all workers
        sharing the store (they notice within a second)."""
        self._store.clear(self._scope)
        with self._lock:
            self._seen, self._seen_at = None, -math.inf

    def _key(self, arm: str | None, now: float) -> WindowKey:
        bucket = math.floor(now / self._bucket_s)
        name = CONTROL if arm is None else arm
        return WindowKey(self._scope, name, bucket, self._span, self._bucket_s)

    def _arm_status(self, arm: str | None, now: float) -> ArmStatus:
        counts = self._store.window(self._key(arm, now))
        return ArmStatus(arm, counts.requests, counts.errors, counts.error_rate, counts.p95_ms())

    def _current_rollback(self) -> Rollback | None:
        # Asked on every canary request: look at the shared record at most once a second.
        now = self._clock()
        with self._lock:
            if 0 <= now - self._seen_at < _POLL_S:
                return self._seen
        seen = self._store.rollback(self._scope)
        with self._lock:
            self._seen, self._seen_at = seen, now
        return seen

    def _evaluate(self, canary: CanaryConfig, now: float) -> None:
        if self._current_rollback() is not None:
            return
        counts = self._store.window(self._key(canary.arm.name, now))
        control = self._store.window(self._key(None, now))
        reason = rollback_reason(counts, control, canary)
        if reason is None:
            return
        ours = Rollback(reason, now)
        winner = self._store.roll_back(self._scope, ours)
        with self._lock:
            self._seen, self._seen_at = winner, now
        if winner == ours:
            log.warning(
                "canary %r rolled back: %s; canary %d requests / %d errors, control %d / %d; "
                "all traffic now goes to the main pipeline until the config changes or reset()",
                canary.arm.name,
                reason,
                counts.requests,
                counts.errors,
                control.requests,
                control.errors,
            )
