"""`ConversationStore` in one SQLite file: the embedded default (`<data_dir>/conversations.db`).

    store = SqliteConversations(Path(".ragline/conversations.db"), Limits(ttl_s=86_400))
    store.append("trip-42", "alice", [Message("user", "Hi")])

One row per conversation (owner and id as the key, the messages as JSON, the expiry time).
A write takes SQLite's write lock before reading (`BEGIN IMMEDIATE`), so appends from the
threads of this process and from other workers on the same file never lose each other's
messages. Expired rows load as nothing; they are deleted on open and every `PRUNE_EVERY`
writes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ragline.core.chat import Message
from ragline.serving.conversations.history import (
    DEFAULT_LIMITS,
    Limits,
    appended,
    decode,
    encode,
)
from ragline.serving.conversations.protocol import StoreUnavailable, check_id, check_owner

DEFAULT_TABLE = "ragline_conversations"


class SqliteConversations:
    """Conversations in a SQLite file (WAL), shared by threads and by processes on one host.

    store = SqliteConversations(tmp_path / "conversations.db", Limits(), clock=lambda: 1e9)
    """

    PRUNE_EVERY = 256

    def __init__(
        self,
        path: Path,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
        table: str = DEFAULT_TABLE,
    ) -> None:
        if not table.isidentifier():
            raise ValueError(f"table {table!r} must be a plain identifier")
        self.path = Path(path)
        self.limits = limits
        self._clock = clock
        self._table = table
        self._lock = threading.Lock()
        self._writes = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")  # other workers write the same file
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (owner TEXT NOT NULL, id TEXT NOT NULL, "
                "messages TEXT NOT NULL, updated REAL NOT NULL, expires REAL NOT NULL, "
                "PRIMARY KEY (owner, id)) WITHOUT ROWID"
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(
                f"cannot open the conversation file {self.path}: {exc}; check that the folder "
                "is writable, or set conversations.url to another file"
            ) from None
        self._prune()

    def load(self, conversation_id: str, owner: str) -> tuple[Message, ...]:
        key = (check_owner(owner), check_id(conversation_id))
        with self._lock:
            row = self._db.execute(
                f"SELECT messages FROM {self._table} WHERE owner = ? AND id = ? AND expires > ?",
                (*key, self._clock()),
            ).fetchone()
        return () if row is None else decode(row[0], conversation_id)

    def append(
        self, conversation_id: str, owner: str, messages: Sequence[Message]
    ) -> tuple[Message, ...]:
        key = (check_owner(owner), check_id(conversation_id))
        with self._lock, self._transaction():
            now = self._clock()
            row = self._db.execute(
                f"SELECT messages FROM {self._table} WHERE owner = ? AND id = ? AND expires > ?",
                (*key, now),
            ).fetchone()
            stored = () if row is None else decode(row[0], conversation_id)
            kept = appended(stored, messages, self.limits)
            self._db.execute(
                f"INSERT OR REPLACE INTO {self._table} (owner, id, messages, updated, expires) "
                "VALUES (?, ?, ?, ?, ?)",
                (*key, encode(kept), now, now + self.limits.ttl_s),
            )
            self._writes += 1
            if self._writes % self.PRUNE_EVERY == 0:
                self._db.execute(f"DELETE FROM {self._table} WHERE expires <= ?", (now,))
        return kept

    def delete(self, conversation_id: str, owner: str) -> bool:
        key = (check_owner(owner), check_id(conversation_id))
        with self._lock:
            cursor = self._db.execute(
                f"DELETE FROM {self._table} WHERE owner = ? AND id = ? AND expires > ?",
                (*key, self._clock()),
            )
        return cursor.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> _Immediate:
        return _Immediate(self._db)

    def _prune(self) -> None:
        with self._lock:
            self._db.execute(f"DELETE FROM {self._table} WHERE expires <= ?", (self._clock(),))


class _Immediate:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an error): the write lock before the read."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # still locked after busy_timeout
            raise StoreUnavailable(
                f"the conversation file is busy ({exc}); retry, or move conversations to "
                "Redis or PostgreSQL (conversations.backend) for many concurrent writers"
            ) from None

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        self._db.execute("COMMIT" if error is None else "ROLLBACK")
