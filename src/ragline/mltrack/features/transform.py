"""The one transformation: events in, feature rows out, for training and for serving alike.

    rows = compute_feature_rows(events, registry.for_source("users"), registry.sources["users"])
    # rows: firm, feature_ts, firm_invest_all_mean, ... : one row per (entity, event time)

A feature row at time t holds every feature computed over the entity's events in the window
(t - window, t] (`all`: every event up to t), t being the time of one of the entity's events.
The offline store materialises all rows of a table at once; the online write path (`stream`)
calls the same function on one entity's history when an event arrives and writes the last row.
Both therefore serve the same numbers: between two events a feature keeps the value of the
entity's latest event (windows are not re-evaluated at read time), which is what a store that
is written on events can serve, and what the point-in-time join gives training.

Each entity is computed on its own rows (pandas' grouped rolling kernels restart at a group's
first row), so a batch over many entities and a call on one entity's events give identical
floats; `tests/mltrack/features/test_replay.py` checks this on a real data set.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from ragline.mltrack.errors import DataError
from ragline.mltrack.features.registry import FeatureDefinition, SourceTable

FEATURE_TS = "feature_ts"
_PANDAS_DTYPES = {"float64": "float64", "int64": "Int64", "bool": "boolean", "string": "string"}


def event_times(series: pd.Series, column: str) -> pd.Series:
    """`series` as naive datetime64[ns] (UTC for zone-aware input); `DataError` when it is not.

    Example:
        >>> event_times(pd.Series(["2024-01-02", "2024-01-01T06:00"]), "ts").dt.day.tolist()
        [2, 1]
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        raise DataError(
            f"column {column!r} holds numbers, not times; write ISO 8601 times "
            "(1954-12-31 or 2024-01-31T12:00:00) so that windows have a unit"
        )
    try:
        if pd.api.types.is_datetime64_any_dtype(series):
            times = series
        else:  # naive strings are read as UTC, strings with an offset are converted to it
            times = pd.to_datetime(series, format="ISO8601", utc=True)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"column {column!r} cannot be read as times ({exc}); write ISO 8601 times"
        ) from None
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = int(times.isna().sum())
    if missing:
        raise DataError(f"column {column!r} has {missing} empty time(s); fill or drop those rows")
    return times.astype("datetime64[ns]")


def check_columns(frame: pd.DataFrame, columns: Sequence[str], role: str) -> None:
    """`DataError` naming every column of `columns` that `frame` lacks."""
    missing = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{role} lacks column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, frame.columns))}"
        )


def _numeric(values: pd.Series, definition: FeatureDefinition) -> pd.Series:
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        raise DataError(
            f"{definition.name}: {definition.parsed.aggregation} needs a numeric column, but "
            f"{definition.column!r} is {values.dtype}; use count or last, or encode it as numbers"
        )
    return values.astype("float64")


def _last(
    values: pd.Series,
    starts: npt.NDArray[np.intp],
    ts: npt.NDArray[np.int64],
    delta: timedelta | None,
) -> pd.Series:
    """The latest non-missing value in each row's window (rows sorted by entity, then time)."""
    positions = np.arange(len(values))
    last = np.maximum.accumulate(np.where(values.notna().to_numpy(), positions, -1))
    valid = last >= starts  # not a value of the previous entity
    if delta is not None:
        valid &= ts[np.maximum(last, 0)] > ts - pd.Timedelta(delta).value
    picked = values.iloc[np.where(valid, last, 0)].reset_index(drop=True)
    return picked.where(pd.Series(valid))


def _aggregate(
    values: pd.Series,
    codes: npt.NDArray[np.intp],
    starts: npt.NDArray[np.intp],
    definition: FeatureDefinition,
) -> pd.Series:
    """One feature's value at every row; `values` is indexed by the (sorted) event times."""
    aggregation, delta = definition.parsed.aggregation, definition.parsed.window_delta
    if aggregation == "last":
        return _last(values, starts, values.index.asi8, delta)
    if aggregation == "count":
        numbers = values.notna().astype("float64")
        aggregation = "sum"  # a count of the non-missing values, the same for any dtype
    else:
        numbers = _numeric(values, definition)
    grouped = numbers.groupby(codes, sort=False)
    window = grouped.expanding() if delta is None else grouped.rolling(delta)
    result = getattr(window, aggregation)()
    if definition.parsed.aggregation == "count":
        result = result.fillna(0.0)
    return pd.Series(result.to_numpy())


def _typed(values: pd.Series, definition: FeatureDefinition) -> pd.Series:
    try:
        return values.astype(_PANDAS_DTYPES[definition.dtype])
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{definition.name}: values of {definition.column!r} do not fit dtype "
            f"{definition.dtype} ({exc}); declare the dtype the data has (float64 for decimals)"
        ) from None


def compute_feature_rows(
    events: pd.DataFrame, features: Sequence[FeatureDefinition], source: SourceTable
) -> pd.DataFrame:
    """Feature rows of every (entity, event time) in `events`, sorted by entity then time.

    Columns: the source's entity key, `feature_ts`, then one column per feature in the order
    given, typed by each definition's dtype (float64, nullable Int64/boolean, string).

    Example:
        >>> src = SourceTable(entity_key="u", timestamp_column="ts")
        >>> d = FeatureDefinition(name="u_x_2d_sum", description="x", dtype="float64",
        ...     source_table="t", owner="me", created="2026-01-01")
        >>> ev = pd.DataFrame({"u": [1, 1, 1], "ts": ["2024-01-01", "2024-01-02", "2024-01-03"],
        ...                    "x": [1.0, 2.0, 4.0]})
        >>> compute_feature_rows(ev, [d], src)["u_x_2d_sum"].tolist()
        [1.0, 3.0, 6.0]
    """
    key, ts_column = source.entity_key, source.timestamp_column
    check_columns(events, [key, ts_column, *(d.column for d in features)], "the events table")
    if events[key].isna().any():
        raise DataError(f"column {key!r} has empty entity ids; fill or drop those rows")
    if events.empty:
        raise DataError("the events table has no rows; nothing to compute features from")
    times = event_times(events[ts_column], ts_column).to_numpy()
    codes, _ = pd.factorize(events[key], sort=True)
    order = np.lexsort((times.view("int64"), codes))  # stable: ties keep the file's order
    codes, times = codes[order], times[order]
    ts = times.view("int64")
    new_entity = np.r_[True, codes[1:] != codes[:-1]]
    starts = np.maximum.accumulate(np.where(new_entity, np.arange(len(codes)), 0))
    index = pd.DatetimeIndex(times)
    columns: dict[str, object] = {
        key: events[key].iloc[order].reset_index(drop=True),
        FEATURE_TS: times,
    }
    for definition in features:
        values = events[definition.column].iloc[order].set_axis(index)
        columns[definition.name] = _typed(_aggregate(values, codes, starts, definition), definition)
    # Rows of one entity at one time: the last one has seen all of them.
    keep = np.r_[(codes[1:] != codes[:-1]) | (ts[1:] != ts[:-1]), True]
    return pd.DataFrame(columns).loc[keep].reset_index(drop=True)
