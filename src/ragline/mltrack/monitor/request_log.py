"""The request log: one row per request `ragline serve` answered (SQLite default, PostgreSQL
option), the input of `ragline monitor check` and of A/B analyses.

    log = RequestLog(RequestLogConfig(), Path(".ragline"))    # sqlite:///.ragline/requests.db
    log.record(RequestRecord(time.time(), "r1", "/v1/query", "POST", 200, 41.7, caller="alice"))
    window = log.window(since, until)     # numpy columns for ragline.mltrack.monitor.health
    log.assignments()                     # {"r1": "control", ...}: the A/B arm of each request
    log.close()                           # flushes what is still buffered

Rows are buffered and written in batches (`ragline.mltrack.sql_batch`), so the middleware that
records them adds microseconds, not a database round trip, to a request. Nothing of the request's
body, query string or headers is stored: the route template, status, latency, caller name, A/B arm
and cache outcome only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.monitor.config import RequestLogConfig
from ragline.mltrack.sql_batch import BufferedTable, TableSpec

# cache outcome codes of RequestWindow.cache: the request had no cache lookup, missed, or hit
CACHE_NONE, CACHE_MISS, CACHE_HIT = 0, 1, 2
_CACHE_CODES = {None: CACHE_NONE, "miss": CACHE_MISS, "exact": CACHE_HIT, "semantic": CACHE_HIT}


class RequestLogError(MltrackError):
    """The request log cannot be reached or written; the message names the URL to fix."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One answered request. `cache`: "exact" | "semantic" | "miss", or None without a lookup.

    RequestRecord(1764158400.0, "r1", "/v1/chat/completions", "POST", 200, 812.5,
                  caller="alice", arm="small", cache="miss")
    """

    ts: float
    request_id: str
    route: str
    method: str
    status: int
    latency_ms: float
    caller: str | None = None
    arm: str | None = None
    cache: str | None = None


@dataclass(frozen=True, slots=True)
class RequestWindow:
    """The requests of one time window as columns (one entry per request).

    window.status[window.status >= 500].size / window.ts.size     # the error rate
    """

    since: float
    until: float
    ts: npt.NDArray[np.float64]
    status: npt.NDArray[np.int32]
    latency_ms: npt.NDArray[np.float64]
    cache: npt.NDArray[np.int8]


def _table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Double, nullable=False, index=True),
        sa.Column("request_id", sa.String(128), nullable=False, index=True),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Double, nullable=False),
        sa.Column("caller", sa.String(64)),
        sa.Column("arm", sa.String(32)),
        sa.Column("cache", sa.String(16)),
    )


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class RequestLog(BufferedTable):
    """Buffered writes of `RequestRecord` rows and windowed reads (module docstring).

    Example:
        >>> with RequestLog(RequestLogConfig(), data_dir) as log:  # doctest: +SKIP
        ...     log.record(record)
        ...     log.window(since, until).ts.size
        1
    """

    def __init__(self, config: RequestLogConfig, data_dir: Path) -> None:
        spec = TableSpec(
            config.resolved_url(data_dir),
            _table(config.table),
            config.batch_size,
            config.flush_interval_s,
            "the request log",
            "monitor.request_log.url",
            data_dir / "spill",
        )
        super().__init__(spec, RequestLogError)

    def record(self, record: RequestRecord) -> None:
        """Buffer one request; the batch is written when full or old enough."""
        self.add(
            {
                "ts": record.ts,
                "request_id": record.request_id,
                "route": record.route,
                "method": record.method,
                "status": record.status,
                "latency_ms": record.latency_ms,
                "caller": record.caller,
                "arm": record.arm,
                "cache": record.cache,
            }
        )

    def window(self, since: datetime, until: datetime) -> RequestWindow:
        """The requests with `since <= ts < until` as numpy columns, in time order."""
        t = self.table
        low, high = _epoch(since), _epoch(until)
        query = (
            sa.select(t.c.ts, t.c.status, t.c.latency_ms, t.c.cache)
            .where(t.c.ts >= low, t.c.ts < high)
            .order_by(t.c.ts)
        )
        rows = self.rows(query)
        return RequestWindow(
            since=low,
            until=high,
            ts=np.fromiter((r[0] for r in rows), np.float64, len(rows)),
            status=np.fromiter((r[1] for r in rows), np.int32, len(rows)),
            latency_ms=np.fromiter((r[2] for r in rows), np.float64, len(rows)),
            cache=np.fromiter((_CACHE_CODES.get(r[3], CACHE_NONE) for r in rows), np.int8),
        )

    def assignments(self, route: str | None = None) -> dict[str, str]:
        """request id -> A/B arm, for the requests a traffic split served (optionally of one
        route); the input `ragline abtest analyze` joins outcomes to."""
        t = self.table
        query = sa.select(t.c.request_id, t.c.arm).where(t.c.arm.is_not(None))
        if route is not None:
            query = query.where(t.c.route == route)
        return {str(rid): str(arm) for rid, arm in self.rows(query.order_by(t.c.id))}


def read_assignments(config: RequestLogConfig, data_dir: Path) -> dict[str, str]:
    """request id -> A/B arm from the request log of `data_dir` (see `RequestLog.assignments`)."""
    with RequestLog(config, data_dir) as log:
        return log.assignments()
