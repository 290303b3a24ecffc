"""The ingest manifest: which file (by content hash) is fully stored in which collection.

A row is written only after every chunk of the file is upserted and its stale chunks are
deleted, so a file listed here is complete; anything else is (re)done by the next run.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    store TEXT NOT NULL,
    collection TEXT NOT NULL,
    source_path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    chunks INTEGER NOT NULL,
    ingested_at TEXT NOT NULL,
    PRIMARY KEY (store, collection, source_path)
)
"""


@dataclass(frozen=True, slots=True)
class Entry:
    """What the manifest knows of one stored file."""

    source_path: str
    content_hash: str
    config_hash: str
    chunks: int


class Manifest:
    """SQLite manifest of one collection in one store (`store` names the engine location).

    manifest = Manifest(Path(".ragline/manifest.sqlite"), "edge:/abs/.ragline/qdrant", "docs")
    """

    def __init__(self, path: Path, store: str, collection: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._key = (store, collection)

    def entries(self) -> dict[str, Entry]:
        rows = self._db.execute(
            "SELECT source_path, content_hash, config_hash, chunks FROM files "
            "WHERE store = ? AND collection = ?",
            self._key,
        )
        return {row[0]: Entry(*row) for row in rows}

    def record(self, entries: Iterable[Entry]) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (*self._key, e.source_path, e.content_hash, e.config_hash, e.chunks, now)
                    for e in entries
                ],
            )

    def forget(self, source_paths: Iterable[str] | None = None) -> None:
        """Drop rows for these files, or for the whole collection when None."""
        with self._db:
            if source_paths is None:
                self._db.execute("DELETE FROM files WHERE store = ? AND collection = ?", self._key)
            else:
                self._db.executemany(
                    "DELETE FROM files WHERE store = ? AND collection = ? AND source_path = ?",
                    [(*self._key, p) for p in source_paths],
                )

    def close(self) -> None:
        self._db.close()
