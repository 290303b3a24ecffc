"""The cross-process ingest lock: a file lock, a Redis key, a PostgreSQL advisory lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from ragline.rag.errors import IngestError
from ragline.rag.ingest.lock import (
    CrossProcessLock,
    FileLock,
    IngestLocked,
    PostgresLock,
    RedisLock,
    hold,
    lock_for_url,
)
from tests.services import POSTGRES_URL, require

pytestmark = pytest.mark.integration
MakeLock = Callable[[], CrossProcessLock]


@pytest.fixture(params=["file", "redis", "postgres"])
def make_lock(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeLock]:
    """Fresh handles on one lock (as two processes would have), on each backend."""
    key = f"edge:{tmp_path}|docs-{uuid.uuid4().hex}"
    if request.param == "file":
        yield lambda: FileLock(tmp_path / ".locks" / "docs.lock")
    elif request.param == "redis":
        url = request.getfixturevalue("redis_url")
        yield lambda: RedisLock(url, f"ragline-test:{key}", ttl_s=3)
    else:
        parsed = urlparse(POSTGRES_URL)
        require("PostgreSQL", parsed.hostname or "127.0.0.1", parsed.port or 5432)
        yield lambda: PostgresLock(POSTGRES_URL, key)


def test_one_holder_at_a_time_and_the_other_is_named(make_lock: MakeLock) -> None:
    first, second = make_lock(), make_lock()
    assert first.acquire()
    try:
        assert not second.acquire()
        assert second.holder().startswith(f"pid {os.getpid()}")
    finally:
        first.release()
    assert second.acquire(), "released: the next one gets it"
    second.release()


def test_a_waiting_ingest_says_so_once_then_runs(make_lock: MakeLock) -> None:
    first, told = make_lock(), list[str]()
    assert first.acquire()
    threading.Timer(0.8, first.release).start()
    started = time.monotonic()
    with hold(make_lock(), "docs", on_wait=told.append, poll_s=0.05):
        waited = time.monotonic() - started
    assert waited >= 0.7
    assert len(told) == 1, "said once, however long it waits"
    assert told[0].startswith(f"waiting for the ingest lock on docs held by pid {os.getpid()}")


def test_the_timeout_refuses_with_the_holder_and_the_fix(make_lock: MakeLock) -> None:
    first = make_lock()
    assert first.acquire()
    waiter = hold(make_lock(), "docs", timeout_s=0.3, on_wait=lambda _: None, poll_s=0.05)
    try:
        with pytest.raises(IngestLocked, match=r"pid \d+.*--lock-timeout"), waiter:
            pytest.fail("the block must not run while another holds the lock")
    finally:
        first.release()


def test_a_killed_holder_does_not_keep_the_file_lock(tmp_path: Path) -> None:
    path = tmp_path / "docs.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from ragline.rag.ingest.lock import "
            "FileLock; assert FileLock(Path(sys.argv[1])).acquire(); print('held', flush=True); "
            "time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    lock = FileLock(path)
    assert not lock.acquire() and lock.holder() == f"pid {holder.pid}"
    holder.kill()
    holder.communicate()  # reap it and close its pipe
    assert lock.acquire()
    lock.release()


def test_an_unknown_lock_url_and_an_unreachable_service_name_the_setting() -> None:
    with pytest.raises(IngestError, match=r"ingest\.lock_url scheme 'http'"):
        lock_for_url("http://example.com", "k")
    lock = lock_for_url("redis://127.0.0.1:1/0", "k")  # nothing listens on port 1
    with pytest.raises(IngestError, match=r"ingest\.lock_url"):
        lock.acquire()
