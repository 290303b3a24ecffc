"""Where a Traffic's per-arm windows and its rollback record live: this process or Redis.

    store = RedisTrafficStore(redis.Redis.from_url("redis://127.0.0.1:6379/0"))
    key = WindowKey("scope", "v2", bucket=1000, span=30, bucket_s=10.0)
    store.add(key, ok=False, latency_bin=latency_bin(102.0))
    store.window(key).error_rate           # over the key's 30 buckets, 991..1000
    store.roll_back("scope", Rollback("error rate ...", at=now))   # the first one stored wins

A bucket holds the request count, the error count and a latency histogram of 5%-wide log-spaced bins
(`latency_bin`), so memory per arm is bounded by the buckets times the occupied bins, and a
percentile is exact to the bin. `ragline.serving.api.traffic.split` decides; this module only counts
and stores.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

_BIN_GROWTH = 1.05


def latency_bin(latency_ms: float) -> int:
    """The histogram bin of a latency: bin i holds (1.05^(i-1), 1.05^i] ms; bin 0 up to 1 ms."""
    if not latency_ms >= 0 or math.isinf(latency_ms):
        raise ValueError(f"latency_ms must be a finite number >= 0, got {latency_ms}")
    if latency_ms <= 1.0:
        return 0
    return math.ceil(math.log(latency_ms) / math.log(_BIN_GROWTH))


def bin_upper_ms(index: int) -> float:
    """The upper edge of bin `index`, in ms: what a percentile falling in it reports."""
    return float(_BIN_GROWTH**index)


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Requests, errors and the latency histogram (bin -> count) of one arm over a window.

    WindowCounts(requests=40, errors=2, latency_bins={95: 40}).p95_ms()  # ~102 ms
    """

    requests: int = 0
    errors: int = 0
    latency_bins: Mapping[int, int] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def p95_ms(self) -> float | None:
        """The nearest-rank 95th percentile (to the bin's upper edge); None without samples."""
        total = sum(self.latency_bins.values())
        if total == 0:
            return None
        rank, seen = math.ceil(0.95 * total), 0
        for index in sorted(self.latency_bins):
            seen += self.latency_bins[index]
            if seen >= rank:
                return bin_upper_ms(index)
        raise AssertionError("unreachable: the ranks cover every sample")


def merge(parts: Iterable[WindowCounts]) -> WindowCounts:
    """The sum of several buckets' counts."""
    requests = errors = 0
    bins: dict[int, int] = {}
    for part in parts:
        requests, errors = requests + part.requests, errors + part.errors
        for index, count in part.latency_bins.items():
            bins[index] = bins.get(index, 0) + count
    return WindowCounts(requests, errors, bins)


@dataclass(frozen=True, slots=True)
class WindowKey:
    """Where one arm's window lives: config scope, arm, current bucket, buckets per window.

    WindowKey("3f2a", "v2", bucket=100_000, span=30, bucket_s=10.0).buckets()  # 99971..100000
    """

    scope: str
    arm: str
    bucket: int
    span: int
    bucket_s: float

    def buckets(self) -> range:
        return range(self.bucket - self.span + 1, self.bucket + 1)

    @property
    def ttl_s(self) -> int:
        # One bucket more than the window, so a bucket never expires while still counted.
        return math.ceil((self.span + 1) * self.bucket_s)


@dataclass(frozen=True, slots=True)
class Rollback:
    """A canary's rollback: why, and when (the deciding worker's clock).

    Rollback("error rate 0.40 vs 0.05 over 300 s (x8.0 > x2.0)", at=time.time()).to_json()
    """

    reason: str
    at: float

    def to_json(self) -> str:
        return json.dumps({"reason": self.reason, "at": self.at})

    @classmethod
    def from_json(cls, raw: str | bytes) -> Rollback:
        data = json.loads(raw)
        return cls(reason=str(data["reason"]), at=float(data["at"]))


class TrafficStoreError(RuntimeError):
    """A shared store did not answer. `Traffic` then sends requests to the main pipeline and
    skips counting, rather than failing the requests it serves."""


class TrafficStore(Protocol):
    """Window counts and the rollback record, in this process or shared by workers.

    store.add(key, ok=True, latency_bin=latency_bin(80.0)); store.window(key).requests  # 1
    """

    def add(self, key: WindowKey, ok: bool, latency_bin: int) -> None: ...

    def window(self, key: WindowKey) -> WindowCounts: ...

    def roll_back(self, scope: str, rollback: Rollback) -> Rollback:
        """Store `rollback` unless one is stored; return the stored one (first one wins)."""
        ...

    def rollback(self, scope: str) -> Rollback | None: ...

    def clear(self, scope: str) -> None:
        """Forget the rollback and the window counts of `scope`."""
        ...


@dataclass(slots=True)
class _Bucket:
    requests: int = 0
    errors: int = 0
    bins: dict[int, int] = field(default_factory=dict)


