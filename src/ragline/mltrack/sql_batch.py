"""One SQL table written in buffered batches and read in SQL: the storage of the cost ledger
and of the request log.

    table = BufferedTable(TableSpec("sqlite:///.ragline/x.db", sa_table, 500, 1.0,
                                    "the cost ledger", "costs.ledger.url",
                                    Path(".ragline/spill")), LedgerError)
    table.add({"ts": 1.0, ...})      # appended to a list in memory: never any I/O
    table.rows(sa.select(...))       # flushes first, so a reader sees every added row
    table.health()                   # degraded or not, rows written/spilled/replayed/dropped
    table.close()                    # flush (or spill), then release the connections

`add` only appends to a buffer, so a request that records a row never waits for the database.
A writer thread writes the buffer when it holds `batch_size` rows, once its oldest row is
`flush_interval_s` old, on `flush`/`close`, and at interpreter exit. The database is reached
with short timeouts (PostgreSQL: 2 s to connect, 5 s per statement; SQLite: 5 s lock wait).

When a write fails, the store is *down*: the batch is appended to a local spill file
(`ragline.mltrack.spill`, fsync'd once per batch, bounded) and the writer retries the
database after a backoff (`flush_interval_s`, doubling up to 10 s): a circuit breaker per
table. While it is down every batch goes to the spill file; once a write succeeds the spilled
rows are replayed first (in recording order), then the buffer. A warning says once a minute
what is happening; `health()` and `open_tables()` give the counts (/ready and /metrics show
them). Rows are dropped only when the spill file is full or the buffer passes `max_buffer`
(the writer thread stuck), and then counted and logged.

An explicit `flush` (and every read) tries the database even while it is down, and raises
the owner's error type with a message that names the URL (password hidden) and the setting.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.spill import SpillFile

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 10.0
_WARN_EVERY_S = 60.0
_STALLED_S = 1.0  # a write in flight this long reads as degraded before it fails
_CONNECT_ARGS: dict[str, dict[str, object]] = {
    "postgresql": {"connect_timeout": 2, "options": "-c statement_timeout=5000"},
    "sqlite": {"timeout": 5.0},
}


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Where the table lives, how writes are batched, where they spill, how errors name it."""

    url: str
    table: sa.Table
    batch_size: int
    flush_interval_s: float
    what: str
    setting: str
    spill_dir: Path
    max_buffer: int = 100_000
    max_spill_bytes: int = 256 << 20


@dataclass(frozen=True, slots=True)
class TableHealth:
    """One table's writer: `degraded` while its database is down (rows go to the spill file).

    TableHealth("the request log", True, "unreachable for 12 s (OperationalError); ...", ...)
    """

    what: str
    degraded: bool
    detail: str
    written: int
    spilled: int
    replayed: int
    dropped: int
    buffered: int


_OPEN: weakref.WeakSet[_Writer] = weakref.WeakSet()


def open_tables() -> list[TableHealth]:
    """The health of every table this process has open (for /ready and /metrics)."""
    return sorted((w.health() for w in list(_OPEN)), key=lambda h: h.what)


def _engine(url: str) -> sa.Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    backend = sa.engine.make_url(url).get_backend_name()
    return sa.create_engine(url, connect_args=_CONNECT_ARGS.get(backend, {}), pool_pre_ping=True)


