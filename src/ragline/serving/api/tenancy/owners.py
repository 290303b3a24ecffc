"""Who owns each collection: a small SQLite table in data_dir, shared by the server's workers.

    owners = CollectionOwners(settings.data_dir / OWNERS_FILE)
    owners.claim("alice-docs", "alice")   # "alice": the first claim wins, whoever asks later
    owners.claim("alice-docs", "bob")     # "alice" still
    owners.owner("alice-docs")            # "alice"; None for a collection no tenant claimed

A tenant key claims a collection when it first submits an ingest job into it. Collections made
by `ragline ingest`, an admin key or a keyless server have no owner: admins read them, and
tenants read them only when their key lists them in `collections`. The table is read on each
request (a file open, no cache), so every worker sees a claim as soon as it is written; the
file is made by the first claim, so a server without tenant keys never writes it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

OWNERS_FILE = "collection_owners.sqlite3"
_SCHEMA = "CREATE TABLE IF NOT EXISTS owners (collection TEXT PRIMARY KEY, owner TEXT NOT NULL)"


class CollectionOwners:
    """The collection -> owner table (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def owner(self, collection: str) -> str | None:
        """The tenant owning `collection`; None when no tenant claimed it."""
        return self.all().get(collection)

    def all(self) -> dict[str, str]:
        """Every claimed collection and its owner ({} before the first claim)."""
        if not self.path.exists():
            return {}
        with closing(self._connect()) as db:
            return dict(db.execute("SELECT collection, owner FROM owners").fetchall())

    def claim(self, collection: str, owner: str) -> str:
        """Make `owner` the owner of `collection` unless someone is already; returns the
        owner now recorded. Atomic across threads and processes (one INSERT OR IGNORE)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR IGNORE INTO owners VALUES (?, ?)", (collection, owner))
            row = db.execute("SELECT owner FROM owners WHERE collection = ?", (collection,))
            return str(row.fetchone()[0])

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0)
        db.execute(_SCHEMA)
        return db
