"""The exact response cache: a request seen before, with the same meaning, gets the stored answer.

    config = CacheConfig()                              # SQLite under .ragline/ by default
    cache = open_cache(config)
    if cacheable(request, config):
        key = cache_key("openai:gpt-4o-mini", request)
        hit = cache.get(key)                             # Completion with cache="exact", or None
        if hit is None:
            cache.put(key, model.complete(request))

Two backends share the `ExactCache` protocol: `SqliteCache` (one file, the embedded default)
and `RedisCache` (several replicas share it). Both store a `Completion` as JSON with an expiry;
an expired or unreadable entry is a miss, never an error, because a cache may only ever make
an answer cheaper, not break it. A hit keeps the stored latency and usage (what the answer
cost when it was made); the router decides that a hit costs nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from pydantic import Field, TypeAdapter, ValidationError

from ragline.core.chat import ChatRequest, Completion, Message
from ragline.core.strict import Strict

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

_COMPLETION = TypeAdapter(Completion)
_KEY_VERSION = 1  # bump when the key's recipe changes, so old entries are simply never found


class CacheConfig(Strict):
    """Settings of the exact response cache.

    CacheConfig(backend="redis", redis_url="redis://cache:6379/0", ttl_s=3600)
    """

    enabled: bool = True
    backend: Literal["sqlite", "redis"] = "sqlite"
    path: Path = Field(Path(".ragline/llm_cache.sqlite"), description="the SQLite file")
    redis_url: str = "redis://127.0.0.1:6379/0"
    ttl_s: float = Field(86_400.0, gt=0, description="seconds an answer stays servable")
    temperature_zero_only: bool = Field(
        True, description="a sampled answer (temperature > 0) is not a fact to replay"
    )


def normalise_text(text: str) -> str:
    """`text` with every run of whitespace made one space, and the ends stripped."""
    return " ".join(text.split())


def _messages(messages: tuple[Message, ...]) -> list[object]:
    return [
        [m.role, normalise_text(m.content)]
        if not (m.name or m.tool_calls or m.tool_call_id)
        else [m.role, normalise_text(m.content), m.name, _plain(m.tool_calls), m.tool_call_id]
        for m in messages
    ]


def _plain(values: object) -> object:
    """Dataclass values (tools, tool calls, sampling) as JSON-ready lists and dicts."""
    if isinstance(values, tuple):
        return [_plain(v) for v in values]
    return dataclasses.asdict(values)  # type: ignore[call-overload]


def cache_key(model: str, request: ChatRequest) -> str:
    """A sha256 hex digest naming what `model` would answer to `request`.

    Normalised, because it does not change the answer:
    - message content: whitespace runs collapsed to one space and the ends stripped (prompt
      templates differ in indentation and trailing newlines); roles and order are kept;
    - temperature: None and 0 are the same key (greedy decoding, the providers' default here);
    - stop: sorted and de-duplicated (a set of sequences; order does not matter);
    - json_schema: serialised with sorted keys (a dict's insertion order carries no meaning).

    Everything else that changes the answer is part of the key: `model` (the deployment that
    answers, e.g. "openai:gpt-4o-mini"), `request.model`, roles, tool calls, max_tokens,
    temperature, stop, json_schema, json_object, regex, tools, tool_choice and the sampling
    options (all but `user` and `metadata`, which are bookkeeping).

    Whitespace inside content is collapsed even where it might matter (indented code in a
    prompt); such prompts differ in their text too, so a false hit needs two prompts equal
    in everything but their spacing, which a model answers the same way in practice.
    """
    temperature = float(request.temperature or 0.0)
    canonical = {
        "v": _KEY_VERSION,
        "model": model,
        "request_model": request.model,
        "messages": _messages(request.messages),
        "max_tokens": request.max_tokens,
        "temperature": temperature,
        "stop": sorted(set(request.stop)),
        "json_schema": request.json_schema,
        "regex": request.regex,
    }
    sampling = dataclasses.replace(request.sampling, user=None, metadata=None)
    if request.json_object or request.tools or request.tool_choice or sampling.given():
        canonical["json_object"] = request.json_object
        canonical["tools"] = _plain(request.tools)
        canonical["tool_choice"] = request.tool_choice
        canonical["sampling"] = _plain(sampling)
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def cacheable(request: ChatRequest, config: CacheConfig) -> bool:
    """Whether `request`'s answer may be stored and replayed under `config`."""
    if not config.enabled:
        return False
    return not config.temperature_zero_only or not request.temperature


@runtime_checkable
class ExactCache(Protocol):
    """Stores completions by `cache_key`; `get` returns a copy marked `cache="exact"`.

    cache.put(key, completion); cache.get(key).cache == "exact"
    """

    def get(self, key: str) -> Completion | None: ...

    def put(self, key: str, completion: Completion) -> None: ...

    def close(self) -> None: ...


def _decode(raw: bytes | str, key: str) -> Completion | None:
    """The stored completion marked as a hit, or None (logged) where the entry is unreadable."""
    try:
        stored = _COMPLETION.validate_json(raw)
    except ValidationError as exc:
        log.warning("unreadable cache entry %s dropped (%s)", key, exc.errors()[0]["msg"])
        return None
    return dataclasses.replace(stored, cache="exact")


class SqliteCache:
    """`ExactCache` in one SQLite file (WAL mode), shared by the threads of one process.

        cache = SqliteCache(Path(".ragline/llm_cache.sqlite"), ttl_s=86_400)
        cache.put(key, completion)
        cache.get(key)

    One connection, guarded by a lock, stays open: a hit is one indexed SELECT (~20 us), with
    no connect per call. Expired rows are misses; they are deleted when read, and all of
    them every `PRUNE_EVERY` puts and on open, so the file does not grow without bound.
    """

    PRUNE_EVERY = 256

    def __init__(self, path: Path, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._puts = 0
        # autocommit (isolation_level=None): each statement is its own short transaction.
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable enough for a cache
        self._db.execute("PRAGMA busy_timeout=5000")  # other processes may write the same file
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS completions "
            "(key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL) WITHOUT ROWID"
        )
        self._prune()

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value, expires FROM completions WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            value, expires = row
            now = self._clock()
            if expires <= now:
                self._db.execute(
                    "DELETE FROM completions WHERE key = ? AND expires <= ?", (key, now)
                )
                return None
        hit = _decode(value, key)
        if hit is None:  # only that value: another thread may have put a good one meanwhile
            with self._lock:
                self._db.execute(
                    "DELETE FROM completions WHERE key = ? AND value = ?", (key, value)
                )
        return hit

    def put(self, key: str, completion: Completion) -> None:
        value = _COMPLETION.dump_json(completion).decode()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO completions (key, value, expires) VALUES (?, ?, ?)",
                (key, value, self._clock() + self._ttl_s),
            )
            self._puts += 1
            if self._puts % self.PRUNE_EVERY == 0:
                self._prune_locked()

    def __len__(self) -> int:
        """Rows stored, expired ones included until they are pruned."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM completions").fetchone()[0])

    def _prune(self) -> None:
        with self._lock:
            self._prune_locked()

    def _prune_locked(self) -> None:
        self._db.execute("DELETE FROM completions WHERE expires <= ?", (self._clock(),))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisCache:
    """`ExactCache` in Redis, for several replicas: one key per entry, expired by Redis (PX).

        cache = RedisCache(redis.Redis.from_url("redis://127.0.0.1:6379/0"), ttl_s=3600)

    A Redis that cannot be reached makes every call a miss (logged), not an error: the
    router then asks the model, which is slower but still right.
    """

    def __init__(self, client: redis.Redis, ttl_s: float, prefix: str = "ragline:cache:") -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        self._client = client
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._prefix = prefix

    def get(self, key: str) -> Completion | None:
        import redis

        name = self._prefix + key
        try:
            raw = self._client.get(name)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("Redis cache unreachable, treating as a miss: %s", exc)
            return None
        if raw is None:
            return None
        if not isinstance(raw, bytes | str):
            raise TypeError(f"Redis returned {type(raw).__name__} for a string key {name}")
        hit = _decode(raw, key)
        if hit is None:
            self._client.delete(name)
        return hit

    def put(self, key: str, completion: Completion) -> None:
        import redis

        value = _COMPLETION.dump_json(completion)
        try:
            self._client.set(self._prefix + key, value, px=self._ttl_ms)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("Redis cache unreachable, answer not stored: %s", exc)

    def close(self) -> None:
        self._client.close()


def open_cache(config: CacheConfig) -> ExactCache:
    """The backend `config` names, opened (the SQLite file and its folder are created)."""
    if config.backend == "redis":
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # Fail fast: redis-py's default (10 retries with backoff) turns a Redis outage into
        # seconds added to every model call, where a miss costs only the model call.
        client = redis.Redis.from_url(
            config.redis_url,
            socket_connect_timeout=0.5,
            socket_timeout=1.0,
            retry=Retry(NoBackoff(), 1),
        )
        return RedisCache(client, config.ttl_s)
    return SqliteCache(config.path, config.ttl_s)


__all__ = [
    "CacheConfig",
    "ExactCache",
    "RedisCache",
    "SqliteCache",
    "cache_key",
    "cacheable",
    "normalise_text",
    "open_cache",
]
