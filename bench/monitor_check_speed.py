"""Request log and `monitor check` speed: batched request-log writes per request, and the health
comparison of two windows over 1,000,000 logged requests (SQLite).

    .venv/bin/python bench/monitor_check_speed.py [--requests 1000000] [--unbatched 2000]

Writes: `RequestLog.record` (what serve's middleware calls once per /v1 request) with the default
batch_size=200, then `close()`; the time per request includes the final flush. Baseline in the same
run: batch_size=1 (one transaction per request) over --unbatched rows. Check: the reference and
current windows (half the rows each, two days of traffic) read from the log and compared by
`ragline.mltrack.monitor.health` (percentiles, error rate, cache hit rate), best of 3. Baseline in
the same run: the same statistics with every row fetched and computed in Python (sorted lists for
the percentiles). No target is set by the issue; figures for the record.
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import describe, figure, log, workdir

START = datetime(2026, 11, 24, tzinfo=UTC)
CACHE = (None, "miss", "exact", "miss", "semantic")


def records(count: int) -> list[Any]:
    from ragline.mltrack.monitor.request_log import RequestRecord

    step = 2 * 86_400 / count
    return [
        RequestRecord(
            START.timestamp() + i * step,
            f"r{i}",
            "/v1/query",
            "POST",
            500 if i % 97 == 0 else 200,
            20.0 + (i * 7919) % 400,
            "alice",
            None,
            CACHE[i % 5],
        )
        for i in range(count)
    ]


def write(folder: Path, rows: list[Any], batch: int) -> float:
    from ragline.mltrack.monitor.config import RequestLogConfig
    from ragline.mltrack.monitor.request_log import RequestLog

    log_ = RequestLog(RequestLogConfig(batch_size=batch, flush_interval_s=3600), folder)
    started = time.perf_counter()
    for row in rows:
        log_.record(row)
    log_.close()
    return (time.perf_counter() - started) / len(rows)


def check(folder: Path) -> tuple[float, str]:
    from ragline.mltrack.monitor.config import HealthThresholds, RequestLogConfig
    from ragline.mltrack.monitor.health import compare_windows, window_stats
    from ragline.mltrack.monitor.request_log import RequestLog

    middle, end = START + timedelta(days=1), START + timedelta(days=2)
    started = time.perf_counter()
    with RequestLog(RequestLogConfig(), folder) as request_log:
        ref, cur = request_log.window(START, middle), request_log.window(middle, end)
    report = compare_windows(window_stats(ref), window_stats(cur), HealthThresholds())
    return time.perf_counter() - started, report.severity


def python_check(folder: Path) -> float:
    """The same figures with every row fetched and computed in plain Python."""
    import sqlalchemy as sa

    from ragline.mltrack.monitor.config import RequestLogConfig

    engine = sa.create_engine(RequestLogConfig().resolved_url(folder))
    started = time.perf_counter()
    for low, high in (
        (START, START + timedelta(days=1)),
        (START + timedelta(days=1), START + timedelta(days=2)),
    ):
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT latency_ms, status, cache FROM ragline_requests WHERE ts >= :a AND ts < :b"
            ), {"a": low.timestamp(), "b": high.timestamp()}).all()  # fmt: skip
        latency = sorted(r[0] for r in rows)
        _ = [
            latency[min(len(latency) - 1, math.ceil(q * len(latency)) - 1)]
            for q in (0.5, 0.95, 0.99)
        ]
        _ = sum(1 for r in rows if r[1] >= 500) / len(rows)
        looked = [r[2] for r in rows if r[2] is not None]
        _ = sum(1 for c in looked if c != "miss") / len(looked)
    engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--unbatched", type=int, default=2000)
    args = parser.parse_args()
    describe(__doc__)
    rows = records(args.requests)
    with workdir("monitor") as tmp:
        unbatched = write(tmp / "unbatched", rows[: args.unbatched], batch=1)
        log(f"unbatched (batch_size=1): {unbatched * 1e3:.4f} ms/request over {args.unbatched}")
        batched = write(tmp / "log", rows, batch=200)
        log(f"batched (200): {batched * 1e3:.4f} ms/request over {args.requests:,}")
        runs = [check(tmp / "log") for _ in range(3)]
        seconds, severity = min(runs)
        log(f"monitor check over {args.requests:,} requests: {seconds:.2f} s ({severity})")
        baseline = python_check(tmp / "log")
        log(f"baseline (rows fetched, Python statistics): {baseline:.2f} s")
    figure(
        "request_log_write_ms", batched * 1e3, target="-",
        baseline=f"batch_size=1:{unbatched * 1e3:.4f}ms", ratio=batched / unbatched,
    )  # fmt: skip
    figure(
        "monitor_check_s", seconds, target="-", baseline=f"python:{baseline:.2f}s",
        ratio=seconds / baseline, extra={"requests": str(args.requests)},
    )  # fmt: skip


if __name__ == "__main__":
    main()
