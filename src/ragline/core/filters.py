"""A typed payload filter, mapped to native Qdrant filters by each store adapter.

    Filter(must=(Match("source_document", "guide.md"), Range("page_number", gte=2)))
    Filter(must=(Match("scope", "abc"), Range("expires", gt=now)))   # the semantic cache's

Pure values: `ragline.rag.store` turns them into Qdrant Edge or qdrant-client filters, and
`ragline.core.memory_index` evaluates them in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Match:
    """Payload `key` equals `value` (a keyword, integer or bool)."""

    key: str
    value: str | int | bool


@dataclass(frozen=True, slots=True)
class MatchAny:
    """Payload `key` equals one of `values`."""

    key: str
    values: tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Range:
    """Numeric payload `key` within the given bounds."""

    key: str
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None


@dataclass(frozen=True, slots=True)
class DateRange:
    """RFC 3339 datetime payload `key` within the given bounds."""

    key: str
    gte: str | None = None
    gt: str | None = None
    lte: str | None = None
    lt: str | None = None


@dataclass(frozen=True, slots=True)
class HasId:
    """The point id is one of `ids`."""

    ids: frozenset[str]


Condition: TypeAlias = Match | MatchAny | Range | DateRange | HasId


@dataclass(frozen=True, slots=True)
class Filter:
    """All of `must`, none of `must_not`, and (if any) at least one of `should`."""

    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()
    should: tuple[Condition, ...] = ()
