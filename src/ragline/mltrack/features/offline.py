"""The offline store: feature rows in Parquet, and point-in-time joins for training sets.

    table = materialize(events, registry, "grunfeld")          # the one transformation
    write_offline(table, Path("offline.parquet"))
    result = point_in_time_join(labels, read_offline(Path("offline.parquet")), "label_ts")
    result.frame                                               # labels + feature_ts + features

Point in time: each label row (entity, label time) gets the entity's latest feature row with
`feature_ts <= label time` (an equal time counts: the event was known then), never a later one;
with `max_staleness`, a row older than that is treated as missing. The same rule decides what
the online store serves (`online.OnlineStore.read(at=..., max_staleness=...)`). The search is
vectorised numpy (`latest_positions`), faster than `pandas.merge_asof(by=...)` on large tables
(bench/feature_store_speed.py measures both).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from ragline.mltrack.errors import DataError
from ragline.mltrack.features.errors import RegistryError
from ragline.mltrack.features.registry import FeatureRegistry
from ragline.mltrack.features.transform import (
    FEATURE_TS,
    check_columns,
    compute_feature_rows,
    event_times,
)

_ATTRS = "ragline.features"  # the DataFrame.attrs key pandas keeps in the Parquet metadata


@dataclass(frozen=True)
class OfflineTable:
    """Feature rows of one source table: entity key, `feature_ts`, one column per feature.

    Example:
        >>> table = materialize(grunfeld_events(), registry, "grunfeld")
        >>> table.rows.columns[:2].tolist(), table.features[:1]
        (['firm', 'feature_ts'], ('firm_invest_all_mean',))
    """

    rows: pd.DataFrame
    source_table: str
    entity_key: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class JoinResult:
    """A training frame and how its label rows fared.

    `missing`: labels with no feature row at or before their time (new entity, or a label
    before the entity's first event); `stale`: labels whose latest row was older than the
    allowed staleness. Both get empty feature values.
    """

    frame: pd.DataFrame
    matched: int
    missing: int
    stale: int


def materialize(events: pd.DataFrame, registry: FeatureRegistry, table: str) -> OfflineTable:
    """Every feature of `table`, computed over `events` (the table's rows)."""
    features = registry.for_source(table)
    if not features:
        raise RegistryError(f"no feature is defined on table {table!r}; add one first")
    source = registry.sources[table]
    rows = compute_feature_rows(events, features, source)
    return OfflineTable(rows, table, source.entity_key, tuple(d.name for d in features))


def write_offline(table: OfflineTable, path: Path) -> None:
    """Write the rows to Parquet (atomically), with the table's description in its metadata."""
    rows = table.rows.copy(deep=False)
    rows.attrs = {
        _ATTRS: {
            "source_table": table.source_table,
            "entity_key": table.entity_key,
            "features": list(table.features),
        }
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        rows.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_offline(path: Path) -> OfflineTable:
    """Read a file `write_offline` wrote; `DataError` for any other file."""
    if not path.is_file():
        raise DataError(f"no feature file at {path}; run `ragline features materialize` first")
    try:
        rows = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} as Parquet: {exc}") from None
    meta = rows.attrs.get(_ATTRS)
    if not isinstance(meta, dict):
        raise DataError(
            f"{path} has no feature-table metadata; give a file written by "
            "`ragline features materialize`"
        )
    rows.attrs = {}
    return OfflineTable(
        rows, str(meta["source_table"]), str(meta["entity_key"]), tuple(meta["features"])
    )


def _join_keys(left: pd.Series, right: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Entity ids of labels and features in one dtype (merge_asof's `by` needs equal dtypes)."""
    if left.dtype == right.dtype:
        return left, right
    numeric = pd.api.types.is_numeric_dtype
    if numeric(left) and numeric(right):
        return left.astype("float64"), right.astype("float64")
    return left.astype(str), right.astype(str)


def _grouped_order(
    codes: npt.NDArray[np.intp], times: npt.NDArray[np.int64]
) -> npt.NDArray[np.intp] | None:
    """None when rows already run entity by entity, each in time order (as `materialize`
    writes them, codes numbered by first appearance); else the sorting permutation."""
    step, later = np.diff(codes), np.diff(times)
    if bool(np.all((step == 0) & (later >= 0) | (step > 0))):
        return None
    return np.lexsort((times, codes))  # stable: equal times keep the file's order


def latest_positions(
    right_key: pd.Series,
    right_ts: npt.NDArray[np.int64],
    left_key: pd.Series,
    left_ts: npt.NDArray[np.int64],
) -> npt.NDArray[np.intp]:
    """For each left (entity, time): the position of the right row of that entity with the
    latest time at or before it (ties: the later row), or -1.

    Vectorised numpy: the right rows, grouped by entity and sorted by time (already so when
    `materialize` wrote them, else one lexsort), are searched by a binary search that runs for
    all left rows at once, each within its entity's block.

    Example:
        >>> right, times = pd.Series([1, 1, 2]), np.array([10, 20, 10])
        >>> latest_positions(right, times, pd.Series([1, 1, 2, 3]), np.array([15, 5, 10, 99]))
        array([ 0, -1,  2, -1])
    """
    codes, uniques = pd.factorize(right_key)
    wanted = pd.Index(uniques).get_indexer(left_key)
    order = _grouped_order(codes, right_ts)
    times = right_ts if order is None else right_ts[order]
    ends = np.cumsum(np.bincount(codes, minlength=len(uniques)))
    known = wanted >= 0
    starts = np.where(known, (ends - np.bincount(codes, minlength=len(uniques)))[wanted], 0)
    # lo..hi narrows to the first row later than the left time; the row before it is the answer
    lo, hi = starts.copy(), np.where(known, ends[wanted], 0)
    by_entity = np.argsort(wanted, kind="stable")  # neighbouring searches touch nearby memory
    lo, hi, at = lo[by_entity], hi[by_entity], left_ts[by_entity]
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        later = times[np.minimum(mid, len(times) - 1)] > at
        lo = np.where(active & ~later, mid + 1, lo)
        hi = np.where(active & later, mid, hi)
    found = np.empty_like(lo)
    found[by_entity] = lo - 1
    found = np.where(known & (found >= starts), found, -1)
    if order is None:
        return found
    return np.where(found >= 0, order[np.maximum(found, 0)], -1)


def _latest_rows(
    labels: pd.DataFrame, table: OfflineTable, label_time: str
) -> tuple[pd.DataFrame, npt.NDArray[np.datetime64]]:
    """Per label (in the labels' order): the latest feature row at or before its time."""
    left_key, right_key = _join_keys(labels[table.entity_key], table.rows[table.entity_key])
    times = event_times(labels[label_time], label_time).to_numpy()
    right_ts = table.rows[FEATURE_TS].astype("datetime64[ns]").to_numpy().view(np.int64)
    rows = latest_positions(right_key, right_ts, left_key, times.view(np.int64))
    none = pd.Series(rows < 0)
    picked = {
        c: table.rows[c].take(np.maximum(rows, 0)).reset_index(drop=True).mask(none)
        for c in (FEATURE_TS, *table.features)
    }
    return pd.DataFrame(picked), times


def point_in_time_join(
    labels: pd.DataFrame,
    table: OfflineTable,
    label_time: str,
    max_staleness: timedelta | None = None,
) -> JoinResult:
    """Labels (in their order) with the features known at each label's time.

    Example:
        >>> result = point_in_time_join(labels, table, "label_ts", timedelta(days=150))
        >>> result.missing, result.stale  # Grunfeld: June labels are 181 days after a year-end
        (11, 231)
    """
    check_columns(labels, [table.entity_key, label_time], "the labels table")
    clash = [c for c in (FEATURE_TS, *table.features) if c in labels.columns]
    if clash:
        raise DataError(
            f"the labels table already has column(s) {', '.join(clash)}; drop or rename them"
        )
    found, times = _latest_rows(labels, table, label_time)
    missing = found[FEATURE_TS].isna().to_numpy()
    stale = np.zeros(len(found), dtype=bool)
    if max_staleness is not None:
        stale = ~missing & (times - found[FEATURE_TS].to_numpy() > np.timedelta64(max_staleness))
        found = pd.DataFrame({c: found[c].mask(stale) for c in found.columns})
    frame = pd.concat([labels.reset_index(drop=True), found], axis=1)
    gone = int(missing.sum()) + int(stale.sum())
    return JoinResult(frame, len(frame) - gone, int(missing.sum()), int(stale.sum()))
