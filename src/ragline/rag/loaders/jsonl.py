"""JSON Lines: one document per line; a text field, the other fields become metadata."""

from __future__ import annotations

import json
from typing import NamedTuple

from ragline.core.types import JsonValue
from ragline.rag.errors import IngestError
from ragline.rag.loaders.common import to_json
from ragline.rag.types import Section

ID_FIELDS = ("_id", "id", "doc_id")
TITLE_FIELDS = ("title", "heading")


class Record(NamedTuple):
    """One JSON Lines record: its line number (from 1), id if it has one, text and metadata."""

    line: int
    record_id: str | None
    section: Section
    metadata: dict[str, JsonValue]


def load_jsonl(text: str, text_field: str) -> list[Record]:
    """The records with text; a bad line rejects the file with its number."""
    records = []
    # Split on "\n" only: str.splitlines() also splits at U+2028, U+0085 and friends, which
    # JSON allows unescaped inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(
                f"line {number}: invalid JSON ({exc.msg}); fix or remove it"
            ) from None
        if not isinstance(record, dict):
            raise IngestError(f"line {number}: expected a JSON object, got {type(record).__name__}")
        body = record.get(text_field)
        if not isinstance(body, str):
            raise IngestError(
                f"line {number}: no string field {text_field!r}; set ingest.jsonl_text_field "
                f"to the field holding the text (fields: {', '.join(sorted(record)) or 'none'})"
            )
        metadata = {str(k): to_json(v) for k, v in record.items() if k != text_field}
        record_id = next((str(record[f]) for f in ID_FIELDS if record.get(f) is not None), None)
        title = next((str(record[f]) for f in TITLE_FIELDS if isinstance(record.get(f), str)), None)
        if not body.strip():
            continue
        text_with_title = f"{title}\n{body}" if title and title.strip() else body
        section = Section(text=text_with_title, section_heading=title)
        records.append(Record(number, record_id, section, metadata))
    if not records:
        raise IngestError(f"no record with text in field {text_field!r}")
    return records
