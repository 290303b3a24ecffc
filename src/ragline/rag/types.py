"""Typed values of the ingest pipeline: documents, sections, chunks.

The values every layer shares (payloads, sparse vectors, points, hits) live in
`ragline.core.types` and `ragline.core.index`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ragline.core.types import JsonValue, Payload

# Payload keys ragline writes itself; user metadata may not overwrite them.
RESERVED_KEYS = frozenset(
    {
        "text",
        "source_document",
        "source_path",
        "chunk_index",
        "page_number",
        "section_heading",
        "date_created",
    }
)


@dataclass(frozen=True, slots=True)
class Section:
    """A stretch of a document that shares one page number and one heading."""

    text: str
    page_number: int | None = None
    section_heading: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """One loaded document, before chunking.

    `source_document` is the name shown in citations (a path relative to the ingest root,
    or a record id for jsonl); `source_path` is the absolute path of the file it came from.
    """

    source_document: str
    source_path: str
    sections: tuple[Section, ...]
    date_created: str
    metadata: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document, the unit that is embedded, stored and retrieved."""

    id: str
    text: str
    source_document: str
    source_path: str
    chunk_index: int
    date_created: str
    page_number: int | None = None
    section_heading: str | None = None
    metadata: Mapping[str, JsonValue] = field(default_factory=dict)

    def payload(self) -> Payload:
        """The payload stored with the point: ragline's fields, then user fields (none clash)."""
        payload: Payload = {k: v for k, v in self.metadata.items() if k not in RESERVED_KEYS}
        payload.update(
            text=self.text,
            source_document=self.source_document,
            source_path=self.source_path,
            chunk_index=self.chunk_index,
            date_created=self.date_created,
        )
        if self.page_number is not None:
            payload["page_number"] = self.page_number
        if self.section_heading is not None:
            payload["section_heading"] = self.section_heading
        return payload
