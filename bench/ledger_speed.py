"""Cost ledger speed: batched writes per event, and a month's report over 1,000,000 events (SQLite).

    .venv/bin/python bench/ledger_speed.py [--events 1000000] [--batch 1000] [--unbatched 2000]

Writes: `Ledger.record` of synthetic events (five models, four components, three routes, four
keys, a month of timestamps) with `batch_size=--batch`, then `close()`; time per event includes
the final flush. Baseline in the same run: the same ledger with `batch_size=1` (one transaction
per event, what an unbuffered sink does) over --unbatched events. Target: <= 0.2 ms per event.
Reports: the whole month (November 2026, every event) grouped by model, by day and by
component, in SQL, best of three each. Baseline: the same report by model fetched row by row
and summed in Python. Target: <= 2 s for each grouping.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from common import describe, figure, log, workdir

MONTH = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
MODELS = ("openai:gpt-4o-mini", "openai:gpt-4o", "anthropic:claude-haiku", "st:minilm", "adult:3")
COMPONENTS = ("llm", "llm", "llm", "embedding", "prediction")
ROUTES = ("fixed", "cascade", None)
KEYS = ("alice", "bob", "carol", None)
USD = tuple(Decimal(n) / 10**9 for n in (180_000, 4_000_000, 250_000, 105, 2_000_000))


def entries(count: int) -> list[Any]:
    """`count` events spread evenly over November 2026, built before the timing starts."""
    from ragline.core.costs import CostEvent

    step = 30 * 86_400 / count
    return [
        CostEvent(
            COMPONENTS[i % 5],  # type: ignore[arg-type]
            MODELS[i % 5],
            1200,
            300,
            0,
            1500,
            USD[i % 5],  # type: ignore[arg-type]
            f"req-{i // 3}",
            MONTH + i * step,
            key=KEYS[i % 4],
            route=ROUTES[i % 3],
        )
        for i in range(count)
    ]


def write(folder: Path, rows: list[Any], batch: int) -> float:
    """Seconds per event to record `rows` and close the ledger."""
    from ragline.mltrack.costs.config import LedgerConfig
    from ragline.mltrack.costs.ledger import Ledger

    ledger = Ledger(LedgerConfig(batch_size=batch, flush_interval_s=3600), folder)
    started = time.perf_counter()
    for row in rows:
        ledger.record(row)
    ledger.close()
    return (time.perf_counter() - started) / len(rows)


def best_of(times: int, action: Any) -> tuple[float, Any]:
    runs = []
    for _ in range(times):
        started = time.perf_counter()
        result = action()
        runs.append((time.perf_counter() - started, result))
    return min(runs, key=lambda run: run[0])


def python_report(ledger: Any) -> dict[str, int]:
    """The by-model report done in Python: every row fetched, summed in a dict."""
    import sqlalchemy as sa

    t = ledger.table
    since, until = MONTH, datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    totals: dict[str, int] = {}
    with ledger.engine.connect() as conn:
        query = sa.select(t.c.model, t.c.usd_nanos).where(t.c.ts >= since, t.c.ts < until)
        for model, nanos in conn.execute(query):
            totals[model] = totals.get(model, 0) + nanos
    return totals


def reports(folder: Path, expected_total: Decimal) -> dict[str, float]:
    from ragline.core.pricing import from_nanos
    from ragline.mltrack.costs.config import LedgerConfig
    from ragline.mltrack.costs.ledger import Ledger

    ledger = Ledger(LedgerConfig(), folder)
    seconds: dict[str, float] = {}
    for by in ("model", "day", "component"):
        took, rows = best_of(
            3, lambda by=by: ledger.report(date(2026, 11, 1), date(2026, 12, 1), by)
        )
        assert sum(r.usd for r in rows) == expected_total, "a report lost a nano-dollar"
        seconds[by] = took
        log(f"report by {by}: {len(rows)} groups, {took:.3f} s, ${sum(r.usd for r in rows)}")
    took, totals = best_of(3, lambda: python_report(ledger))
    assert from_nanos(sum(totals.values())) == expected_total
    seconds["python"] = took
    log(f"baseline (rows fetched, summed in Python): {took:.3f} s")
    ledger.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--unbatched", type=int, default=2000)
    args = parser.parse_args()
    describe(__doc__)
    rows = entries(args.events)
    total = sum((r.usd for r in rows), Decimal(0))
    with workdir("ledger") as tmp:
        unbatched = write(tmp / "unbatched", rows[: args.unbatched], batch=1)
        log(f"unbatched (batch_size=1): {unbatched * 1e3:.4f} ms/event over {args.unbatched}")
        sample = rows[:100_000]
        batched = statistics.median(
            write(tmp / f"batched-{i}", sample, args.batch) for i in range(3)
        )
        log(f"batched ({args.batch}): {batched * 1e3:.4f} ms/event (median of 3 x {len(sample):,})")
        started = time.perf_counter()
        write(tmp / "month", rows, args.batch)
        log(f"wrote {args.events:,} events in {time.perf_counter() - started:.1f} s")
        seconds = reports(tmp / "month", total)
    figure(
        "ledger_write_ms_per_event", batched * 1e3, target="<=0.2",
        baseline=f"batch_size=1:{unbatched * 1e3:.4f}ms", ratio=batched / unbatched,
    )  # fmt: skip
    worst = max(seconds[by] for by in ("model", "day", "component"))
    figure(
        "ledger_month_report_s", worst, target="<=2", ratio=seconds["model"] / seconds["python"],
        baseline=f"python_sum:{seconds['python']:.3f}s",
        extra={"events": str(args.events), **{f"by_{k}": f"{v:.3f}" for k, v in seconds.items()}},
    )  # fmt: skip


if __name__ == "__main__":
    main()