class _Writer:
    """The buffer, the engine, the spill file and the breaker. The writer thread and the exit
    hook hold this, never the `BufferedTable`, so a table nobody references is still collected
    (and flushed)."""

    def __init__(self, spec: TableSpec, error: type[MltrackError]) -> None:
        self.spec = spec
        self.engine = _engine(spec.url)
        self.spill = SpillFile(spec.spill_dir, spec.table.name, spec.max_spill_bytes)
        self.error_type = error
        self.lock = threading.Lock()  # guards the buffer and the counts
        self.write = threading.Lock()  # one writer at a time, in recording order
        self.buffer: list[dict[str, object]] = []
        self.oldest = 0.0
        self.ready = False
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.timer: threading.Thread | None = None
        self.counts: Counter[str] = Counter()
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.backoff = spec.flush_interval_s
        self.cause = ""
        self.writing_since: float | None = None
        self.warned_at = -_WARN_EVERY_S
        self.dropped_warned_at = -_WARN_EVERY_S
        _OPEN.add(self)

    def add(self, row: dict[str, object]) -> None:
        """Buffer `row` (no I/O); wake the writer when the batch is full."""
        with self.lock:
            if len(self.buffer) >= self.spec.max_buffer:
                self.counts["dropped"] += 1
                self._warn_dropped()
                return
            if not self.buffer:
                self.oldest = time.monotonic()
            self.buffer.append(row)
            if self.timer is None and not self.stop.is_set():
                self.timer = threading.Thread(
                    target=self.run, name=f"ragline-flush:{self.spec.table.name}", daemon=True
                )
                self.timer.start()
            if len(self.buffer) >= self.spec.batch_size:
                self.wake.set()

    def run(self) -> None:
        """The writer thread: drain a full or old buffer, and replay spilled rows when due."""
        interval = self.spec.flush_interval_s
        while not self.stop.is_set():
            self.wake.wait(min(interval, 0.25))
            self.wake.clear()
            if self.stop.is_set():
                return
            with self.lock:
                full = len(self.buffer) >= self.spec.batch_size
                old = bool(self.buffer) and time.monotonic() - self.oldest >= interval
            retry = self.down_since is not None and time.monotonic() >= self.retry_at
            if full or old or (retry and self.spill.pending()):
                self.drain(force=False)

    def drain(self, *, force: bool) -> int:
        """Replay spilled rows, then write the buffer; how many rows the database took.

        While the store is down and its retry is not due, the buffer goes straight to the
        spill file. `force` tries the database anyway and raises when it fails."""
        with self.write:
            with self.lock:
                rows, self.buffer = self.buffer, []
            now = time.monotonic()
            if not force and self.down_since is not None and now < self.retry_at:
                self._spill(rows)
                return 0
            self.writing_since = now
            try:
                replayed = self._replay()
                if rows:
                    self._insert(rows)
            except sa.exc.SQLAlchemyError as exc:
                self._spill(rows)
                self._failed(exc, now)
                if force:
                    raise self.error("write to", exc) from exc
                return 0
            finally:
                self.writing_since = None
            with self.lock:
                self.counts["written"] += len(rows)
            self._recovered(replayed)
            return replayed + len(rows)

    def _insert(self, rows: list[dict[str, object]]) -> None:
        self.ensure_table()
        with self.engine.begin() as conn:
            conn.execute(self.spec.table.insert(), rows)

    def _replay(self) -> int:
        if not self.spill.pending():
            return 0
        rows = self.spill.read()
        if rows:
            self._insert(rows)
        self.spill.clear()
        with self.lock:
            self.counts["replayed"] += len(rows)
        return len(rows)

    def _spill(self, rows: list[dict[str, object]]) -> None:
        if not rows:
            return
        try:
            kept = self.spill.append(rows)
        except OSError as exc:
            log.error(
                "cannot spill %d rows of %s to %s: %s",
                len(rows),
                self.spec.what,
                self.spill.path,
                exc,
            )
            kept = False
        with self.lock:
            self.counts["spilled" if kept else "dropped"] += len(rows)
            if not kept:
                self._warn_dropped()

    def _failed(self, exc: Exception, now: float) -> None:
        first = self.down_since is None
        if first:
            self.down_since, self.backoff = now, self.spec.flush_interval_s
        else:
            self.backoff = min(self.backoff * 2, _MAX_BACKOFF_S)
        self.retry_at = now + self.backoff
        self.cause = type(exc).__name__
        if first or now - self.warned_at >= _WARN_EVERY_S:
            self.warned_at = now
            log.warning(
                "%s; %d rows spilled to %s so far, replayed when it returns",
                self.error("write to", exc),
                self.counts["spilled"],
                self.spill.path,
            )

    def _recovered(self, replayed: int) -> None:
        if self.down_since is None:
            return
        down_s = time.monotonic() - self.down_since
        self.down_since, self.cause = None, ""
        log.warning(
            "%s is back after %.1f s; %d spilled rows replayed", self.spec.what, down_s, replayed
        )

    def _warn_dropped(self) -> None:
        now = time.monotonic()
        if now - self.dropped_warned_at >= _WARN_EVERY_S:
            self.dropped_warned_at = now
            log.error(
                "%s: %d rows dropped so far (buffer or spill file %s full)",
                self.spec.what,
                self.counts["dropped"],
                self.spill.path,
            )

    def health(self) -> TableHealth:
        with self.lock:
            counts, buffered = dict(self.counts), len(self.buffer)
        down, writing, now = self.down_since, self.writing_since, time.monotonic()
        detail = "ok"
        if down is not None:
            detail = (
                f"degraded: unreachable for {now - down:.0f} s ({self.cause}); "
                f"rows spill to {self.spill.path.name} and replay when it returns"
            )
        elif writing is not None and now - writing >= _STALLED_S:
            detail = f"degraded: a write has waited {now - writing:.0f} s for an answer"
        return TableHealth(
            self.spec.what,
            detail != "ok",
            detail,
            counts.get("written", 0),
            counts.get("spilled", 0),
            counts.get("replayed", 0),
            counts.get("dropped", 0),
            buffered,
        )

    def close(self) -> None:
        """Stop the thread, write (or spill) the buffer, release the connections (safe to call
        twice)."""
        self.stop.set()
        self.wake.set()
        timer = self.timer
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=10.0)
        try:
            self.drain(force=False)
        finally:
            _OPEN.discard(self)
            self.spill.close()
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
        >>> spec = TableSpec("sqlite://", table, 100, 1.0, "the log", "log.url", spill_dir)
        >>> t = BufferedTable(spec, MltrackError)  # doctest: +SKIP
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
        """Buffer one row (no I/O: the writer thread writes full and old batches)."""
        self._writer.add(row)

    def flush(self) -> int:
        """Replay spilled rows, then write the buffer (one transaction, executemany); returns
        how many rows the database took. Raises the owner's error when it is down (the rows
        are spilled, not lost)."""
        return self._writer.drain(force=True)

    def health(self) -> TableHealth:
        """Degraded or not, and the rows written, spilled, replayed and dropped so far."""
        return self._writer.health()

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
