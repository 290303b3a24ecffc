"""`VectorIndex` in this process's memory: exact cosine search, filters evaluated in Python.

    index = MemoryIndex("semantic_cache")
    index.ensure_collection(CollectionSpec(dims=384, indexes={}))
    index.upsert([StorePoint(point_id, vector, None, {"scope": "abc"})])
    index.query(StoreQuery(dense=vector, limit=4))

For tests, and for small indexes that need not outlive the process (the semantic cache with
`path: null`). Dense queries only: a sparse leg needs an engine with IDF statistics (Qdrant).
Thread-safe; nothing is persisted (`flush` does nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from ragline.core.filters import Condition, DateRange, Filter, HasId, Match, MatchAny, Range
from ragline.core.index import CollectionSpec, Hit, StorePoint, StoreQuery, rank
from ragline.core.types import JsonValue, Payload


class MemoryIndex:
    """A `VectorIndex` held in a dict (see the module docstring)."""

    def __init__(self, collection: str = "memory") -> None:
        self._collection = collection
        self._dims: int | None = None
        self._points: dict[str, StorePoint] = {}
        self._lock = threading.Lock()

    @property
    def collection(self) -> str:
        return self._collection

    def exists(self) -> bool:
        return self._dims is not None

    def ensure_collection(self, spec: CollectionSpec) -> None:
        with self._lock:
            if self._dims is not None and self._dims != spec.dims:
                raise ValueError(
                    f"index {self._collection!r} holds {self._dims}-d vectors, not {spec.dims}-d; "
                    "use another collection"
                )
            self._dims = spec.dims

    def upsert(self, points: Sequence[StorePoint]) -> None:
        with self._lock:
            if self._dims is None:
                raise ValueError(f"index {self._collection!r} does not exist; ensure_collection()")
            for point in points:
                if len(point.dense) != self._dims:
                    raise ValueError(
                        f"point {point.id} has {len(point.dense)} dims, not {self._dims}"
                    )
                self._points[point.id] = point

    def delete(self, where: Filter) -> int:
        with self._lock:
            gone = [i for i, p in self._points.items() if matches(where, i, p.payload)]
            for point_id in gone:
                del self._points[point_id]
            return len(gone)

    def count(self, where: Filter | None = None) -> int:
        with self._lock:
            if where is None:
                return len(self._points)
            return sum(matches(where, i, p.payload) for i, p in self._points.items())

    def query(self, query: StoreQuery) -> list[Hit]:
        if query.dense is None:
            raise ValueError("MemoryIndex answers dense queries only; give StoreQuery(dense=...)")
        with self._lock:
            found = [
                p
                for i, p in self._points.items()
                if query.filter is None or matches(query.filter, i, p.payload)
            ]
        if not found:
            return []
        vectors = np.stack([p.dense for p in found]).astype(np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        target = np.asarray(query.dense, dtype=np.float32)
        target = target / max(float(np.linalg.norm(target)), 1e-12)
        scores = vectors @ target
        hits = [
            Hit(p.id, float(s), _selected(p.payload, query.payload_keys))
            for p, s in zip(found, scores, strict=True)
        ]
        return rank(hits)[: query.limit]

    def flush(self) -> None:
        """Nothing to make durable: the index lives in memory."""

    def close(self) -> None:
        """Nothing to release; the points stay until the object is dropped."""


def _selected(payload: Payload, keys: tuple[str, ...] | None) -> Payload:
    return dict(payload) if keys is None else {k: v for k, v in payload.items() if k in keys}


def matches(where: Filter, point_id: str, payload: Payload) -> bool:
    """Whether a point passes `where`: all of must, none of must_not, one of should (if any)."""
    return (
        all(_holds(c, point_id, payload) for c in where.must)
        and not any(_holds(c, point_id, payload) for c in where.must_not)
        and (not where.should or any(_holds(c, point_id, payload) for c in where.should))
    )


def _holds(cond: Condition, point_id: str, payload: Payload) -> bool:
    if isinstance(cond, HasId):
        return point_id in cond.ids
    value = payload.get(cond.key)
    if isinstance(cond, Match):
        return _equal(value, cond.value)
    if isinstance(cond, MatchAny):
        return any(_equal(value, v) for v in cond.values)
    if isinstance(cond, Range):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return _within(float(value), cond.gte, cond.gt, cond.lte, cond.lt)
    if isinstance(cond, DateRange):
        moment = _timestamp(value)
        if moment is None:
            return False
        bounds = (_timestamp(b) for b in (cond.gte, cond.gt, cond.lte, cond.lt))
        return _within(moment, *bounds)
    raise TypeError(f"unsupported filter condition {cond!r}")


def _equal(value: JsonValue, wanted: str | int | bool) -> bool:
    if isinstance(value, list):
        return any(_equal(v, wanted) for v in value)  # Qdrant matches any element of a list
    return type(value) is type(wanted) and value == wanted


def _within(
    x: float, gte: float | None, gt: float | None, lte: float | None, lt: float | None
) -> bool:
    return (
        (gte is None or x >= gte)
        and (gt is None or x > gt)
        and (lte is None or x <= lte)
        and (lt is None or x < lt)
    )


def _timestamp(value: JsonValue) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
