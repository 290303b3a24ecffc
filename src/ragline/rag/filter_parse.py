"""Filters written on a command line (`--filter key=value`), parsed into the typed `Filter`.

    parse_filters(["source_document=guide.md", "page_number>=2", "date_created>=2024-01-01"])

Accepted forms (several filters must all hold):

    key=value          equals: a keyword; an integer literal stays an integer; true/false a bool
    key="a,b"          equals the quoted text as a keyword (no splitting, no conversion)
    key=a,b,c          equals any of the values (all integers, or else all keywords)
    key!=value         does not equal (any of, with commas)
    key>=N key<=N key>N key<N
                       numeric range
    key>=2024-01-01    date range on RFC 3339 UTC datetimes: a comparison with an ISO date
                       or datetime, or any filter on a date field (date_created)

Quote a value to keep it text (`zip="0123"`). A bare date compares whole days: `>2024-01-31`
starts on Feb 1, `<=2024-01-31` takes all of Jan 31 and `date_created=2024-01-31` means that
day. A datetime without a zone is UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence

from ragline.core.filters import Condition, DateRange, Filter, Match, MatchAny, Range

ACCEPTED_FORMS = (
    "key=value, key=a,b (any of), key!=value, key>=N, key<=N, key>N, key<N (numbers), "
    "key>=2024-01-01 (ISO dates and datetimes)"
)
DATE_KEYS = frozenset({"date_created"})

# a key is a payload path: dot-separated names, no empty part ("a..b" and "a." are not paths)
_EXPR = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*)\s*(>=|<=|!=|=|>|<)\s*(.*?)\s*$",
    re.DOTALL,
)
_INT = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ].*)?$")
_QUOTED = re.compile(r"""^(["'])(.*)\1$""", re.DOTALL)


def parse_filters(exprs: Sequence[str], date_keys: Collection[str] = DATE_KEYS) -> Filter | None:
    """All of `exprs` as one `Filter` (None when there are none); ValueError on bad syntax."""
    must: list[Condition] = []
    must_not: list[Condition] = []
    for expr in exprs:
        negate, condition = parse_condition(expr, date_keys)
        (must_not if negate else must).append(condition)
    if not must and not must_not:
        return None
    return Filter(must=tuple(must), must_not=tuple(must_not))


def parse_condition(expr: str, date_keys: Collection[str] = DATE_KEYS) -> tuple[bool, Condition]:
    """One `key<op>value` as (negated, condition); ValueError naming the accepted forms."""
    found = _EXPR.match(expr)
    if found is None:
        raise _bad(expr, "expected key, an operator and a value")
    key, op, raw = found.groups()
    if not raw:
        raise _bad(expr, f"no value after {op!r}")
    quoted = _QUOTED.match(raw)
    if quoted and op in ("=", "!="):
        return op == "!=", Match(key, quoted.group(2))
    if raw[0] in "=<>!":
        raise _bad(expr, f"{op + raw[0]!r} is not an operator")
    if key in date_keys:
        return op == "!=", _date_condition(expr, key, op, raw)
    if op in ("=", "!="):
        return op == "!=", _equals(expr, key, raw)
    if _DATE_LIKE.match(raw):
        return False, _date_condition(expr, key, op, raw)
    if not _NUMBER.match(raw):
        raise _bad(expr, f"{op} compares numbers or ISO dates; {raw!r} is neither")
    value = float(raw)
    bounds = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}
    return False, Range(key, **{bounds[op]: value})


def _equals(expr: str, key: str, raw: str) -> Match | MatchAny:
    if "," not in raw:
        return Match(key, _scalar(raw))
    parts = [p.strip() for p in raw.split(",")]
    if not all(parts):
        raise _bad(expr, "an empty value in a comma list")
    if all(_INT.match(p) for p in parts):
        return MatchAny(key, tuple(int(p) for p in parts))
    return MatchAny(key, tuple(parts))


def _scalar(raw: str) -> str | int | bool:
    if _INT.match(raw):
        return int(raw)
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def _date_condition(expr: str, key: str, op: str, raw: str) -> DateRange:
    if "," in raw:
        raise _bad(expr, "dates take one value, not a comma list")
    start = _parse_moment(expr, key, raw)
    if _DATE_ONLY.match(raw):
        # A bare date stands for the whole day [start, end).
        end = _rfc3339(start + dt.timedelta(days=1))
        day = _rfc3339(start)
        by_op = {
            "=": DateRange(key, gte=day, lt=end),
            "!=": DateRange(key, gte=day, lt=end),
            ">=": DateRange(key, gte=day),
            ">": DateRange(key, gte=end),
            "<=": DateRange(key, lt=end),
            "<": DateRange(key, lt=day),
        }
        return by_op[op]
    moment = _rfc3339(start)
    if op in ("=", "!="):
        return DateRange(key, gte=moment, lte=moment)
    bounds = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}
    return DateRange(key, **{bounds[op]: moment})


def _parse_moment(expr: str, key: str, raw: str) -> dt.datetime:
    try:
        if not _DATE_LIKE.match(raw):
            raise ValueError(raw)
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(
            expr, f"{key} takes an ISO date or datetime such as 2024-01-31 or 2024-01-31T12:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def _bad(expr: str, why: str) -> ValueError:
    return ValueError(f"bad filter {expr!r}: {why}. Accepted forms: {ACCEPTED_FORMS}")
