"""Feature store speed: online lookups of 20 features (Redis) and a 1M x 10M point-in-time join.

    .venv/bin/python bench/feature_store_speed.py [--redis-url redis://127.0.0.1:6379/15]
        [--entities 10000] [--lookups 20000] [--labels 1000000] [--rows 10000000]
        [--join-entities 100000] [--naive-fraction 0.01] [--skip-online] [--skip-join]

Online: 20 float64 features of --entities entities are pushed with `OnlineStore.write_rows`
(pipelined), then --lookups reads of random entities, each `OnlineStore.read` (one HMGET and the
typed decoding) timed alone; p50 and p99 in ms. Baseline in the same run, interleaved with ours:
the same lookup as 20 separate HGETs (raw bytes, no decoding); ratio = baseline p99 / ours.
Also one PING per lookup: the round-trip floor, which shows how much of the tail is the machine.
Target: p99 <= 2 ms.
Keys live under a fresh prefix and are deleted afterwards.

Join: --rows feature rows (int32 entity ids, --join-entities of them, random times over a year,
10 float32 features; ordered by entity then time, as `materialize` writes them) and --labels
label rows; `point_in_time_join` timed end to end (sort,
binary search per entity block, staleness check, the training frame), best of --repeats; then
once on the same rows shuffled (the path that sorts first).
Baseline in the same run: `pandas.merge_asof(by="user")` on the same frames (sorts included),
checked to pick the same rows; ratio = merge_asof seconds / ours. Also the naive join (every
label with all its entity's rows, keep the past, take the latest) on --naive-fraction of the
entities, extrapolated linearly, checked equal to ours on that slice. Target: <= 30 s.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd

from common import describe, figure, log
from ragline.mltrack.features.offline import JoinResult, OfflineTable, point_in_time_join
from ragline.mltrack.features.online import OnlineStore
from ragline.mltrack.features.registry import FeatureDefinition
from ragline.mltrack.features.transform import FEATURE_TS

START = np.datetime64("2025-01-01T00:00:00", "ns")
YEAR_NS = 365 * 86_400 * 10**9


def _definitions(count: int) -> list[FeatureDefinition]:
    return [
        FeatureDefinition(
            name=f"user_f{i:02d}_7d_mean",
            description="synthetic",
            dtype="float64",
            source_table="events",
            owner="bench",
            created=date(2026, 11, 26),
        )
        for i in range(count)
    ]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    values = np.array(samples) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def _lookups(
    store: OnlineStore, features: list[FeatureDefinition], ids: list[int]
) -> tuple[list[float], list[float], list[float]]:
    """Seconds per lookup: ours, 20 separate HGETs, one PING; interleaved, so that machine
    load hits all three alike."""
    client, names = store._client, [d.name for d in features]
    ours, separate, ping = [], [], []
    for entity_id in ids:
        t0 = time.perf_counter()
        store.read("user", entity_id, features)
        t1 = time.perf_counter()
        key = store.key("user", entity_id)
        for name in names:
            client.hget(key, name)
        t2 = time.perf_counter()
        client.ping()
        t3 = time.perf_counter()
        ours.append(t1 - t0)
        separate.append(t2 - t1)
        ping.append(t3 - t2)
    return ours, separate, ping


def online(url: str, entities: int, lookups: int) -> None:
    features = _definitions(20)
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"user": np.arange(entities), FEATURE_TS: START})
    for d in features:
        rows[d.name] = rng.normal(size=entities)
    prefix = f"ragline-bench:{uuid.uuid4().hex}"
    store = OnlineStore(url, prefix)
    try:
        started = time.perf_counter()
        store.write_rows(rows, "user", "user", features)
        log(f"pushed {entities} entities x 20 features in {time.perf_counter() - started:.2f} s")
        ids = rng.integers(0, entities, lookups).tolist()
        for entity_id in ids[:500]:  # warm the connection and the caches
            store.read("user", entity_id, features)
        ours, separate, ping = _lookups(store, features, ids)
        names = [d.name for d in features]
        assert store.read("user", ids[0], features).values[names[0]] == rows.at[ids[0], names[0]]
    finally:
        deleted = store.delete("user", list(range(entities)))
        store.close()
    p50, p99 = _percentiles(ours)
    b50, b99 = _percentiles(separate)
    log(f"one HMGET + decoding: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {lookups} lookups")
    log(f"20 separate HGETs:    p50 {b50:.3f} ms, p99 {b99:.3f} ms; {deleted} keys removed")
    f50, f99 = _percentiles(ping)
    log(f"one PING (the round-trip floor on this machine now): p50 {f50:.3f} ms, p99 {f99:.3f} ms")
    figure(
        "online_lookup_p99_ms",
        p99,
        target="<=2",
        baseline="20-separate-HGETs",
        ratio=b99 / p99,
        extra={
            "p50_ms": f"{p50:.3f}",
            "baseline_p99_ms": f"{b99:.3f}",
            "target_ratio": f"{2 / p99:.1f}",
            "ping_p99_ms": f"{f99:.3f}",
            "lookups": str(lookups),
        },
    )


def join_inputs(rows: int, labels: int, entities: int) -> tuple[OfflineTable, pd.DataFrame]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "user": rng.integers(0, entities, rows, dtype=np.int32),
            FEATURE_TS: START + rng.integers(0, YEAR_NS, rows).astype("timedelta64[ns]"),
        }
    )
    frame = frame.iloc[np.lexsort((frame[FEATURE_TS], frame["user"]))].reset_index(drop=True)
    names = [f"user_f{i}_7d_mean" for i in range(10)]
    for name in names:
        frame[name] = rng.normal(size=rows).astype(np.float32)
    label_frame = pd.DataFrame(
        {
            "user": rng.integers(0, entities, labels, dtype=np.int32),
            "label_ts": START + rng.integers(0, YEAR_NS, labels).astype("timedelta64[ns]"),
            "y": rng.integers(0, 2, labels, dtype=np.int8),
        }
    )
    return OfflineTable(frame, "events", "user", tuple(names)), label_frame


def naive_join(labels: pd.DataFrame, table: OfflineTable) -> pd.DataFrame:
    """Every (label, row) pair of an entity, filtered to the past, the latest kept."""
    pairs = labels.reset_index(names="__row").merge(table.rows, on="user", how="left")
    pairs = pairs[pairs[FEATURE_TS] <= pairs["label_ts"]]
    latest = pairs.sort_values(FEATURE_TS).drop_duplicates("__row", keep="last")
    return latest.set_index("__row").reindex(range(len(labels)))


def merge_asof_join(labels: pd.DataFrame, table: OfflineTable) -> pd.DataFrame:
    """The textbook pandas point-in-time join, labels back in their order."""
    left = labels.reset_index(names="__row").sort_values("label_ts", kind="stable")
    right = table.rows.sort_values(FEATURE_TS, kind="stable")
    merged = pd.merge_asof(left, right, left_on="label_ts", right_on=FEATURE_TS, by="user")
    return merged.sort_values("__row").reset_index(drop=True)


def _timed(work: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def _naive_seconds(table: OfflineTable, labels: pd.DataFrame, cut: int) -> float:
    """The naive join's seconds on entities below `cut`, checked equal to ours there."""
    small = OfflineTable(
        table.rows[table.rows["user"] < cut].reset_index(drop=True),
        "events",
        "user",
        table.features,
    )
    small_labels = labels[labels["user"] < cut].reset_index(drop=True)
    seconds, naive = _timed(lambda: naive_join(small_labels, small), 1)
    assert isinstance(naive, pd.DataFrame)
    ours = point_in_time_join(small_labels, small, "label_ts").frame
    same = ours[FEATURE_TS].equals(naive[FEATURE_TS].reset_index(drop=True))
    assert same, "the naive join and point_in_time_join disagree"
    log(
        f"naive merge-filter-latest on {cut} entities ({len(small_labels)} labels): "
        f"{seconds:.2f} s; same rows"
    )
    return seconds


