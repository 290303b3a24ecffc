"""Budgets per key, UTC day and month: caps, resets at the boundaries, exact Redis totals.

The module has no single `pytestmark`: the Budgets cases run on every store through the
`store` fixture (memory: unit, Redis: integration), so `-m unit` runs without Redis.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import redis
from pydantic import ValidationError

from ragline.llm_router.errors import BudgetExceeded, ProviderError, retryable
from ragline.llm_router.guards.budgets import (
    BudgetConfig,
    Budgets,
    BudgetStore,
    MemoryBudgetStore,
    RedisBudgetStore,
)

D = Decimal


class Clock:
    def __init__(self, at: str = "2026-11-26T12:00:00") -> None:
        self.now = _ts(at)

    def __call__(self) -> float:
        return self.now

    def set(self, at: str) -> None:
        self.now = _ts(at)


def _ts(at: str) -> float:
    return datetime.fromisoformat(at).replace(tzinfo=UTC).timestamp()


class RecordingStore:
    """A MemoryBudgetStore that remembers which buckets were touched, with their TTLs."""

    def __init__(self, clock: Clock) -> None:
        self.inner = MemoryBudgetStore(clock)
        self.added: dict[str, float] = {}

    def spent(self, bucket: str) -> Decimal:
        return self.inner.spent(bucket)

    def add(self, bucket: str, usd: Decimal, ttl_s: float) -> Decimal:
        self.added[bucket] = ttl_s
        return self.inner.add(bucket, usd, ttl_s)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("redis", marks=pytest.mark.integration),
    ]
)
def store(request: pytest.FixtureRequest, clock: Clock) -> BudgetStore:
    if request.param == "memory":
        return MemoryBudgetStore(clock)
    client: redis.Redis = request.getfixturevalue("redis_client")
    return RedisBudgetStore(client, prefix=request.getfixturevalue("redis_prefix"))


@pytest.mark.unit
def test_config_is_strict() -> None:
    with pytest.raises(ValidationError):
        BudgetConfig(daily_usd=D(-1))
    with pytest.raises(ValidationError):
        BudgetConfig(weekly_usd=D(1))  # type: ignore[call-arg]
    assert BudgetConfig(daily_usd="2.50").daily_usd == D("2.50")


@pytest.mark.unit
def test_no_caps_never_refuse_and_default_to_a_memory_store(clock: Clock) -> None:
    budgets = Budgets(BudgetConfig(), clock=clock)
    budgets.charge("alice", D(1_000_000))
    budgets.check("alice", D(1_000_000))
    assert budgets.spent("alice") == {}
    capped = Budgets(BudgetConfig(daily_usd=D(1)), clock=clock)
    capped.charge(None, D("0.5"))
    assert capped.spent() == {"all/day": D("0.5")}


def test_refuses_only_past_the_cap_and_says_how_to_fix(store: BudgetStore, clock: Clock) -> None:
    budgets = Budgets(BudgetConfig(per_key_daily_usd=D("1.00")), store, clock)
    budgets.charge("alice", D("0.70"))
    budgets.check("alice", D("0.30"))  # reaching the cap exactly is allowed
    with pytest.raises(BudgetExceeded) as info:
        budgets.check("alice", D("0.31"))
    error = info.value
    assert isinstance(error, ProviderError) and not retryable(error)
    assert error.budget == "key:alice/day"
    message = str(error)
    for part in [
        "key:alice/day",
        "$0.7 ",
        "$0.31",
        "cap $1;",
        "per_key_daily_usd",
        "2026-11-27 00:00",
    ]:
        assert part in message, (part, message)
    budgets.check("bob", D("0.99"))  # another key has its own allowance
    assert budgets.spent("alice") == {"key:alice/day": D("0.70")}


def test_all_keys_caps_count_every_key_and_keyless_calls(store: BudgetStore, clock: Clock) -> None:
    budgets = Budgets(BudgetConfig(daily_usd=D(1), per_key_daily_usd=D("0.8")), store, clock)
    budgets.charge("alice", D("0.6"))
    budgets.charge(None, D("0.3"))  # no key: counts toward the all-keys cap only
    budgets.check(None, D("0.1"))
    with pytest.raises(BudgetExceeded) as info:
        budgets.check("bob", D("0.2"))
    assert info.value.budget == "all/day" and "BudgetConfig.daily_usd" in str(info.value)
    assert budgets.spent("alice") == {"all/day": D("0.9"), "key:alice/day": D("0.6")}


def test_budgets_are_checked_in_a_fixed_order(store: BudgetStore, clock: Clock) -> None:
    config = BudgetConfig(
        daily_usd=D(3), monthly_usd=D(2), per_key_daily_usd=D(1), per_key_monthly_usd=D(1)
    )
    budgets = Budgets(config, store, clock)
    budgets.charge("k", D(1))
    with pytest.raises(BudgetExceeded) as info:
        budgets.check("k", D("0.5"))
    assert info.value.budget == "key:k/day"
    with pytest.raises(BudgetExceeded) as info:
        budgets.check("j", D("1.5"))  # all/month (2) before key:j/day (1)
    assert info.value.budget == "all/month"


def test_daily_cap_resets_at_utc_midnight(store: BudgetStore, clock: Clock) -> None:
    clock.set("2026-11-26T23:59:59.999")
    budgets = Budgets(BudgetConfig(per_key_daily_usd=D(1)), store, clock)
    budgets.charge("alice", D(1))
    with pytest.raises(BudgetExceeded):
        budgets.check("alice", D("0.01"))
    clock.set("2026-11-27T00:00:00")
    budgets.check("alice", D(1))
    assert budgets.spent("alice") == {"key:alice/day": D(0)}


@pytest.mark.parametrize(
    ("last", "first", "next_month"),
    [
        ("2026-11-30T23:59:59", "2026-12-01T00:00:00", "2026-12-01 00:00"),
        ("2026-12-31T23:59:59", "2027-01-01T00:00:00", "2027-01-01 00:00"),
        ("2028-02-29T23:59:59", "2028-03-01T00:00:00", "2028-03-01 00:00"),
    ],
)
def test_monthly_cap_holds_across_days_and_resets_at_month_end(
    store: BudgetStore, clock: Clock, last: str, first: str, next_month: str
) -> None:
    clock.set(last[:8] + "01T00:00:00")
    budgets = Budgets(BudgetConfig(monthly_usd=D(10), per_key_monthly_usd=D(3)), store, clock)
    budgets.charge("alice", D(2))
    clock.set(last)  # a later day of the same month still sees the spending
    budgets.charge("alice", D(1))
    with pytest.raises(BudgetExceeded) as info:
        budgets.check("alice", D("0.000001"))
    assert info.value.budget == "key:alice/month"
    assert f"resets at {next_month} UTC" in str(info.value)
    clock.set(first)
    budgets.check("alice", D(3))
    assert budgets.spent("alice") == {"all/month": D(0), "key:alice/month": D(0)}


def test_store_totals_are_exact(store: BudgetStore) -> None:
    assert store.spent("day:x") == 0
    for _ in range(10):
        store.add("day:x", D("0.0000001"), ttl_s=60)  # a 1-token call to a nano model
    assert store.spent("day:x") == D("0.000001")
    assert store.add("day:x", D("0.999999"), ttl_s=60) == D(1)  # Redis: carries into dollars
    assert store.add("day:x", D("123456.000000000000001"), ttl_s=60) == D("123457.000000000000001")
    assert store.spent("day:y") == 0  # buckets are separate


@pytest.mark.unit
def test_bucket_names_carry_the_utc_period_and_expire_after_it() -> None:
    clock = Clock("2026-11-26T23:00")
    store = RecordingStore(clock)
    config = BudgetConfig(
        daily_usd=D(5), monthly_usd=D(50), per_key_daily_usd=D(1), per_key_monthly_usd=D(10)
    )
    Budgets(config, store, clock).charge("alice", D("0.25"))
    assert set(store.added) == {
        "day:2026-11-26",
        "month:2026-11",
        "key:alice:day:2026-11-26",
        "key:alice:month:2026-11",
    }
    hour = 3600.0
    assert store.added["day:2026-11-26"] == pytest.approx(hour + hour)  # to midnight + grace
    assert store.added["month:2026-11"] == pytest.approx(4 * 24 * hour + hour + hour)
    assert store.added["key:alice:day:2026-11-26"] == store.added["day:2026-11-26"]


@pytest.mark.unit
def test_negative_amounts_are_refused(clock: Clock) -> None:
    budgets = Budgets(BudgetConfig(daily_usd=D(1)), clock=clock)
    with pytest.raises(ValueError, match="estimate_usd"):
        budgets.check(None, D(-1))
    with pytest.raises(ValueError, match="charge"):
        budgets.charge(None, D(-1))


@pytest.mark.unit
def test_memory_store_forgets_expired_buckets(clock: Clock) -> None:
    store = MemoryBudgetStore(clock)
    assert store.add("b", D("0.5"), ttl_s=10) == D("0.5")
    assert store.add("b", D("0.25"), ttl_s=10) == D("0.75")
    clock.now += 10
    assert store.spent("b") == 0
    assert store.add("b", D(1), ttl_s=10) == D(1)  # starts afresh, not from 0.75
    clock.now += 3600
    store.add("other", D(1), ttl_s=10)  # sweeps expired buckets
    assert store.spent("b") == 0


# --- Redis: shared by replicas -----------------------------------------------------------------


@pytest.mark.integration
def test_redis_store_is_shared_rounds_up_and_expires(
    redis_url: str, redis_prefix: str, redis_client: redis.Redis
) -> None:
    second_client = redis.Redis.from_url(redis_url)
    try:
        one = RedisBudgetStore(redis_client, prefix=redis_prefix)
        two = RedisBudgetStore(second_client, prefix=redis_prefix)
        one.add("day:x", D("0.25"), ttl_s=60)
        assert two.add("day:x", D("0.5"), ttl_s=60) == D("0.75")
        assert one.spent("day:x") == D("0.75")
        assert one.add("day:y", D("1e-16"), ttl_s=60) == D("1e-15")  # finer: rounded up, kept
        one.add("day:c", D("0.999999"), ttl_s=60)
        one.add("day:c", D("0.000001"), ttl_s=60)  # the fraction carries into whole dollars
        assert redis_client.hmget(f"{redis_prefix}day:c", ["whole", "frac"]) == [b"1", b"0"]
        assert 0 < redis_client.pttl(f"{redis_prefix}day:x") <= 60_000
        with pytest.raises(ValueError, match=">= 0"):
            one.add("day:x", D(-1), ttl_s=60)
    finally:
        second_client.close()


@pytest.mark.integration
def test_redis_store_adds_atomically_from_threads(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    store = RedisBudgetStore(redis_client, prefix=redis_prefix)

    def work() -> None:
        for _ in range(50):
            store.add("month:m", D("0.3333333"), ttl_s=60)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.spent("month:m") == D("0.3333333") * 200


@pytest.mark.integration
def test_budgets_on_redis_refuse_across_replicas(
    redis_client: redis.Redis, redis_prefix: str, clock: Clock
) -> None:
    config = BudgetConfig(per_key_daily_usd=D("0.001"))
    replica_a = Budgets(config, RedisBudgetStore(redis_client, redis_prefix), clock)
    replica_b = Budgets(config, RedisBudgetStore(redis_client, redis_prefix), clock)
    replica_a.charge("alice", D("0.0007"))
    replica_b.charge("alice", D("0.0003"))
    with pytest.raises(BudgetExceeded, match=r"spent \$0.001 "):
        replica_a.check("alice", D("0.0000001"))
    assert redis_client.exists(f"{redis_prefix}key:alice:day:2026-11-26")
