"""Spending caps per UTC day and month, for all keys together and per API key.

    budgets = Budgets(BudgetConfig(daily_usd=Decimal("50"), per_key_daily_usd=Decimal("2")))
    budgets.check("alice", estimate_usd)     # BudgetExceeded: the call is not sent
    ...                                      # call the model
    budgets.charge("alice", actual_usd)      # what the call really cost

Spending is kept in buckets named after the period ("day:2026-11-26", "key:alice:month:2026-11"),
so a cap resets at the UTC day or month boundary without any job. `MemoryBudgetStore` serves
one process; `RedisBudgetStore` shares the buckets between replicas, exactly (integer
femto-dollars, never floats).

`check` and `charge` are separate calls, so replicas answering at the same moment may together
pass a cap by what their calls in flight cost; keep estimates pessimistic where that matters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Protocol

from pydantic import Field

from ragline.core.strict import Strict
from ragline.llm_router.errors import BudgetExceeded
from ragline.llm_router.guards.fallback import RedisFallback

if TYPE_CHECKING:
    import redis

# A bucket outlives its period by this much, so a replica whose clock is a little behind
# still finds the spending of the period it believes it is in.
_GRACE_S = 3600.0
_FEMTO = 10**15


class BudgetConfig(Strict):
    """Caps in USD; None: no cap. Days and months are UTC calendar periods.

    BudgetConfig(monthly_usd=Decimal("500"), per_key_daily_usd=Decimal("5"))
    """

    daily_usd: Decimal | None = Field(None, ge=0, description="all keys together, per UTC day")
    monthly_usd: Decimal | None = Field(None, ge=0, description="all keys together, per month")
    per_key_daily_usd: Decimal | None = Field(None, ge=0, description="each key, per UTC day")
    per_key_monthly_usd: Decimal | None = Field(None, ge=0, description="each key, per month")


class BudgetStore(Protocol):
    """Running totals by bucket name; `add` returns the new total and (re)sets its expiry."""

    def spent(self, bucket: str) -> Decimal: ...

    def add(self, bucket: str, usd: Decimal, ttl_s: float) -> Decimal: ...


class MemoryBudgetStore:
    """Totals in a dict (one process). Expired buckets are dropped as new ones are added.

    store = MemoryBudgetStore(); store.add("day:2026-11-26", Decimal("0.5"), ttl_s=86400)
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._totals: dict[str, tuple[Decimal, float]] = {}
        self._next_prune = 0.0

    def spent(self, bucket: str) -> Decimal:
        with self._lock:
            total, expires = self._totals.get(bucket, (Decimal(0), 0.0))
            return total if expires > self._clock() else Decimal(0)

    def add(self, bucket: str, usd: Decimal, ttl_s: float) -> Decimal:
        with self._lock:
            now = self._clock()
            if now >= self._next_prune:  # at most once a minute: a sweep costs O(buckets)
                self._totals = {b: v for b, v in self._totals.items() if v[1] > now}
                self._next_prune = now + 60.0
            total, expires = self._totals.get(bucket, (Decimal(0), 0.0))
            total = (total if expires > now else Decimal(0)) + usd
            self._totals[bucket] = (total, now + ttl_s)
            return total


# Two integer fields, whole dollars and femto-dollars (< 1e15, exact in Lua's doubles), so the
# total is exact and cannot overflow; the carry keeps `frac` below 1e15.
_ADD = """
local frac = redis.call('HINCRBY', KEYS[1], 'frac', ARGV[2])
if frac >= 1000000000000000 then
  redis.call('HINCRBY', KEYS[1], 'frac', '-1000000000000000')
  redis.call('HINCRBY', KEYS[1], 'whole', '1')
end
redis.call('HINCRBY', KEYS[1], 'whole', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('HMGET', KEYS[1], 'whole', 'frac')
"""


