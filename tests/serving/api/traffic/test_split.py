"""A/B split and canary rollback (`ragline.serving.api.traffic.split`), with an injected clock, no
sleeps.

The module has no single `pytestmark`: the pure cases are unit tests, and the store-backed cases
run on both stores through the `store` fixture's params (memory: unit, real Redis:
integration), so `-m unit` still runs the memory half without Redis.
"""

from __future__ import annotations

import json
import logging
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ragline.serving.api.traffic.split import (
    MemoryTrafficStore,
    RedisTrafficStore,
    Traffic,
    TrafficStore,
    TrafficStoreError,
    rollback_reason,
    sticky_point,
    weighted_pick,
)
from ragline.serving.api.traffic.store import Rollback, WindowCounts, bin_upper_ms, latency_bin
from ragline.serving.serve_config import AbConfig, Arm, CanaryConfig, TrafficConfig

# Far from the real time, and a multiple of the 10 s bucket of a 300 s window.
START = 1_000_000.0
KEYS = [f"user-{i}" for i in range(10_000)]


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def at(self, offset_s: float) -> None:
        self.now = START + offset_s


def canary_config(**overrides: float) -> TrafficConfig:
    fields: dict[str, float] = {"percent": 10.0, "min_requests": 20} | overrides
    canary = CanaryConfig(arm=Arm(name="v2", llm={"provider": "extractive"}), **fields)
    return TrafficConfig(canary=canary)


def ab_config(small: float = 1.0, large: float = 3.0) -> TrafficConfig:
    arms = (Arm(name="small", weight=small), Arm(name="large", weight=large))
    return TrafficConfig(ab=AbConfig(arms=arms))


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("redis", marks=pytest.mark.integration),
    ]
)
def store(request: pytest.FixtureRequest) -> TrafficStore:
    if request.param == "memory":
        return MemoryTrafficStore()
    client: redis.Redis = request.getfixturevalue("redis_client")
    return RedisTrafficStore(client, prefix=request.getfixturevalue("redis_prefix"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


def feed(traffic: Traffic, arm: str | None, n: int, errors: int = 0, ms: float = 100.0) -> None:
    """`n` requests of `arm` at `ms` each, the last `errors` of them failed."""
    for i in range(n):
        traffic.record(arm, ok=i < n - errors, latency_ms=ms)


def canary_key(traffic: Traffic) -> str:
    return next(k for k in KEYS if traffic.choose(k) == "v2")


# --- choice ----------------------------------------------------------------------------------


@pytest.mark.unit
def test_ab_choice_is_sticky_across_calls_and_instances() -> None:
    first, second = Traffic(ab_config()), Traffic(ab_config())
    arms = [first.choose(k) for k in KEYS[:500]]
    assert arms == [first.choose(k) for k in KEYS[:500]]
    assert arms == [second.choose(k) for k in KEYS[:500]]
    assert set(arms) == {"small", "large"}


@pytest.mark.unit
def test_ab_split_follows_the_weights_over_10k_keys() -> None:
    traffic = Traffic(ab_config(small=1.0, large=3.0))
    share = sum(traffic.choose(k) == "small" for k in KEYS) / len(KEYS)
    assert share == pytest.approx(0.25, abs=0.015)


@pytest.mark.unit
def test_weighted_pick_covers_the_interval_by_weight() -> None:
    assert [weighted_pick([1, 3], p) for p in (0.0, 0.2499, 0.25, 0.9999)] == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="at least one arm"):
        weighted_pick([], 0.5)
    assert 0 <= sticky_point("ab", "alice") < 1
    assert sticky_point("ab", "alice") != sticky_point("canary:v2", "alice")


@pytest.mark.unit
@pytest.mark.parametrize("percent", [0.0, 5.0, 30.0, 100.0])
def test_canary_takes_its_percent_of_keys(percent: float) -> None:
    traffic = Traffic(canary_config(percent=percent))
    chosen = [traffic.choose(k) for k in KEYS]
    assert set(chosen) <= {"v2", None}
    assert chosen.count("v2") / len(KEYS) == pytest.approx(percent / 100, abs=0.01)


@pytest.mark.unit
def test_raising_the_canary_percent_keeps_its_users_in_it() -> None:
    small, large = Traffic(canary_config(percent=5.0)), Traffic(canary_config(percent=20.0))
    in_small = {k for k in KEYS if small.choose(k) == "v2"}
    assert in_small and all(large.choose(k) == "v2" for k in in_small)


@pytest.mark.unit
def test_without_traffic_config_everything_goes_to_the_main_pipeline() -> None:
    traffic = Traffic(TrafficConfig())
    assert {traffic.choose(k) for k in KEYS[:200]} == {None}
    traffic.record(None, ok=False, latency_ms=5.0)  # a no-op, not an error
    status = traffic.status()
    assert (status.mode, status.rolled_back, status.arms) == ("off", False, ())


@pytest.mark.unit
def test_record_refuses_unknown_arms_and_bad_latencies() -> None:
    traffic = Traffic(canary_config())
    with pytest.raises(ValueError, match=r"unknown arm 'v3'; configured arms: \['v2'\]"):
        traffic.record("v3", ok=True, latency_ms=1.0)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="latency_ms must be a finite number"):
            traffic.record("v2", ok=True, latency_ms=bad)


