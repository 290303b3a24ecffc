"""The ledger while its database is down: `record` never waits or raises, events spill to a
local file, and they are replayed when a ledger for that table reaches a database again."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger, LedgerError
from ragline.mltrack.spill import SpillFile
from ragline.mltrack.sql_batch import open_tables
from tests.mltrack.costs.test_ledger import EVENTS

pytestmark = pytest.mark.unit
DOWN = "postgresql://nobody:secret@127.0.0.1:1/none"  # refused at once


def wait_for(condition: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        threading.Event().wait(0.02)


def test_events_spill_while_down_and_replay_into_the_next_database(tmp_path: Path) -> None:
    broken = Ledger(LedgerConfig(url=DOWN, batch_size=2, flush_interval_s=0.05), tmp_path)
    started = time.perf_counter()
    for event in EVENTS:
        broken.record(event)  # no I/O on the caller's thread: never raises, never waits
    recording_s = time.perf_counter() - started
    wait_for(lambda: broken.health().spilled == len(EVENTS))
    health = broken.health()
    assert recording_s < 0.05
    assert health.degraded and health.detail.startswith("degraded: unreachable")
    assert (health.spilled, health.dropped, health.written) == (len(EVENTS), 0, 0)
    assert "secret" not in health.detail
    assert any(t.what == "the cost ledger" and t.degraded for t in open_tables())
    with pytest.raises(LedgerError, match=r"costs\.ledger\.url"):
        broken.flush()  # an explicit flush still says the database is down
    broken.close()  # spills what is left; does not raise
    assert list((tmp_path / "spill").glob("cost_ledger.*.jsonl"))

    with Ledger(LedgerConfig(), tmp_path) as back:  # the same table, on SQLite now
        assert back.events() == sorted(EVENTS, key=lambda e: e.ts)
        assert back.health().replayed == len(EVENTS)
    assert not list((tmp_path / "spill").glob("*.jsonl"))  # replayed files are gone


def test_the_spill_file_is_bounded(tmp_path: Path) -> None:
    spill = SpillFile(tmp_path, "t", max_bytes=64)
    assert spill.append([{"a": 1}]) is True
    assert spill.append([{"b": "x" * 100}]) is False  # would pass max_bytes: refused
    assert spill.read() == [{"a": 1}]
    spill.clear()
    assert not spill.pending()
    spill.close()


def test_a_dead_writers_file_is_adopted_once(tmp_path: Path) -> None:
    first = SpillFile(tmp_path, "t")
    first.append([{"n": 1}])
    first.close()  # closed (or its process died): the file is an orphan
    second, third = SpillFile(tmp_path, "t"), SpillFile(tmp_path, "t")
    assert second.read() == [{"n": 1}]
    assert third.read() == []  # already claimed by the second writer
    second.clear()
    assert not second.pending() and not third.pending()
