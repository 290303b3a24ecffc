"""One SQL table written in buffered batches and read in SQL: the storage of the cost ledger
and of the request log.

    table = BufferedTable(TableSpec("sqlite:///.ragline/x.db", sa_table, 500, 5.0,
                                    "the cost ledger", "ledger.url"), LedgerError)
    table.add({"ts": 1.0, ...})      # appended; a full or old buffer is written at once
    table.rows(sa.select(...))       # flushes first, so a reader sees every added row
    table.close()                    # flush, then release the connections

There is no timer thread: an old buffer is written by the next `add`, and by `flush` (readers
and `close` call it). A failed write keeps its rows at the head of the buffer, so a later
flush can still store them; every database failure is raised as the owner's error type with
a message that names the URL (password hidden) and the setting to fix.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa

from mltrack.errors import MltrackError


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Where the table lives, how writes are batched, and how errors name it."""

    url: str
    table: sa.Table
    batch_size: int
    flush_interval_s: float
    what: str
    setting: str


class BufferedTable:
    """Thread-safe buffered `INSERT`s into one table (created when missing) and SQL reads;
    the base of `mltrack.ledger.Ledger` and `mltrack.request_log.RequestLog`.

    Example:
        >>> t = BufferedTable(TableSpec("sqlite://", table, 100, 2.0, "the log", "log.url"),
        ...                   MltrackError)  # doctest: +SKIP
        >>> t.add({"ts": 0.0}); t.flush()  # doctest: +SKIP
        1
    """

    def __init__(self, spec: TableSpec, error: type[MltrackError]) -> None:
        self.spec = spec
        self.url = spec.url
        if spec.url.startswith("sqlite:///"):
            Path(spec.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(spec.url)
        self.table = spec.table
        self._error_type = error
        self._lock = threading.Lock()  # guards the buffer
        self._write = threading.Lock()  # one flush at a time, in recording order
        self._buffer: list[dict[str, object]] = []
        self._oldest = 0.0
        self._ready = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, row: dict[str, object]) -> None:
        """Buffer one row; write the batch when it is full or its oldest row is old enough."""
        now = time.monotonic()
        with self._lock:
            if not self._buffer:
                self._oldest = now
            self._buffer.append(row)
            due = len(self._buffer) >= self.spec.batch_size
            due = due or now - self._oldest >= self.spec.flush_interval_s
        if due:
            self.flush()

    def flush(self) -> int:
        """Write every buffered row (one transaction, executemany); returns how many."""
        with self._write:
            with self._lock:
                rows, self._buffer = self._buffer, []
            if not rows:
                return 0
            try:
                self._ensure_table()
                with self.engine.begin() as conn:
                    conn.execute(self.table.insert(), rows)
            except sa.exc.SQLAlchemyError as exc:
                with self._lock:  # keep them: a later flush may succeed
                    self._buffer[:0] = rows
                raise self._error("write to", exc) from exc
            return len(rows)

    def rows(self, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
        """The result rows of `query`, after flushing the buffer."""
        self.flush()
        try:
            self._ensure_table()
            with self.engine.connect() as conn:
                return [tuple(row) for row in conn.execute(query)]
        except sa.exc.SQLAlchemyError as exc:
            raise self._error("read", exc) from exc

    def close(self) -> None:
        """Flush, then release the database connections."""
        try:
            self.flush()
        finally:
            self.engine.dispose()

    def _ensure_table(self) -> None:
        if not self._ready:
            self.table.metadata.create_all(self.engine)
            self._ready = True

    def _error(self, action: str, exc: Exception) -> MltrackError:
        shown = self.engine.url.render_as_string(hide_password=True)
        return self._error_type(
            f"cannot {action} {self.spec.what} at {shown} ({type(exc).__name__}: {exc}); "
            f"check {self.spec.setting} (null for the SQLite default) and that the database is up"
        )