# --- window arithmetic -----------------------------------------------------------------------


@pytest.mark.unit
def test_p95_is_the_nearest_rank_to_within_a_bin() -> None:
    fast, slow = latency_bin(10.0), latency_bin(1000.0)
    assert WindowCounts(100, 0, {fast: 95, slow: 5}).p95_ms() == pytest.approx(10.0, rel=0.05)
    assert WindowCounts(100, 0, {fast: 94, slow: 6}).p95_ms() == pytest.approx(1000.0, rel=0.05)
    assert WindowCounts().p95_ms() is None
    assert latency_bin(0.0) == latency_bin(1.0) == 0
    assert bin_upper_ms(latency_bin(250.0)) >= 250.0 > bin_upper_ms(latency_bin(250.0) - 1)


@pytest.mark.unit
def test_rollback_reason_thresholds() -> None:
    config = canary_config().canary
    assert config is not None
    bins = {latency_bin(100.0): 20}
    control = WindowCounts(20, 1, bins)
    assert rollback_reason(WindowCounts(19, 19, bins), control, config) is None  # too few
    assert rollback_reason(WindowCounts(20, 2, bins), control, config) is None  # x2.0, not more
    reason = rollback_reason(WindowCounts(20, 8, bins), control, config)
    assert reason == "error rate 0.40 vs 0.05 over 300 s (x8.0 > x2.0)"
    # Against an error-free control, any rate counts once above min_error_rate (0.02).
    clean = WindowCounts(100, 0, {latency_bin(100.0): 100})
    assert rollback_reason(WindowCounts(100, 1, bins), clean, config) is None
    assert rollback_reason(WindowCounts(100, 3, bins), clean, config) == (
        "error rate 0.03 vs 0.00 over 300 s (xinf > x2.0)"
    )


# --- rollback, on both stores ----------------------------------------------------------------


