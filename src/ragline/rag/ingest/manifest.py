"""The ingest manifest: which file (by content hash) is fully stored in which collection.

    manifest.entries()        # {source_path: Entry}: files whose chunks are all stored
    manifest.bad_files()      # {source_path: BadFile}: files skipped for their content

A row is written only after every chunk of the file is upserted and its stale chunks are
deleted, so a file listed here is complete; anything else is (re)done by the next run. A file
skipped for its content is remembered with its hash, so an unchanged rerun skips it again
without loading it (or the embedding model); changing its bytes or the settings retries it.
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
_BAD_SCHEMA = """
CREATE TABLE IF NOT EXISTS bad_files (
    store TEXT NOT NULL,
    collection TEXT NOT NULL,
    source_path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    reason TEXT NOT NULL,
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


@dataclass(frozen=True, slots=True)
class BadFile:
    """A file skipped for its content: BadFile("/abs/a.pdf", "9f2c..", "1b7e..", "corrupt PDF")."""

    source_path: str
    content_hash: str
    config_hash: str
    reason: str


class Manifest:
    """SQLite manifest of one collection in one store (`store` names the engine location).

    manifest = Manifest(Path(".ragline/manifest.sqlite"), "edge:/abs/.ragline/qdrant", "docs")
    """

    def __init__(self, path: Path, store: str, collection: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.execute(_BAD_SCHEMA)
        self._key = (store, collection)

    def entries(self) -> dict[str, Entry]:
        rows = self._db.execute(
            "SELECT source_path, content_hash, config_hash, chunks FROM files "
            "WHERE store = ? AND collection = ?",
            self._key,
        )
        return {row[0]: Entry(*row) for row in rows}

    def record(self, entries: Iterable[Entry]) -> None:
        """Mark these files complete (and no longer bad)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        rows = [
            (*self._key, e.source_path, e.content_hash, e.config_hash, e.chunks, now)
            for e in entries
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.executemany(
                "DELETE FROM bad_files WHERE store = ? AND collection = ? AND source_path = ?",
                [row[:3] for row in rows],
            )

    def bad_files(self) -> dict[str, BadFile]:
        rows = self._db.execute(
            "SELECT source_path, content_hash, config_hash, reason FROM bad_files "
            "WHERE store = ? AND collection = ?",
            self._key,
        )
        return {row[0]: BadFile(*row) for row in rows}

    def record_bad(self, files: Iterable[BadFile]) -> None:
        """Remember files skipped for their content (a stored older version keeps its row)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO bad_files VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (*self._key, f.source_path, f.content_hash, f.config_hash, f.reason)
                    for f in files
                ],
            )

    def forget(self, source_paths: Iterable[str] | None = None, *, bad: bool = False) -> None:
        """Drop rows for these files, or for the whole collection when None; bad-file rows go
        only with the whole collection or with `bad=True`."""
        with self._db:
            if source_paths is None:
                for table in ("files", "bad_files"):
                    self._db.execute(
                        f"DELETE FROM {table} WHERE store = ? AND collection = ?", self._key
                    )
                return
            paths = [(*self._key, p) for p in source_paths]
            for table in ("files", "bad_files") if bad else ("files",):
                self._db.executemany(
                    f"DELETE FROM {table} WHERE store = ? AND collection = ? AND source_path = ?",
                    paths,
                )

    def close(self) -> None:
        self._db.close()
