"""Helpers shared by the loaders: strict text decoding and date normalisation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ragline.core.types import JsonValue
from ragline.rag.errors import IngestError

DATE_KEYS = ("date_created", "date", "created", "created_at")


def decode_text(data: bytes) -> str:
    """Decode UTF-8 text, refusing binary files and empty ones with a fixable message."""
    if b"\x00" in data[:8192]:
        raise IngestError("binary file (contains NUL bytes); only md/txt/html/pdf/jsonl are read")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"invalid UTF-8 at byte {exc.start}; re-save the file as UTF-8") from None
    if not text.strip():
        raise IngestError("empty file (no text to ingest); add text or list it in ingest.exclude")
    return text


def iso_utc(moment: dt.datetime) -> str:
    """RFC 3339 in UTC, the form Qdrant's datetime index and range filters accept."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: object) -> str | None:
    """A date from metadata (datetime, date, ISO string, epoch seconds) as RFC 3339, or None."""
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, dt.date):
        return iso_utc(dt.datetime(value.year, value.month, value.day))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return iso_utc(dt.datetime.fromtimestamp(value, dt.UTC))
    if isinstance(value, str):
        try:
            return iso_utc(dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def date_from(metadata: Mapping[str, object], fallback_epoch: float) -> str:
    """The first parseable date among the usual metadata keys, else the file's mtime."""
    for key in DATE_KEYS:
        if key in metadata:
            parsed = parse_date(metadata[key])
            if parsed is not None:
                return parsed
    return iso_utc(dt.datetime.fromtimestamp(fallback_epoch, dt.UTC))


def to_json(value: object) -> JsonValue:
    """Metadata values as JSON (dates become RFC 3339 strings, unknown objects strings)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dt.date):
        return parse_date(value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    return str(value)
