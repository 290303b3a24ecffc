"""The online store: each entity's latest feature row in one Redis hash, read with one HMGET.

    store = OnlineStore("redis://127.0.0.1:6379/0")
    store.write_rows(table.rows, "firm", "firm", registry.for_source("grunfeld"))
    row = store.read("firm", "General Motors", registry.for_entity("firm"))
    row.values["firm_invest_all_mean"], row.feature_ts

Layout: key `{prefix}:{entity}:{entity_id}` (`ragline:features:firm:General Motors`), one field
per feature plus `__feature_ts` (nanoseconds since the epoch). Floats are written with `repr`,
which round-trips every float64 exactly, so the online value is bit-for-bit the offline one; a
missing value is a missing field. Writes are pipelined (one round trip per `batch_size` rows);
a read is one HMGET whatever the number of features. Only this module imports redis.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from ragline.core.errors import redact
from ragline.mltrack.features.errors import OnlineStoreError
from ragline.mltrack.features.registry import FeatureDefinition
from ragline.mltrack.features.transform import FEATURE_TS

if TYPE_CHECKING:
    import redis

TS_FIELD = "__feature_ts"
DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "ragline:features"
Value = float | int | bool | str | None


@dataclass(frozen=True)
class OnlineRow:
    """One entity's features as served: values by name (None when missing or stale)."""

    entity_id: str
    feature_ts: pd.Timestamp | None
    values: dict[str, Value] = field(default_factory=dict)
    stale: bool = False


def _encode(values: pd.Series, dtype: str) -> list[str | None]:
    items = values.tolist()
    if dtype == "float64":
        return [None if v is None or math.isnan(v) else repr(float(v)) for v in items]
    missing = values.isna().tolist()
    if dtype == "bool":
        return [None if m else ("1" if v else "0") for v, m in zip(items, missing, strict=True)]
    if dtype == "int64":
        return [None if m else str(int(v)) for v, m in zip(items, missing, strict=True)]
    return [None if m else str(v) for v, m in zip(items, missing, strict=True)]


def _decode(raw: bytes | None, dtype: str, name: str) -> Value:
    if raw is None:
        return None
    try:
        if dtype == "float64":
            return float(raw)
        if dtype == "int64":
            return int(raw)
        if dtype == "bool":
            if raw not in (b"0", b"1"):
                raise ValueError(raw)
            return raw == b"1"
        return raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise OnlineStoreError(
            f"{name} holds {raw[:40]!r}, not a {dtype}; another writer uses this key prefix, "
            "or the registry's dtype changed: run `ragline features push` again"
        ) from None


class OnlineStore:
    """Latest feature values per entity in Redis.

    Example:
        >>> store = OnlineStore("redis://127.0.0.1:6379/0", prefix="demo")
        >>> store.write_rows(latest_per_entity(table.rows, "firm"), "firm", "firm", features)
        11
        >>> store.read("firm", "IBM", features[:1]).values
        {'firm_invest_all_mean': 55.411}
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        prefix: str = DEFAULT_PREFIX,
        *,
        client: redis.Redis | None = None,
    ) -> None:
        import redis as redis_lib

        self.url, self.prefix = url, prefix.rstrip(":")
        self._client = client if client is not None else redis_lib.Redis.from_url(url)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        import redis as redis_lib

        try:
            yield
        except redis_lib.RedisError as exc:
            raise OnlineStoreError(
                redact(
                    f"Redis at {self.url} failed ({exc}); start Redis or pass the right --redis-url"
                )
            ) from None

    def ping(self) -> None:
        """Connect (Redis connects lazily) and check the server answers."""
        with self._errors():
            self._client.ping()

    def key(self, entity: str, entity_id: object) -> str:
        return f"{self.prefix}:{entity}:{entity_id}"

    def write_rows(
        self,
        rows: pd.DataFrame,
        entity_key: str,
        entity: str,
        features: Sequence[FeatureDefinition],
        batch_size: int = 1000,
    ) -> int:
        """Write each row as its entity's current values (a later row overwrites an earlier one).

        Pass the latest row per entity (`latest_per_entity`); returns the rows written.
        """
        encoded = {d.name: _encode(rows[d.name], d.dtype) for d in features}
        stamps = [str(v) for v in rows[FEATURE_TS].to_numpy().view("int64").tolist()]
        ids = rows[entity_key].tolist()
        with self._errors():
            pipe = self._client.pipeline(transaction=False)
            for i, entity_id in enumerate(ids):
                key = self.key(entity, entity_id)
                mapping = {name: values[i] for name, values in encoded.items()}
                absent = [name for name, value in mapping.items() if value is None]
                present = {name: v for name, v in mapping.items() if v is not None}
                fields: dict[Any, str] = {**present, TS_FIELD: stamps[i]}  # redis-py's key type
                pipe.hset(key, mapping=fields)
                if absent:
                    pipe.hdel(key, *absent)
                if (i + 1) % batch_size == 0:
                    pipe.execute()
            pipe.execute()
        return len(ids)

    def read(
        self,
        entity: str,
        entity_id: object,
        features: Sequence[FeatureDefinition],
        *,
        at: datetime | None = None,
        max_staleness: timedelta | None = None,
    ) -> OnlineRow:
        """One HMGET: the entity's values, typed by each definition's dtype.

        With `max_staleness`, values written more than that before `at` (default: now, UTC)
        are served as None, as the point-in-time join treats them in training.
        """
        names = [d.name for d in features]
        with self._errors():
            raw = cast(
                list[bytes | None],
                self._client.hmget(self.key(entity, entity_id), [*names, TS_FIELD]),
            )
        stamp = raw[-1]
        feature_ts = pd.Timestamp(int(stamp)) if stamp is not None else None
        values = {d.name: _decode(r, d.dtype, d.name) for d, r in zip(features, raw, strict=False)}
        if max_staleness is not None and feature_ts is not None:
            now = pd.Timestamp(at) if at is not None else pd.Timestamp.now("UTC").tz_localize(None)
            if now - feature_ts > max_staleness:
                return OnlineRow(str(entity_id), feature_ts, dict.fromkeys(names), stale=True)
        return OnlineRow(str(entity_id), feature_ts, values)

    def delete(self, entity: str, entity_ids: Sequence[object]) -> int:
        """Remove entities' hashes; returns how many existed."""
        if not entity_ids:
            return 0
        with self._errors():
            return int(self._client.delete(*(self.key(entity, e) for e in entity_ids)))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OnlineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def latest_per_entity(rows: pd.DataFrame, entity_key: str) -> pd.DataFrame:
    """Each entity's latest feature row (ties: the later row in the frame)."""
    ordered = rows.sort_values(FEATURE_TS, kind="stable")
    return ordered.drop_duplicates(entity_key, keep="last").reset_index(drop=True)
