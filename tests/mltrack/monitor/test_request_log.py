"""The request log on SQLite and on this machine's PostgreSQL: batched writes, windows, arms."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ragline.mltrack.monitor.config import RequestLogConfig
from ragline.mltrack.monitor.request_log import (
    CACHE_HIT,
    CACHE_MISS,
    CACHE_NONE,
    RequestLog,
    RequestLogError,
    RequestRecord,
    read_assignments,
)
from tests.services import POSTGRES_URL, require

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RequestLogConfig]:
    if request.param == "sqlite":
        yield RequestLogConfig(batch_size=3)
        return
    require("PostgreSQL", "127.0.0.1", 5432)
    table = f"requests_{uuid.uuid4().hex[:12]}"
    yield RequestLogConfig(url=POSTGRES_URL, table=table, batch_size=3)
    engine = sa.create_engine(RequestLogConfig(url=POSTGRES_URL).resolved_url(tmp_path))
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


def rec(minute: float, rid: str, **kw: object) -> RequestRecord:
    ts = (T0 + timedelta(minutes=minute)).timestamp()
    fields: dict[str, object] = {"route": "/v1/query", "method": "POST", "status": 200,
                                 "latency_ms": 10.0} | kw  # fmt: skip
    return RequestRecord(ts, rid, **fields)  # type: ignore[arg-type]


@pytest.mark.integration
def test_window_reads_what_was_recorded(config: RequestLogConfig, tmp_path: Path) -> None:
    with RequestLog(config, tmp_path) as log:
        log.record(rec(1, "a", latency_ms=12.5, cache="exact"))
        log.record(rec(2, "b", status=503, cache="miss"))
        log.record(rec(30, "c", cache="semantic", arm="large"))  # the 3rd row writes the batch
        log.record(rec(61, "d", arm="small"))  # buffered; the read flushes it
        window = log.window(T0, T0 + timedelta(hours=1))
        later = log.window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert window.ts.size == 3 and later.ts.size == 1
    assert window.status.tolist() == [200, 503, 200]
    assert window.latency_ms.tolist() == [12.5, 10.0, 10.0]
    assert window.cache.tolist() == [CACHE_HIT, CACHE_MISS, CACHE_HIT]
    assert later.cache.tolist() == [CACHE_NONE]
    assert window.since == T0.timestamp()


@pytest.mark.integration
def test_assignments_are_the_arms_of_split_requests(
    config: RequestLogConfig, tmp_path: Path
) -> None:
    with RequestLog(config, tmp_path) as log:
        log.record(rec(1, "r1", arm="control"))
        log.record(rec(2, "r2"))  # no split: not an assignment
        log.record(rec(3, "r3", arm="treatment", route="/v1/chat/completions"))
        assert log.assignments() == {"r1": "control", "r3": "treatment"}
        assert log.assignments(route="/v1/chat/completions") == {"r3": "treatment"}
    assert read_assignments(config, tmp_path) == {"r1": "control", "r3": "treatment"}


@pytest.mark.integration
def test_close_flushes_the_buffer(tmp_path: Path) -> None:
    config = RequestLogConfig(batch_size=1000, flush_interval_s=3600)
    log = RequestLog(config, tmp_path)
    log.record(rec(1, "only"))
    log.close()
    with RequestLog(config, tmp_path) as again:
        assert again.window(T0, T0 + timedelta(hours=1)).ts.size == 1
    assert (tmp_path / "requests.db").is_file()


@pytest.mark.integration
def test_unreachable_database_names_the_setting_and_keeps_rows(tmp_path: Path) -> None:
    config = RequestLogConfig(url="postgresql://nobody:secret@127.0.0.1:1/none", batch_size=1000)
    log = RequestLog(config, tmp_path)
    log.record(rec(1, "kept"))
    with pytest.raises(RequestLogError, match=r"monitor\.request_log\.url") as info:
        log.flush()
    assert "secret" not in str(info.value)
    with pytest.raises(RequestLogError):
        log.flush()  # the row is still buffered (an empty buffer flushes without a query)
