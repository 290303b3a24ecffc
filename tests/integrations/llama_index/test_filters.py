"""LlamaIndex `MetadataFilters` as ragline filter expressions, checked by ragline's parser."""

from __future__ import annotations

import pytest
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from ragline.core.filters import Filter, Match, MatchAny, Range
from ragline.integrations.llama_index.filters import to_expressions
from ragline.rag.filter_parse import parse_filters

pytestmark = pytest.mark.unit


def parsed(*filters: MetadataFilter) -> Filter | None:
    return parse_filters(to_expressions(MetadataFilters(filters=list(filters))))


def test_supported_operators_parse_to_ragline_conditions() -> None:
    where = parsed(
        MetadataFilter(key="source_document", value="a,b.md"),
        MetadataFilter(key="zip", value="0123"),
        MetadataFilter(key="page_number", value=2, operator=FilterOperator.GTE),
        MetadataFilter(key="score", value=0.5, operator=FilterOperator.LT),
        MetadataFilter(key="topic", value=["food", "science"], operator=FilterOperator.IN),
        MetadataFilter(key="year", value=3, operator=FilterOperator.EQ),
        MetadataFilter(key="topic", value="food", operator=FilterOperator.NE),
    )
    assert where is not None
    assert Match("source_document", "a,b.md") in where.must  # quoted: no split at the comma
    assert Match("zip", "0123") in where.must and Match("year", 3) in where.must
    assert Range("page_number", gte=2) in where.must and Range("score", lt=0.5) in where.must
    assert MatchAny("topic", ("food", "science")) in where.must
    assert Match("topic", "food") in where.must_not


def test_none_is_no_filter() -> None:
    assert to_expressions(None) == []


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            MetadataFilters(
                filters=[MetadataFilter(key="a", value="x"), MetadataFilter(key="b", value="y")],
                condition=FilterCondition.OR,
            ),
            "ANDed",
        ),
        (
            MetadataFilters(
                filters=[MetadataFilters(filters=[MetadataFilter(key="a", value="x")])]
            ),
            "nested",
        ),
        (
            MetadataFilters(
                filters=[MetadataFilter(key="t", value="x", operator=FilterOperator.TEXT_MATCH)]
            ),
            "not supported. Supported: ==",
        ),
        (
            MetadataFilters(
                filters=[MetadataFilter(key="t", value=["a,b"], operator=FilterOperator.IN)]
            ),
            "comma or a quote",
        ),
    ],
)
def test_unsupported_filters_say_what_is_supported(filters: MetadataFilters, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_expressions(filters)
