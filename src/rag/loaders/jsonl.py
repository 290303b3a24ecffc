"""JSON Lines: one document per line; a text field, the other fields become metadata."""

from __future__ import annotations

import json

from rag.errors import IngestError
from rag.loaders.common import to_json
from rag.types import JsonValue, Section

ID_FIELDS = ("_id", "id", "doc_id")
TITLE_FIELDS = ("title", "heading")


def load_jsonl(
    text: str, text_field: str
) -> list[tuple[str | None, Section, dict[str, JsonValue]]]:
    """(record id, section, metadata) per record; a bad line rejects the file with its number."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
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
        records.append((record_id, Section(text=text_with_title, section_heading=title), metadata))
    if not records:
        raise IngestError(f"no record with text in field {text_field!r}")
    return records
