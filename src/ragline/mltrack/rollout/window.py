"""Live signals of the versions a rollout serves, in this process: requests, errors, latency
and scores over the last `window_s` seconds, per key.

    window = SignalWindow(window_s=900.0)
    window.add(("churn", 4, 25), ok=True, latency_ms=1.8, scores=(0.31, 0.72))
    window.signals(("churn", 4, 25))          # VersionSignals(requests=1, errors=0, ...)

The serving layer keys the canary by (model, version, rollout id, percent), so each stage starts
an empty window ("min_requests in the current stage"), and production by (model, version), kept
across stages: at 100% production gets no new traffic, and its last `keep_at_least` requests
stay the reference even after they age out of the window.

Per process, unlike the RAG canary's Redis-shared counts: the score samples a KL needs are too
big to ship per request. Each replica judges on its own share of the traffic; the decision is a
compare-and-set on the shared rollout row (`ragline.mltrack.rollout.state`), so the first
replica to see a breach rolls the canary back for all of them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from ragline.mltrack.rollout.policy import VersionSignals

MAX_SAMPLES = 5000  # requests kept per key: bounds memory and the cost of a verdict


@dataclass(frozen=True, slots=True)
class _Sample:
    at: float
    ok: bool
    latency_ms: float
    scores: tuple[float, ...]


def p95(latencies: Sequence[float]) -> float | None:
    """Nearest-rank 95th percentile; None without values.

    Example:
        >>> p95([float(i) for i in range(1, 101)])
        95.0
    """
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class SignalWindow:
    """Thread-safe windows of request outcomes; `clock` is injectable (monotonic seconds).

    Example:
        >>> w = SignalWindow(60.0, clock=lambda: 0.0)
        >>> w.add("k", ok=False, latency_ms=2.0, scores=())
        >>> w.signals("k").errors
        1
    """

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: dict[Hashable, deque[_Sample]] = {}

    def add(self, key: Hashable, *, ok: bool, latency_ms: float, scores: Sequence[float]) -> None:
        """Count one request of `key` (a failed one has no scores)."""
        sample = _Sample(self._clock(), ok, latency_ms, tuple(float(s) for s in scores))
        with self._lock:
            self._samples.setdefault(key, deque(maxlen=MAX_SAMPLES)).append(sample)

    def signals(self, key: Hashable, *, keep_at_least: int = 0) -> VersionSignals:
        """`key`'s requests of the last `window_s` seconds, or its newest `keep_at_least`."""
        horizon = self._clock() - self.window_s
        with self._lock:
            samples = self._samples.get(key, deque())
            while len(samples) > keep_at_least and samples and samples[0].at < horizon:
                samples.popleft()
            taken = list(samples)
        errors = sum(1 for s in taken if not s.ok)
        scores = tuple(x for s in taken for x in s.scores)
        return VersionSignals(len(taken), errors, p95([s.latency_ms for s in taken]), scores)

    def forget(self, match: Callable[[Hashable], bool]) -> None:
        """Drop every key `match` accepts (a finished rollout's windows)."""
        with self._lock:
            for key in [k for k in self._samples if match(k)]:
                del self._samples[key]
