"""LlamaIndex `MetadataFilters` as ragline's filter expressions (the CLI's --filter forms).

    to_expressions(MetadataFilters(filters=[
        MetadataFilter(key="source_document", value="guide.md"),
        MetadataFilter(key="page_number", value=2, operator=FilterOperator.GTE),
    ]))
    # ['source_document="guide.md"', "page_number>=2"]

AND of equality, inequality, range and (not) in-list filters; other operators, OR and nested
filters are refused with what is supported.
"""

from __future__ import annotations

import json

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

SUPPORTED = "==, !=, >, >=, <, <=, in, nin, ANDed (no OR, no nesting)"
_RANGES = {
    FilterOperator.GT: ">",
    FilterOperator.GTE: ">=",
    FilterOperator.LT: "<",
    FilterOperator.LTE: "<=",
}


def to_expressions(filters: MetadataFilters | None) -> list[str]:
    """ragline filter expressions for `filters` (None: none); ValueError names what is not
    supported."""
    if filters is None:
        return []
    if filters.condition not in (None, FilterCondition.AND) and len(filters.filters) > 1:
        raise ValueError(
            f"ragline filters are ANDed; got {filters.condition}. Supported: {SUPPORTED}"
        )
    expressions = []
    for one in filters.filters:
        if not isinstance(one, MetadataFilter):
            raise ValueError(f"nested MetadataFilters are not supported. Supported: {SUPPORTED}")
        expressions.append(_expression(one))
    return expressions


def _expression(one: MetadataFilter) -> str:
    key, value, operator = one.key, one.value, FilterOperator(one.operator)
    if operator in (FilterOperator.EQ, FilterOperator.NE):
        sign = "=" if operator == FilterOperator.EQ else "!="
        return f"{key}{sign}{_literal(value)}"
    if operator in _RANGES and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{key}{_RANGES[operator]}{value}"
    if operator in (FilterOperator.IN, FilterOperator.NIN) and isinstance(value, list) and value:
        if any("," in str(v) or '"' in str(v) for v in value):
            raise ValueError(f"{key}: an in-list value may not hold a comma or a quote: {value}")
        sign = "=" if operator == FilterOperator.IN else "!="
        return f"{key}{sign}{','.join(str(v) for v in value)}"
    raise ValueError(
        f"filter {key} {operator.value} {value!r} is not supported. Supported: {SUPPORTED}"
    )


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # quoted: stays text, commas and digits included
    raise ValueError(f"an equality filter takes a string, an integer or a bool; got {value!r}")