class MemoryTrafficStore:
    """Windows and rollbacks in this process; thread-safe. Share one between Traffic objects
    to share their decisions (tests); use `RedisTrafficStore` for several workers.

    traffic = Traffic(config, MemoryTrafficStore())
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], dict[int, _Bucket]] = {}
        self._rollbacks: dict[str, Rollback] = {}

    def add(self, key: WindowKey, ok: bool, latency_bin: int) -> None:
        first = key.buckets().start
        with self._lock:
            buckets = self._windows.setdefault((key.scope, key.arm), {})
            for index in [i for i in buckets if i < first]:  # bounded: drop what aged out
                del buckets[index]
            bucket = buckets.setdefault(key.bucket, _Bucket())
            bucket.requests += 1
            bucket.errors += 0 if ok else 1
            bucket.bins[latency_bin] = bucket.bins.get(latency_bin, 0) + 1

    def window(self, key: WindowKey) -> WindowCounts:
        with self._lock:
            buckets = self._windows.get((key.scope, key.arm), {})
            parts = [
                WindowCounts(b.requests, b.errors, dict(b.bins))
                for i, b in buckets.items()
                if i in key.buckets()
            ]
        return merge(parts)

    def roll_back(self, scope: str, rollback: Rollback) -> Rollback:
        with self._lock:
            return self._rollbacks.setdefault(scope, rollback)

    def rollback(self, scope: str) -> Rollback | None:
        with self._lock:
            return self._rollbacks.get(scope)

    def clear(self, scope: str) -> None:
        with self._lock:
            self._rollbacks.pop(scope, None)
            for pair in [p for p in self._windows if p[0] == scope]:
                del self._windows[pair]


def _text(raw: str | bytes) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class RedisTrafficStore:
    """Windows and rollbacks in Redis, shared by every worker and replica.

    traffic = Traffic(config, RedisTrafficStore(redis.Redis.from_url("redis://host:6379/0")))

    Keys: `{prefix}{scope}:w:{arm}:{bucket}` (a hash: n requests, e errors, h<bin> latency
    counts; expires one bucket after leaving the window) and `{prefix}{scope}:rollback` (JSON,
    written with SET NX GET, no expiry: a restarted replica must not resurrect a bad canary).
    Bucket numbers come from each worker's clock (`time.time`): keep clocks in sync (NTP).
    """

    def __init__(self, client: redis.Redis, prefix: str = "ragline:traffic:") -> None:
        self._client = client
        self._prefix = prefix

    @contextmanager
    def _guard(self) -> Iterator[None]:
        import redis as redis_lib  # the `llm` extra; only a Redis client reaches this class

        try:
            yield
        except redis_lib.RedisError as exc:
            raise TrafficStoreError(
                f"the traffic store in Redis (keys {self._prefix}*) did not answer ({exc}); "
                "start Redis or fix llm.redis_url"
            ) from exc

    def _bucket_name(self, key: WindowKey, index: int) -> str:
        return f"{self._prefix}{key.scope}:w:{key.arm}:{index}"

    def _rollback_name(self, scope: str) -> str:
        return f"{self._prefix}{scope}:rollback"

    def add(self, key: WindowKey, ok: bool, latency_bin: int) -> None:
        name = self._bucket_name(key, key.bucket)
        pipe = self._client.pipeline(transaction=False)
        pipe.hincrby(name, "n", 1)
        if not ok:
            pipe.hincrby(name, "e", 1)
        pipe.hincrby(name, f"h{latency_bin}", 1)
        pipe.expire(name, key.ttl_s)
        with self._guard():
            pipe.execute()

    def window(self, key: WindowKey) -> WindowCounts:
        pipe = self._client.pipeline(transaction=False)
        for index in key.buckets():
            pipe.hgetall(self._bucket_name(key, index))
        with self._guard():
            hashes = pipe.execute()
        return merge(_from_hash(raw) for raw in hashes)

    def roll_back(self, scope: str, rollback: Rollback) -> Rollback:
        # SET NX GET (Redis >= 7.0): one atomic step that stores ours or returns the winner's.
        with self._guard():
            name = self._rollback_name(scope)
            previous = self._client.set(name, rollback.to_json(), nx=True, get=True)
        if isinstance(previous, str | bytes):
            return Rollback.from_json(previous)
        return rollback

    def rollback(self, scope: str) -> Rollback | None:
        with self._guard():
            raw = self._client.get(self._rollback_name(scope))
        return None if raw is None else Rollback.from_json(raw)

    def clear(self, scope: str) -> None:
        with self._guard():
            names = list(self._client.scan_iter(match=f"{self._prefix}{scope}:*", count=500))
            if names:
                self._client.delete(*names)


def _from_hash(raw: Mapping[str | bytes, str | bytes]) -> WindowCounts:
    fields = {_text(k): int(v) for k, v in raw.items()}
    bins = {int(k[1:]): v for k, v in fields.items() if k.startswith("h")}
    return WindowCounts(fields.get("n", 0), fields.get("e", 0), bins)
