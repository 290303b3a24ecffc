"""`ConversationStore` in PostgreSQL (psycopg 3), for several replicas sharing one database.

    store = PostgresConversations("postgresql://chat@db/ragline", Limits(ttl_s=86_400))

One row per conversation, as in SQLite (`ragline.serving.conversations.sqlite_store`). An
append runs in one transaction that locks the row (`SELECT ... FOR UPDATE`, after an `INSERT
... ON CONFLICT DO NOTHING` that makes sure there is a row to lock), so concurrent appends
from any replica are applied one after the other. The connection is made on first use (a
database that is down at start-up does not stop the server) and again after it breaks; the
table is created if missing. Expired rows load as nothing and are deleted every
`PRUNE_EVERY` writes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from ragline.core.chat import Message
from ragline.core.errors import redact
from ragline.serving.conversations.history import (
    DEFAULT_LIMITS,
    Limits,
    appended,
    decode,
    encode,
)
from ragline.serving.conversations.protocol import StoreUnavailable, check_id, check_owner

if TYPE_CHECKING:
    import psycopg

DEFAULT_TABLE = "ragline_conversations"
T = TypeVar("T")


class PostgresConversations:
    """Conversations in a PostgreSQL table (created if missing); one connection, one lock.

    store = PostgresConversations(url, Limits(), table="chat_conversations")
    """

    PRUNE_EVERY = 256

    def __init__(
        self,
        url: str,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
        table: str = DEFAULT_TABLE,
        connect_timeout_s: int = 5,
    ) -> None:
        if not table.isidentifier():
            raise ValueError(f"table {table!r} must be a plain identifier")
        self.limits = limits
        self.table = table
        self._url = url
        self._clock = clock
        self._timeout = connect_timeout_s
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._writes = 0

    def load(self, conversation_id: str, owner: str) -> tuple[Message, ...]:
        key = (check_owner(owner), check_id(conversation_id))

        def read(conn: psycopg.Connection[tuple[object, ...]]) -> object:
            row = conn.execute(
                self._sql("SELECT messages FROM {} WHERE owner = %s AND id = %s AND expires > %s"),
                (*key, self._clock()),
            ).fetchone()
            return None if row is None else row[0]

        raw = self._run(read)
        return () if raw is None else decode(str(raw), conversation_id)

    def append(
        self, conversation_id: str, owner: str, messages: Sequence[Message]
    ) -> tuple[Message, ...]:
        key = (check_owner(owner), check_id(conversation_id))

        def write(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[Message, ...]:
            now = self._clock()
            conn.execute(
                self._sql(
                    "INSERT INTO {} (owner, id, messages, updated, expires) "
                    "VALUES (%s, %s, '[]', 0, 0) ON CONFLICT DO NOTHING"
                ),
                key,
            )
            row = conn.execute(
                self._sql(
                    "SELECT messages, expires FROM {} WHERE owner = %s AND id = %s FOR UPDATE"
                ),
                key,
            ).fetchone()
            live = row is not None and float(str(row[1])) > now
            stored = decode(str(row[0]), conversation_id) if live and row is not None else ()
            kept = appended(stored, messages, self.limits)
            conn.execute(
                self._sql(
                    "UPDATE {} SET messages = %s, updated = %s, expires = %s "
                    "WHERE owner = %s AND id = %s"
                ),
                (encode(kept), now, now + self.limits.ttl_s, *key),
            )
            self._writes += 1
            if self._writes % self.PRUNE_EVERY == 0:
                conn.execute(self._sql("DELETE FROM {} WHERE expires <= %s"), (now,))
            return kept

        return self._run(write)

    def delete(self, conversation_id: str, owner: str) -> bool:
        key = (check_owner(owner), check_id(conversation_id))

        def remove(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
            cursor = conn.execute(
                self._sql("DELETE FROM {} WHERE owner = %s AND id = %s AND expires > %s"),
                (*key, self._clock()),
            )
            return cursor.rowcount > 0

        return self._run(remove)

    def drop(self) -> None:
        """Drop the table (tests; an operator resetting every conversation)."""
        self._run(lambda conn: conn.execute(self._sql("DROP TABLE IF EXISTS {}")))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _sql(self, template: str) -> psycopg.sql.Composed:
        from psycopg import sql

        return sql.SQL(template).format(sql.Identifier(self.table))

    def _run(self, work: Callable[[psycopg.Connection[tuple[object, ...]]], T]) -> T:
        """`work` in one transaction on the (re)opened connection; StoreUnavailable when the
        database cannot be reached."""
        import psycopg

        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction():
                    return work(conn)
            except psycopg.OperationalError as exc:
                if self._conn is not None and (self._conn.closed or self._conn.broken):
                    self._conn = None
                raise StoreUnavailable(
                    redact(
                        f"the conversation store (PostgreSQL at {self._url}) is unreachable: "
                        f"{str(exc).strip()}; check conversations.url and the database"
                    )
                ) from None

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        import psycopg

        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        conn = psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout)
        # UniqueViolation: another replica created the table at the same moment.
        with contextlib.suppress(psycopg.errors.UniqueViolation):
            conn.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {} (owner TEXT NOT NULL, id TEXT NOT NULL, "
                    "messages TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL, "
                    "expires DOUBLE PRECISION NOT NULL, PRIMARY KEY (owner, id))"
                )
            )
        self._conn = conn
        return conn
