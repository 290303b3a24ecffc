"""One writer per collection across processes: an ingest holds its collection's lock.

    lock = FileLock(Path(".ragline/qdrant/.locks/docs.lock"))
    with hold(lock, "docs", timeout_s=None, on_wait=print):  # waits, and says so once
        ingestor.run([Path("docs")])

Two processes writing one collection lose chunks: each Qdrant Edge process keeps its own copy
of the shard and the last flush wins, and the manifest then lists files whose chunks are gone.
So an ingest takes its collection's lock before it opens the store, and lets go after closing:

- `FileLock`: `fcntl.flock` on a file (for Edge, `<store path>/.locks/<collection>.lock`,
  beside the shard). The kernel drops it with the process, so a killed ingest never leaves
  it held. Threads of one process conflict too (one open file description each).
- `RedisLock`: `SET NX` with a TTL the holder keeps extending (a dead holder's lock expires
  after `ttl_s`); for a Qdrant server shared by several machines (`ingest.lock_url: redis://`).
- `PostgresLock`: `pg_try_advisory_lock` on a session of its own; PostgreSQL drops it with the
  session (`ingest.lock_url: postgresql://`).

`hold` polls `acquire`; while another holds the lock it prints "waiting for the ingest lock on
docs held by pid 4242" once, and raises `IngestLocked` when `timeout_s` runs out (0: refuse
at once; None: wait as long as it takes).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from ragline.rag.errors import IngestError

log = logging.getLogger(__name__)


class IngestLocked(IngestError):
    """Another ingest holds the collection's lock and `timeout_s` ran out.

    raise IngestLocked("another ingest into 'docs' (pid 4242) holds its lock; ...")
    """


class CrossProcessLock(Protocol):
    """A lock other processes see: `acquire` never blocks, `holder` says who has it."""

    def acquire(self) -> bool: ...

    def holder(self) -> str: ...

    def release(self) -> None: ...


def me(with_host: bool = False) -> str:
    """How a holder names itself: "pid 4242" (or "pid 4242 on host" for shared locks)."""
    return f"pid {os.getpid()}" + (f" on {socket.gethostname()}" if with_host else "")


@contextmanager
def hold(
    lock: CrossProcessLock,
    collection: str,
    *,
    timeout_s: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    poll_s: float = 0.2,
) -> Iterator[None]:
    """Hold `lock` for the block; wait for it (saying so once), or raise `IngestLocked`."""
    try:
        _wait_for(lock, collection, timeout_s, on_wait or log.warning, poll_s)
        yield
    finally:
        lock.release()  # also frees the connection of a handle that never got the lock


def _wait_for(
    lock: CrossProcessLock,
    collection: str,
    timeout_s: float | None,
    on_wait: Callable[[str], None],
    poll_s: float,
) -> None:
    started = time.monotonic()
    told = False
    while not lock.acquire():
        holder = lock.holder()
        waited = time.monotonic() - started
        if timeout_s is not None and waited >= timeout_s:
            raise IngestLocked(
                f"another ingest into {collection!r} ({holder}) holds its lock; gave up after "
                f"{waited:.0f} s. Let it finish, or wait longer (--lock-timeout SECONDS)"
            )
        if not told:
            on_wait(f"waiting for the ingest lock on {collection} held by {holder}")
            told = True
        time.sleep(poll_s if timeout_s is None else min(poll_s, timeout_s - waited))


class FileLock:
    """`fcntl.flock` on `path` (created with its folder); the holder's pid is written in it.

    lock = FileLock(Path(".ragline/qdrant/.locks/docs.lock")); lock.acquire()
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            pid = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            pid = ""
        return f"pid {pid}" if pid.isdigit() else "another process"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


# compare-and-extend / compare-and-delete: only the handle that set the key touches it
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
_DELETE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class RedisLock:
    """A Redis key set with NX and a TTL that a thread keeps extending while it is held.

    lock = RedisLock("redis://cache:6379/0", "ragline:ingest-lock:server:http://q:6333|docs")
    """

    def __init__(self, url: str, key: str, ttl_s: float = 30.0) -> None:
        import redis

        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self._client: Any = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._key = key
        self._ttl_ms = int(ttl_s * 1000)
        self._token = f"{me(with_host=True)}|{uuid.uuid4().hex}"
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def acquire(self) -> bool:
        with _unreachable("Redis", self._errors):
            if not self._client.set(self._key, self._token, nx=True, px=self._ttl_ms):
                return False
        self._stop.clear()
        self._keeper = threading.Thread(target=self._keep, name="ingest-lock", daemon=True)
        self._keeper.start()
        return True

    def _keep(self) -> None:
        while not self._stop.wait(self._ttl_ms / 3000):
            try:
                self._client.eval(_EXTEND, 1, self._key, self._token, self._ttl_ms)
            except self._errors as exc:  # the next tick retries; the TTL leaves 2 more tries
                log.warning("could not extend the ingest lock %s: %s", self._key, exc)

    def holder(self) -> str:
        with _unreachable("Redis", self._errors):
            value = self._client.get(self._key)
        return value.decode().split("|")[0] if value else "another process"

    def release(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join()
            self._keeper = None
            with _unreachable("Redis", self._errors):
                self._client.eval(_DELETE, 1, self._key, self._token)
        self._client.close()


class PostgresLock:
    """`pg_try_advisory_lock` on a 64-bit key made from `key`, on a connection of its own.

    lock = PostgresLock("postgresql://ingest@db/ragline", "server:http://q:6333|docs")
    """

    def __init__(self, url: str, key: str) -> None:
        import psycopg

        self._errors: tuple[type[Exception], ...] = (psycopg.Error,)
        self._url = url
        self._key = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        self._conn: Any = None

    def _connection(self) -> Any:
        import psycopg

        if self._conn is None:
            with _unreachable("PostgreSQL", self._errors):
                self._conn = psycopg.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=5,
                    application_name=f"ragline ingest {me(with_host=True)}"[:63],
                )
        return self._conn

    def acquire(self) -> bool:
        with _unreachable("PostgreSQL", self._errors):
            row = (
                self._connection()
                .execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
                .fetchone()
            )
        return bool(row and row[0])

    def holder(self) -> str:
        # a bigint advisory key shows in pg_locks as classid (high 32 bits), objid (low 32)
        high, low = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF
        with _unreachable("PostgreSQL", self._errors):
            row = (
                self._connection()
                .execute(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s "
                    "AND l.objid = %s AND l.objsubid = 1",
                    (high, low),
                )
                .fetchone()
            )
        name = str(row[0]) if row and row[0] else ""
        return name.removeprefix("ragline ingest ") or "another process"

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # an advisory lock goes with its session
            self._conn = None


def lock_for_url(url: str, key: str) -> CrossProcessLock:
    """A `RedisLock` for redis:// (rediss://) URLs, a `PostgresLock` for postgresql://."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        return RedisLock(url, f"ragline:ingest-lock:{key}")
    if scheme in ("postgresql", "postgres"):
        return PostgresLock(url, key)
    raise IngestError(
        f"ingest.lock_url scheme {scheme!r} is not redis:// or postgresql://; "
        "set one of those, or unset it to lock with a file in the data dir"
    )


@contextmanager
def _unreachable(service: str, errors: tuple[type[Exception], ...]) -> Iterator[None]:
    try:
        yield
    except errors as exc:
        raise IngestError(
            f"cannot use the ingest lock in {service} (ingest.lock_url): {exc}; "
            f"start {service}, or unset ingest.lock_url to lock with a file"
        ) from None