def test_canary_rolls_back_on_errors_and_stays_rolled_back(
    store: TrafficStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    traffic = Traffic(canary_config(), store, clock=clock)
    key = canary_key(traffic)
    feed(traffic, None, 20, errors=1)
    feed(traffic, "v2", 19, errors=8)
    assert not traffic.status().rolled_back  # 19 < min_requests: no decision yet
    with caplog.at_level(logging.WARNING, logger="ragline.serving.api.traffic.split"):
        feed(traffic, "v2", 1)
    status = traffic.status()
    assert status.rolled_back and status.canary_percent == 0.0
    assert status.reason == "error rate 0.40 vs 0.05 over 300 s (x8.0 > x2.0)"
    assert "canary 'v2' rolled back: error rate 0.40" in caplog.text
    assert "20 requests / 8 errors, control 20 / 1" in caplog.text
    assert traffic.choose(key) is None
    # Sticky: a healthy window later does not bring the canary back.
    clock.at(3600)
    feed(traffic, None, 50)
    feed(traffic, "v2", 50)
    assert traffic.choose(key) is None and traffic.status().rolled_back


def test_canary_rolls_back_on_p95_latency(store: TrafficStore, clock: Clock) -> None:
    traffic = Traffic(canary_config(), store, clock=clock)
    feed(traffic, None, 40, ms=100.0)
    feed(traffic, "v2", 39, ms=190.0)  # x1.9: slower, but within x2.0
    assert not traffic.status().rolled_back
    feed(traffic, "v2", 40, ms=400.0)  # now over half the canary's requests take 400 ms
    reason = traffic.status().reason
    # Percentiles are reported to the upper edge of their 5% bin: 400 -> 404, 100 -> 103.
    assert reason == "p95 latency 404 ms vs 103 ms over 300 s (x3.9 > x2.0)"
    arms = {a.name: a for a in traffic.status().arms}
    assert (arms[None].requests, arms["v2"].requests, arms["v2"].errors) == (40, 79, 0)


def test_no_rollback_below_min_requests_or_within_noise(store: TrafficStore, clock: Clock) -> None:
    traffic = Traffic(canary_config(), store, clock=clock)
    key = canary_key(traffic)
    feed(traffic, None, 19)  # the control has too few requests for a comparison
    feed(traffic, "v2", 40, errors=40)
    assert not traffic.status().rolled_back
    assert traffic.choose(key) == "v2"
    other = Traffic(canary_config(percent=20.0), store, clock=clock)  # a fresh scope
    feed(other, None, 200, errors=1)
    feed(other, "v2", 100, errors=1, ms=150.0)  # 1% vs 0.5%: under min_error_rate (2%)
    assert not other.status().rolled_back


def test_old_failures_age_out_of_the_window(store: TrafficStore, clock: Clock) -> None:
    traffic = Traffic(canary_config(min_requests=5), store, clock=clock)
    feed(traffic, "v2", 4, errors=4)  # too few to decide
    feed(traffic, None, 5)
    clock.at(289)  # the failures' bucket is still in the 300 s window
    assert traffic.status().arms[1].errors == 4
    clock.at(310)  # ... and now it is not
    feed(traffic, None, 5)
    feed(traffic, "v2", 5)
    status = traffic.status()
    assert not status.rolled_back
    assert [(a.name, a.requests, a.errors) for a in status.arms] == [(None, 5, 0), ("v2", 5, 0)]


def test_rollback_is_shared_by_traffic_objects_on_one_store(
    store: TrafficStore, clock: Clock
) -> None:
    first, second = (Traffic(canary_config(), store, clock=clock) for _ in range(2))
    key = canary_key(first)
    assert second.choose(key) == "v2"  # both looked: each now trusts its look for a second
    # Each worker sees half the traffic: neither alone reaches min_requests (20).
    for worker in (first, second):
        feed(worker, None, 10)
        feed(worker, "v2", 10, errors=10)
    assert first.status().rolled_back and second.status().rolled_back
    assert first.status().reason == "error rate 1.00 vs 0.00 over 300 s (xinf > x2.0)"
    clock.at(1.0)
    assert first.choose(key) is None and second.choose(key) is None
    # A different config is a different canary: it starts fresh.
    assert Traffic(canary_config(max_ratio=3.0), store, clock=clock).choose(key) == "v2"
    # reset() on one worker lifts the rollback for the other within a second, with a new window.
    first.reset()
    assert first.choose(key) == "v2"
    clock.at(2.0)
    assert second.choose(key) == "v2" and not second.status().rolled_back
    assert sum(a.requests for a in second.status().arms) == 0


def test_first_rollback_wins(store: TrafficStore) -> None:
    ours, theirs = Rollback("p95 latency ...", at=START), Rollback("error rate ...", at=START + 1)
    assert store.rollback("scope") is None
    assert store.roll_back("scope", ours) == ours
    assert store.roll_back("scope", theirs) == ours
    assert store.rollback("scope") == ours
    store.clear("scope")
    assert store.rollback("scope") is None


def test_status_is_json_ready(store: TrafficStore, clock: Clock) -> None:
    traffic = Traffic(ab_config(), store, clock=clock)
    traffic.record("small", ok=True, latency_ms=50.0)
    traffic.record("large", ok=False, latency_ms=70.0)
    data = json.loads(json.dumps(traffic.status().to_dict()))
    assert (data["mode"], data["rolled_back"], data["canary_percent"]) == ("ab", False, 0.0)
    assert [(a["name"], a["requests"], a["errors"]) for a in data["arms"]] == [
        ("small", 1, 0),
        ("large", 1, 1),
    ]
    assert data["arms"][0]["p95_ms"] == pytest.approx(50.0, rel=0.05)


# --- store specifics -------------------------------------------------------------------------


@pytest.mark.unit
def test_memory_store_counts_concurrent_records_exactly(clock: Clock) -> None:
    traffic = Traffic(canary_config(min_requests=10_000), MemoryTrafficStore(), clock=clock)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: traffic.record("v2", ok=i % 4 != 0, latency_ms=9.0), range(800)))
    arm = traffic.status().arms[1]
    assert (arm.requests, arm.errors) == (800, 200)


@pytest.mark.unit
def test_memory_store_drops_buckets_that_left_the_window(clock: Clock) -> None:
    store = MemoryTrafficStore()
    traffic = Traffic(canary_config(), store, clock=clock)
    for second in range(0, 3000, 10):  # ten windows of traffic
        clock.at(second)
        traffic.record("v2", ok=True, latency_ms=1.0)
    assert max(len(b) for b in store._windows.values()) <= 30


@pytest.mark.integration
def test_redis_buckets_are_prefixed_and_expire(
    redis_client: redis.Redis, redis_prefix: str, clock: Clock
) -> None:
    traffic = Traffic(canary_config(), RedisTrafficStore(redis_client, redis_prefix), clock=clock)
    traffic.record("v2", ok=False, latency_ms=12.0)
    names = list(redis_client.scan_iter(match=f"{redis_prefix}*"))
    assert len(names) == 1
    assert 0 < redis_client.ttl(names[0]) <= 310  # (30 + 1) buckets of 10 s
    fields = redis_client.hgetall(names[0])
    assert fields == {b"n": b"1", b"e": b"1", f"h{latency_bin(12.0)}".encode(): b"1"}


@pytest.mark.integration
def test_an_unreachable_redis_sends_canary_keys_to_control_and_fails_no_request(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))
    traffic = Traffic(canary_config(percent=100.0), RedisTrafficStore(dead, "x:"), clock=clock)
    with caplog.at_level(logging.WARNING, logger="ragline.serving.api.traffic.split"):
        assert traffic.choose("alice") is None
        traffic.record("v2", ok=True, latency_ms=5.0)
    assert "did not answer" in caplog.text and "not counted" in caplog.text
    with pytest.raises(TrafficStoreError, match=r"start Redis or fix llm\.redis_url"):
        traffic.status()
    dead.close()