class RedisBudgetStore:
    """Totals in Redis hashes shared by every replica; one atomic script per `add`.

    store = RedisBudgetStore(redis.Redis.from_url("redis://127.0.0.1:6379/0"))

    Amounts are kept as integer femto-dollars (1e-15 USD): exact for any per-token price with
    up to 9 decimals per 1M tokens; a finer fraction is rounded up, never down. While Redis
    is down, totals are kept in this process (`ragline.llm_router.guards.fallback`).
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "ragline:budget:",
        fallback: RedisFallback | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._add = client.register_script(_ADD)
        self.fallback = fallback or RedisFallback("budgets")
        self._local = MemoryBudgetStore()

    def spent(self, bucket: str) -> Decimal:
        return self.fallback.call(lambda: self._spent(bucket), lambda: self._local.spent(bucket))

    def add(self, bucket: str, usd: Decimal, ttl_s: float) -> Decimal:
        if usd < 0:
            raise ValueError(f"a budget charge must be >= 0, got {usd}")
        return self.fallback.call(
            lambda: self._shared_add(bucket, usd, ttl_s),
            lambda: self._local.add(bucket, usd, ttl_s),
        )

    def _spent(self, bucket: str) -> Decimal:
        whole, frac = self._client.hmget(self._prefix + bucket, ["whole", "frac"])
        return _from_parts(whole, frac)

    def _shared_add(self, bucket: str, usd: Decimal, ttl_s: float) -> Decimal:
        units = int((usd * _FEMTO).to_integral_value(rounding=ROUND_CEILING))
        whole, frac = divmod(units, _FEMTO)
        ttl_ms = max(1, int(ttl_s * 1000))
        result = self._add(keys=[self._prefix + bucket], args=[whole, frac, ttl_ms])
        return _from_parts(*result)


def _from_parts(whole: bytes | str | None, frac: bytes | str | None) -> Decimal:
    units = int(whole or 0) * _FEMTO + int(frac or 0)
    return Decimal(units).scaleb(-15)


@dataclass(frozen=True, slots=True)
class _Limit:
    budget: str  # "key:alice/day"
    bucket: str  # "key:alice:day:2026-11-26"
    cap: Decimal
    setting: str  # the BudgetConfig field that sets the cap
    resets_at: datetime


class Budgets:
    """Refuses calls that would pass a cap (`check`) and counts what calls cost (`charge`).

    budgets = Budgets(BudgetConfig(per_key_daily_usd=Decimal("1")), RedisBudgetStore(client))
    budgets.check("alice", Decimal("0.01")); budgets.charge("alice", Decimal("0.0042"))

    A call without a key (None) counts only toward the all-keys caps.
    """

    def __init__(
        self,
        config: BudgetConfig,
        store: BudgetStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._store = store if store is not None else MemoryBudgetStore(clock)
        self._clock = clock

    def check(self, key: str | None, estimate_usd: Decimal) -> None:
        """Raise `BudgetExceeded` if any cap would be passed by spending `estimate_usd` more."""
        if estimate_usd < 0:
            raise ValueError(f"estimate_usd must be >= 0, got {estimate_usd}")
        for limit in self._limits(key, self._clock()):
            spent = self._store.spent(limit.bucket)
            if spent + estimate_usd > limit.cap:
                raise BudgetExceeded(_message(limit, spent, estimate_usd), limit.budget)

    def charge(self, key: str | None, usd: Decimal) -> None:
        """Add what a call cost to every capped bucket it counts toward."""
        if usd < 0:
            raise ValueError(f"a charge must be >= 0, got {usd}")
        now = self._clock()
        for limit in self._limits(key, now):
            ttl_s = limit.resets_at.timestamp() - now + _GRACE_S
            self._store.add(limit.bucket, usd, ttl_s)

    def spent(self, key: str | None = None) -> dict[str, Decimal]:
        """What each capped budget has spent in its current period, by budget name."""
        limits = self._limits(key, self._clock())
        return {limit.budget: self._store.spent(limit.bucket) for limit in limits}

    def _limits(self, key: str | None, ts: float) -> list[_Limit]:
        """The capped budgets a call by `key` counts toward at `ts`, in the order checked."""
        now = datetime.fromtimestamp(ts, UTC)
        periods = {
            "day": (f"day:{now:%Y-%m-%d}", _next_day(now)),
            "month": (f"month:{now:%Y-%m}", _next_month(now)),
        }
        c = self.config
        rows = [("all", "", "day", c.daily_usd, "daily_usd")]
        rows.append(("all", "", "month", c.monthly_usd, "monthly_usd"))
        if key is not None:
            rows.append(
                (f"key:{key}", f"key:{key}:", "day", c.per_key_daily_usd, "per_key_daily_usd")
            )
            rows.append(
                (f"key:{key}", f"key:{key}:", "month", c.per_key_monthly_usd, "per_key_monthly_usd")
            )
        limits = []
        for scope, bucket_prefix, period, cap, setting in rows:
            if cap is not None:
                bucket, resets_at = periods[period]
                limits.append(
                    _Limit(f"{scope}/{period}", bucket_prefix + bucket, cap, setting, resets_at)
                )
        return limits


def _next_day(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


def _next_month(now: datetime) -> datetime:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _usd(amount: Decimal) -> str:
    return "$" + format(amount.normalize(), "f")


def _message(limit: _Limit, spent: Decimal, estimate: Decimal) -> str:
    return (
        f"budget {limit.budget} would be exceeded: spent {_usd(spent)} + this call's estimate "
        f"{_usd(estimate)} > cap {_usd(limit.cap)}; raise BudgetConfig.{limit.setting} or wait "
        f"until it resets at {limit.resets_at:%Y-%m-%d %H:%M} UTC"
    )
