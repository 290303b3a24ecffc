"""One SQL table written in buffered batches and read in SQL: the storage of the cost ledger
and of the request log.

    table = BufferedTable(TableSpec("sqlite:///.ragline/x.db", sa_table, 500, 5.0,
                                    "the cost ledger", "costs.ledger.url"), LedgerError)
    table.add({"ts": 1.0, ...})      # appended; a full buffer is written at once
    table.rows(sa.select(...))       # flushes first, so a reader sees every added row
    table.close()                    # flush, then release the connections

A buffer is written when it holds `batch_size` rows, by a timer thread once its oldest row is
`flush_interval_s` old (so a quiet process still writes what it recorded, and another process
reading the table sees it), on `flush`/`close`, and at interpreter exit. A failed write keeps
its rows at the head of the buffer, so a later flush can still store them; every database
failure is raised as the owner's error type with a message that names the URL (password
hidden) and the setting to fix. The timer logs a failed write and tries again later.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa

from ragline.mltrack.errors import MltrackError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Where the table lives, how writes are batched, and how errors name it."""

    url: str
    table: sa.Table
    batch_size: int
    flush_interval_s: float
    what: str
    setting: str


class _Writer:
    """The buffer and the engine. The timer thread and the exit hook hold this, never the
    `BufferedTable`, so a table nobody references is still collected (and flushed)."""

    def __init__(self, spec: TableSpec, error: type[MltrackError]) -> None:
        self.spec = spec
        if spec.url.startswith("sqlite:///"):
            Path(spec.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(spec.url)
        self.error_type = error
        self.lock = threading.Lock()  # guards the buffer
        self.write = threading.Lock()  # one flush at a time, in recording order
        self.buffer: list[dict[str, object]] = []
        self.oldest = 0.0
        self.ready = False
        self.stop = threading.Event()
        self.timer: threading.Thread | None = None

    def add(self, row: dict[str, object]) -> bool:
        """Buffer `row`; True when the batch is full and should be written now."""
        with self.lock:
            if not self.buffer:
                self.oldest = time.monotonic()
            self.buffer.append(row)
            if self.timer is None and not self.stop.is_set():
                self.timer = threading.Thread(
                    target=self.tick, name=f"ragline-flush:{self.spec.table.name}", daemon=True
                )
                self.timer.start()
            return len(self.buffer) >= self.spec.batch_size

    def flush(self) -> int:
        with self.write:
            with self.lock:
                rows, self.buffer = self.buffer, []
            if not rows:
                return 0
            try:
                self.ensure_table()
                with self.engine.begin() as conn:
                    conn.execute(self.spec.table.insert(), rows)
            except sa.exc.SQLAlchemyError as exc:
                with self.lock:  # keep them: a later flush may succeed
                    self.buffer[:0] = rows
                raise self.error("write to", exc) from exc
            return len(rows)

    def tick(self) -> None:
        """The timer: write a buffer whose oldest row is old enough, until stopped."""
        interval = self.spec.flush_interval_s
        while not self.stop.wait(min(interval, 1.0)):
            with self.lock:
                due = bool(self.buffer) and time.monotonic() - self.oldest >= interval
            if due:
                try:
                    self.flush()
                except MltrackError as exc:
                    log.warning("background flush failed, will retry: %s", exc)

    def close(self) -> None:
        """Stop the timer, flush, release the connections (safe to call twice)."""
        self.stop.set()
        timer = self.timer
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=5.0)
        try:
            self.flush()
        finally:
            self.engine.dispose()

    def ensure_table(self) -> None:
        """Create the table, or add the columns a newer ragline defines (nullable or with a
        server default), so a database written by an older version keeps its rows."""
        if self.ready:
            return
        table = self.spec.table
        table.metadata.create_all(self.engine)
        have = {c["name"] for c in sa.inspect(self.engine).get_columns(table.name)}
        with self.engine.begin() as conn:
            for column in table.columns:
                if column.name not in have:
                    kind = column.type.compile(self.engine.dialect)
                    default = column.server_default
                    extra = (
                        f" DEFAULT {default.arg}" if isinstance(default, sa.DefaultClause) else ""
                    )
                    conn.execute(
                        sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}{extra}")
                    )
        self.ready = True

    def error(self, action: str, exc: Exception) -> MltrackError:
        shown = self.engine.url.render_as_string(hide_password=True)
        return self.error_type(
            f"cannot {action} {self.spec.what} at {shown} ({type(exc).__name__}: {exc}); "
            f"check {self.spec.setting} (null for the SQLite default) and that the database is up"
        )


def _close_at_exit(writer: _Writer) -> None:
    try:
        writer.close()
    except MltrackError as exc:
        log.error("rows lost at exit: %s", exc)


class BufferedTable:
    """Thread-safe buffered `INSERT`s into one table (created when missing) and SQL reads;
    the base of `ragline.mltrack.costs.ledger.Ledger` and
    `ragline.mltrack.monitor.request_log.RequestLog`.

    Example:
        >>> t = BufferedTable(TableSpec("sqlite://", table, 100, 2.0, "the log", "log.url"),
        ...                   MltrackError)  # doctest: +SKIP
        >>> t.add({"ts": 0.0}); t.flush()  # doctest: +SKIP
        1
    """

    def __init__(self, spec: TableSpec, error: type[MltrackError]) -> None:
        self.spec = spec
        self.url = spec.url
        self._writer = _Writer(spec, error)
        self.engine = self._writer.engine
        self.table = spec.table
        # Closes (flushes) when the table is collected or the interpreter exits.
        self._finalizer = weakref.finalize(self, _close_at_exit, self._writer)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, row: dict[str, object]) -> None:
        """Buffer one row; write the batch when it is full (the timer writes an old one)."""
        if self._writer.add(row):
            self.flush()

    def flush(self) -> int:
        """Write every buffered row (one transaction, executemany); returns how many."""
        return self._writer.flush()

    def rows(self, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
        """The result rows of `query`, after flushing the buffer."""
        return [tuple(row) for row in self._read(query)]

    def mappings(self, query: sa.Select[Any]) -> list[dict[str, Any]]:
        """The result rows of `query` as column -> value dicts, after flushing the buffer."""
        return [dict(row._mapping) for row in self._read(query)]

    def _read(self, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        self.flush()
        try:
            self._writer.ensure_table()
            with self.engine.connect() as conn:
                return list(conn.execute(query))
        except sa.exc.SQLAlchemyError as exc:
            raise self._writer.error("read", exc) from exc

    def close(self) -> None:
        """Stop the timer, flush, then release the database connections."""
        self._finalizer.detach()
        self._writer.close()