def join(rows: int, labels: int, entities: int, fraction: float, repeats: int) -> None:
    table, label_frame = join_inputs(rows, labels, entities)
    mb = table.rows.memory_usage(deep=True).sum() / 1e6
    log(f"{rows} feature rows ({mb:.0f} MB), {labels} labels, {entities} entities")
    ours_s, result = _timed(
        lambda: point_in_time_join(label_frame, table, "label_ts", timedelta(days=30)), repeats
    )
    assert isinstance(result, JoinResult)
    log(
        f"point_in_time_join {ours_s:.2f} s (best of {repeats}): {result.matched} matched, "
        f"{result.missing} missing, {result.stale} stale (30 days)"
    )
    shuffled = OfflineTable(
        table.rows.sample(frac=1.0, random_state=3), "events", "user", table.features
    )
    unsorted_s, again = _timed(
        lambda: point_in_time_join(label_frame, shuffled, "label_ts", timedelta(days=30)), 1
    )
    assert isinstance(again, JoinResult) and again.frame.equals(result.frame)
    log(f"the same rows in random order (one lexsort first): {unsorted_s:.2f} s")
    asof_s, asof = _timed(lambda: merge_asof_join(label_frame, table), 1)
    assert isinstance(asof, pd.DataFrame)
    plain = point_in_time_join(label_frame, table, "label_ts").frame
    assert plain[FEATURE_TS].equals(asof[FEATURE_TS]), "merge_asof and point_in_time_join differ"
    log(f"pandas.merge_asof(by=user) {asof_s:.2f} s; same rows as point_in_time_join")
    naive_s = _naive_seconds(table, label_frame, int(entities * fraction)) / fraction
    figure(
        "pit_join_seconds",
        ours_s,
        target="<=30",
        baseline="pandas-merge_asof-by-entity",
        ratio=asof_s / ours_s,
        extra={
            "rows": str(rows),
            "labels": str(labels),
            "merge_asof_s": f"{asof_s:.2f}",
            "unsorted_rows_s": f"{unsorted_s:.2f}",
            "naive_extrapolated_s": f"{naive_s:.1f}",
            "target_ratio": f"{30 / ours_s:.1f}",
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--join-entities", type=int, default=100_000)
    parser.add_argument("--naive-fraction", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-online", action="store_true")
    parser.add_argument("--skip-join", action="store_true")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[1] + "\n\n" + __doc__.split("\n\n")[2])
    if not args.skip_online:
        online(args.redis_url, args.entities, args.lookups)
    if not args.skip_join:
        join(args.rows, args.labels, args.join_entities, args.naive_fraction, args.repeats)


if __name__ == "__main__":
    main()
