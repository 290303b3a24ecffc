"""Filters over chunk payloads (the filter model itself is `ragline.core.filters`).

store.delete(source_filter("guide.md"))
"""

from __future__ import annotations

from ragline.core.filters import Filter, Match


def source_filter(source: str) -> Filter:
    """Points of one source: its citation name or the absolute path of its file."""
    return Filter(should=(Match("source_document", source), Match("source_path", source)))
