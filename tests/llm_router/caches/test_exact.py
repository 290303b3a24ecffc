"""The exact response cache: key normalisation, and both backends (SQLite file, real Redis).

The module has no single `pytestmark`: key and SQLite cases are unit tests, the Redis cases
are integration tests (through the `backend` fixture's params), so `-m unit` runs without Redis.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import ValidationError

from ragline.core.chat import ChatRequest, Completion, Message, Usage
from ragline.llm_router.caches.exact import (
    CacheConfig,
    ExactCache,
    RedisCache,
    SqliteCache,
    cache_key,
    cacheable,
    open_cache,
)
from ragline.llm_router.testing import ExactCacheConformance

MODEL = "openai:gpt-4o-mini"
TTL = 3_600.0
START = 1_000_000.0
SYSTEM = "Answer briefly."


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def request(prompt: str = "What is the capital of France?", **options: object) -> ChatRequest:
    messages = (Message("system", SYSTEM), Message("user", prompt))
    return ChatRequest(messages=messages, **options)  # type: ignore[arg-type]


def completion(text: str = "Paris.") -> Completion:
    return Completion(
        text, MODEL, Usage(21, 3, cached_in=5), latency_ms=812.5, cost_usd=0.00042, attempts=("a",)
    )


# --- keys ----------------------------------------------------------------------------------------
BASE = cache_key(MODEL, request())


@pytest.mark.unit
@pytest.mark.parametrize(
    "same",
    [
        request("  What is the capital\n\tof   France?\n"),
        request(temperature=0.0),
        request(temperature=None),
        request(max_tokens=512),
    ],
    ids=["whitespace", "temperature-0", "temperature-None", "default-max-tokens"],
)
def test_same_meaning_gives_the_same_key(same: ChatRequest) -> None:
    assert cache_key(MODEL, same) == BASE


@pytest.mark.unit
@pytest.mark.parametrize(
    ("model", "other"),
    [
        ("openai:gpt-4o", request()),
        (MODEL, request("What is the capital of Spain?")),
        (MODEL, request(max_tokens=64)),
        (MODEL, request(temperature=0.7)),
        (MODEL, request(stop=("\n",))),
        (MODEL, request(regex="[A-Z][a-z]+")),
        (MODEL, request(json_schema={"type": "string"})),
        (MODEL, request(model="gpt-4o")),
        (MODEL, ChatRequest(messages=(Message("user", "What is the capital of France?"),))),
        (
            MODEL,
            ChatRequest(messages=(Message("assistant", "Answer briefly."), request().messages[1])),
        ),
    ],
    ids=[
        "model",
        "prompt",
        "max_tokens",
        "temperature",
        "stop",
        "regex",
        "json_schema",
        "request-model",
        "no-system",
        "role",
    ],
)
def test_anything_that_changes_the_answer_changes_the_key(model: str, other: ChatRequest) -> None:
    assert cache_key(model, other) != BASE


@pytest.mark.unit
def test_key_ignores_the_order_of_schema_keys_and_stop_sequences() -> None:
    schema_a = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}}
    schema_b = {"properties": {"b": {"type": "number"}, "a": {"type": "string"}}, "type": "object"}
    assert cache_key(MODEL, request(json_schema=schema_a)) == cache_key(
        MODEL, request(json_schema=schema_b)
    )
    assert cache_key(MODEL, request(stop=("a", "b"))) == cache_key(MODEL, request(stop=("b", "a")))
    assert len(BASE) == 64 and int(BASE, 16) >= 0


@pytest.mark.unit
def test_key_keeps_whitespace_differences_between_messages_apart() -> None:
    # Collapsing happens inside a message; moving text across messages is another request.
    a = ChatRequest(messages=(Message("user", "a b"), Message("user", "c")))
    b = ChatRequest(messages=(Message("user", "a"), Message("user", "b c")))
    assert cache_key(MODEL, a) != cache_key(MODEL, b)


@pytest.mark.unit
def test_cacheable_only_greedy_requests_by_default() -> None:
    config = CacheConfig()
    assert cacheable(request(), config)
    assert cacheable(request(temperature=0.0), config)
    assert not cacheable(request(temperature=0.2), config)
    assert cacheable(request(temperature=0.2), CacheConfig(temperature_zero_only=False))
    assert not cacheable(request(), CacheConfig(enabled=False))


@pytest.mark.unit
def test_config_is_strict() -> None:
    with pytest.raises(ValidationError):
        CacheConfig(backend="memcached")
    with pytest.raises(ValidationError):
        CacheConfig(ttl=5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        CacheConfig(ttl_s=0)


# --- both backends: the shipped conformance suite ------------------------------------------------
@pytest.mark.unit
class TestSqliteCache(ExactCacheConformance):
    @pytest.fixture
    def cache(self, tmp_path: Path) -> Iterator[ExactCache]:
        cache = SqliteCache(tmp_path / "cache" / "llm.sqlite", TTL)
        yield cache
        cache.close()


@pytest.mark.integration
class TestRedisCache(ExactCacheConformance):
    @pytest.fixture
    def cache(self, redis_client: redis.Redis, redis_prefix: str) -> ExactCache:
        return RedisCache(redis_client, TTL, prefix=redis_prefix)


# --- SQLite --------------------------------------------------------------------------------------
@pytest.mark.unit
def test_sqlite_entries_expire_and_are_deleted(tmp_path: Path) -> None:
    clock = Clock()
    cache = SqliteCache(tmp_path / "c.sqlite", ttl_s=60.0, clock=clock)
    cache.put("k", completion())
    clock.now = START + 59.9
    assert cache.get("k") is not None
    clock.now = START + 60.0
    assert cache.get("k") is None
    assert len(cache) == 0  # deleted when read expired
    cache.close()


@pytest.mark.unit
def test_sqlite_prunes_expired_rows_on_open_and_on_puts(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "c.sqlite"
    cache = SqliteCache(path, ttl_s=60.0, clock=clock)
    for i in range(10):
        cache.put(f"old{i}", completion())
    clock.now = START + 61
    cache.put("fresh", completion())
    cache.close()
    reopened = SqliteCache(path, ttl_s=60.0, clock=clock)
    assert len(reopened) == 1 and reopened.get("fresh") is not None
    for i in range(10):
        reopened.put(f"old{i}", completion())
    clock.now = START + 200
    for i in range(SqliteCache.PRUNE_EVERY):
        reopened.put(f"new{i}", completion())
    assert len(reopened) < SqliteCache.PRUNE_EVERY + 11
    reopened.close()


@pytest.mark.unit
def test_sqlite_persists_in_one_wal_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "c.sqlite"
    cache = SqliteCache(path, TTL)
    cache.put("k", completion())
    cache.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = SqliteCache(path, TTL)
    hit = reopened.get("k")
    assert hit is not None and hit.text == "Paris."
    reopened.close()


@pytest.mark.unit
@pytest.mark.parametrize("raw", ["{not json", '{"text": "no usage"}', b"\xff\xfe"])
def test_sqlite_corrupt_row_is_a_miss_and_is_dropped(tmp_path: Path, raw: str | bytes) -> None:
    path = tmp_path / "c.sqlite"
    cache = SqliteCache(path, TTL)
    cache.put("k", completion())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE completions SET value = ? WHERE key = 'k'", (raw,))
    assert cache.get("k") is None
    assert len(cache) == 0
    cache.put("k", completion())  # the key works again
    assert cache.get("k") is not None
    cache.close()


@pytest.mark.unit
def test_sqlite_refuses_a_nonpositive_ttl(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        SqliteCache(tmp_path / "c.sqlite", 0)


@pytest.mark.unit
def test_open_cache_opens_sqlite_at_the_configured_path(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "llm.sqlite"
    cache = open_cache(CacheConfig(path=path))
    assert isinstance(cache, SqliteCache)
    cache.put("k", completion())
    cache.close()
    assert path.exists()


# --- Redis ---------------------------------------------------------------------------------------
@pytest.mark.integration
def test_redis_sets_the_ttl_in_milliseconds(redis_client: redis.Redis, redis_prefix: str) -> None:
    cache = RedisCache(redis_client, ttl_s=90.0, prefix=redis_prefix)
    cache.put("k", completion())
    remaining = redis_client.pttl(f"{redis_prefix}k")
    assert 80_000 < remaining <= 90_000


@pytest.mark.integration
@pytest.mark.parametrize("raw", [b"{not json", b'{"text": "no usage"}', b"\xff\xfe"])
def test_redis_corrupt_value_is_a_miss_and_is_dropped(
    redis_client: redis.Redis, redis_prefix: str, raw: bytes
) -> None:
    cache = RedisCache(redis_client, ttl_s=TTL, prefix=redis_prefix)
    redis_client.set(f"{redis_prefix}k", raw)
    assert cache.get("k") is None
    assert not redis_client.exists(f"{redis_prefix}k")


@pytest.mark.integration
def test_redis_unreachable_is_a_miss_not_an_error() -> None:
    cache = open_cache(CacheConfig(backend="redis", redis_url="redis://127.0.0.1:1/0"))
    cache.put("k", completion())  # logged, not raised
    assert cache.get("k") is None
    cache.close()


@pytest.mark.integration
def test_open_cache_opens_redis(redis_url: str) -> None:
    cache = open_cache(CacheConfig(backend="redis", redis_url=redis_url))
    assert isinstance(cache, RedisCache)
    assert cache.get("ragline-test:never-written") is None
    cache.close()
