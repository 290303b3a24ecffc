"""CLI filter expressions parsed into the typed `Filter`."""

from __future__ import annotations

import pytest

from ragline.core.filters import Condition, DateRange, Filter, Match, MatchAny, Range
from ragline.rag.filter_parse import ACCEPTED_FORMS, parse_condition, parse_filters

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("expr", "condition"),
    [
        ("source_document=guide.md", Match("source_document", "guide.md")),
        ("page_number=3", Match("page_number", 3)),
        ("offset=-2", Match("offset", -2)),
        ("draft=true", Match("draft", True)),
        ("draft=False", Match("draft", False)),
        ("version=1.5", Match("version", "1.5")),
        ("zip='0123'", Match("zip", "0123")),
        ('title="a, b"', Match("title", "a, b")),
        (" lang = en ", Match("lang", "en")),
        ("meta.lang=en", Match("meta.lang", "en")),
        ("tag=a,b", MatchAny("tag", ("a", "b"))),
        ("tag=a, b ,c", MatchAny("tag", ("a", "b", "c"))),
        ("page_number=1,2", MatchAny("page_number", (1, 2))),
        ("code=1,x", MatchAny("code", ("1", "x"))),
        ("page_number>=2", Range("page_number", gte=2.0)),
        ("page_number<=2", Range("page_number", lte=2.0)),
        ("page_number>2", Range("page_number", gt=2.0)),
        ("score<0.5", Range("score", lt=0.5)),
        ("score>-1e3", Range("score", gt=-1000.0)),
    ],
)
def test_keyword_and_numeric_forms(expr: str, condition: Condition) -> None:
    assert parse_condition(expr) == (False, condition)


@pytest.mark.parametrize(
    ("expr", "condition"),
    [
        ("date_created>=2024-01-01", DateRange("date_created", gte="2024-01-01T00:00:00Z")),
        ("date_created<2024-01-01", DateRange("date_created", lt="2024-01-01T00:00:00Z")),
        # a bare date is the whole day: after it starts the next day, up to it includes it
        ("date_created>2024-01-31", DateRange("date_created", gte="2024-02-01T00:00:00Z")),
        ("date_created<=2024-12-31", DateRange("date_created", lt="2025-01-01T00:00:00Z")),
        (
            "date_created=2024-02-29",
            DateRange("date_created", gte="2024-02-29T00:00:00Z", lt="2024-03-01T00:00:00Z"),
        ),
        ("date_created>2024-01-01T10:30", DateRange("date_created", gt="2024-01-01T10:30:00Z")),
        (
            "date_created<=2024-01-01T10:30:00+02:00",
            DateRange("date_created", lte="2024-01-01T08:30:00Z"),
        ),
        (
            "date_created>=2024-01-01T00:00:00Z",
            DateRange("date_created", gte="2024-01-01T00:00:00Z"),
        ),
        (
            "date_created>=2024-01-01T00:00:00.250Z",
            DateRange("date_created", gte="2024-01-01T00:00:00.250000Z"),
        ),
        # any key compared with an ISO date is a date range
        ("published>=2023-06-01", DateRange("published", gte="2023-06-01T00:00:00Z")),
    ],
)
def test_date_forms_become_utc_rfc3339_ranges(expr: str, condition: Condition) -> None:
    assert parse_condition(expr) == (False, condition)


def test_equality_on_a_non_date_key_keeps_a_date_as_text() -> None:
    assert parse_condition("release=2024-01-01") == (False, Match("release", "2024-01-01"))


def test_not_equal_goes_to_must_not() -> None:
    assert parse_condition("lang!=de") == (True, Match("lang", "de"))
    assert parse_condition("lang!=de,fr") == (True, MatchAny("lang", ("de", "fr")))


def test_several_filters_combine_with_and() -> None:
    parsed = parse_filters(["source_document=a.md", "page_number>=2", "lang!=de"])
    assert parsed == Filter(
        must=(Match("source_document", "a.md"), Range("page_number", gte=2.0)),
        must_not=(Match("lang", "de"),),
    )
    assert parse_filters([]) is None


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("page_number", "expected key, an operator and a value"),
        ("=3", "expected key"),
        ("page_number>=", "no value"),
        ("page_number>=two", "compares numbers or ISO dates"),
        ("page_number==2", "is not an operator"),
        ("page_number=>2", "is not an operator"),
        ("tag=a,,b", "empty value"),
        ("date_created>=yesterday", "ISO date or datetime"),
        ("date_created>=2024-13-01", "ISO date or datetime"),
        ("date_created=2024-01-01,2024-02-01", "one value"),
        ("1key=3", "expected key"),
    ],
)
def test_bad_syntax_names_the_accepted_forms(expr: str, why: str) -> None:
    with pytest.raises(ValueError, match="Accepted forms") as info:
        parse_filters([expr])
    assert why in str(info.value)
    assert ACCEPTED_FORMS in str(info.value)


@pytest.mark.parametrize("expr", ["a..b=1", "a.=2", "meta.=x", ".a=1"])
def test_a_key_that_is_no_payload_path_is_refused(expr: str) -> None:
    """Qdrant refuses such keys ("invalid JSON path"): a 500 once, now a clear refusal."""
    with pytest.raises(ValueError, match="expected key, an operator and a value"):
        parse_filters([expr])


def test_dotted_and_dashed_paths_are_keys() -> None:
    assert parse_filters(["meta.author-name.first=Ada"]) == Filter(
        must=(Match("meta.author-name.first", "Ada"),)
    )
