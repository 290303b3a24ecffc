"""Temporal features: lags, rolling statistics, time since the last event, sin/cos cycles.

    frame, names = add_temporal_features(frame, specs, time_column="ts", entity_column="store")

Every feature looks only backwards: rows are ordered by time within each entity, a lag k is the
value k rows earlier, and rolling statistics cover the ``window`` rows *before* the current one,
so a lag or rolling mean of the target itself does not leak the row's own label. Nothing is
fitted, so the features are computed once on the whole frame (the test rows' lags may read the
last train rows, which a model in production would also have seen) and no `FitRecord` is made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import TemporalFeature

_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PERIODS = {"dayofweek": 7.0, "month": 12.0, "hour": 24.0, "dayofyear": 365.25}


def parse_times(series: pd.Series, column: str) -> pd.Series:
    """``series`` as datetimes (numbers and datetimes are kept); `DataError` if unparseable.

    Example:
        >>> parse_times(pd.Series(["2024-01-02", "2024-01-01"]), "ts").dt.day.tolist()
        [2, 1]
    """
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series
    try:
        return pd.to_datetime(series)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"column {column!r} cannot be read as datetimes ({exc}); write ISO 8601 "
            "timestamps (2024-01-31T12:00:00) or numbers"
        ) from exc


def _cycle_values(times: pd.Series, cycle: str) -> pd.Series:
    if cycle == "dayofweek":
        return times.dt.day_of_week.astype(float)
    if cycle == "month":
        return (times.dt.month - 1).astype(float)
    if cycle == "hour":
        return times.dt.hour.astype(float)
    return (times.dt.day_of_year - 1).astype(float)


def _numeric(values: pd.Series, spec: TemporalFeature) -> pd.Series:
    if not pd.api.types.is_numeric_dtype(values):
        raise DataError(
            f"features.temporal: lags/rolling of {spec.column!r} need a numeric column, "
            f"got {values.dtype}; encode it as numbers first"
        )
    return values.astype(float)


def _lags_and_rolling(
    values: pd.Series, keys: pd.Series | None, spec: TemporalFeature
) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    if not (spec.lags or spec.rolling):
        return out
    numeric = _numeric(values, spec)
    grouped = numeric.groupby(keys, sort=False, dropna=False) if keys is not None else None
    for lag in spec.lags:
        out[f"{spec.column}__lag{lag}"] = grouped.shift(lag) if grouped else numeric.shift(lag)
    previous = grouped.shift(1) if grouped else numeric.shift(1)
    for roll in spec.rolling:
        if keys is not None:
            window = previous.groupby(keys, sort=False, dropna=False).rolling(
                roll.window, min_periods=1
            )
        else:
            window = previous.rolling(roll.window, min_periods=1)
        for stat in roll.stats:
            result = getattr(window, stat)()
            if keys is not None:
                result = result.droplevel(0)
            out[f"{spec.column}__roll{roll.window}_{stat}"] = result
    return out


def _time_features(
    values: pd.Series, keys: pd.Series | None, spec: TemporalFeature
) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    if not (spec.time_since or spec.cycles):
        return out
    times = parse_times(values, spec.column)
    if spec.time_since:
        before = (
            times.groupby(keys, sort=False, dropna=False).shift(1)
            if keys is not None
            else (times.shift(1))
        )
        gap = times - before
        if pd.api.types.is_timedelta64_dtype(gap):
            gap = gap.dt.total_seconds() / _UNIT_SECONDS[spec.unit]
        out[f"{spec.column}__since_last_{spec.unit}"] = gap.astype(float)
    if spec.cycles and not pd.api.types.is_datetime64_any_dtype(times):
        raise DataError(f"features.temporal: cycles of {spec.column!r} need datetimes")
    for cycle in spec.cycles:
        angle = 2.0 * np.pi * _cycle_values(times, cycle) / _PERIODS[cycle]
        out[f"{spec.column}__{cycle}_sin"] = np.sin(angle)
        out[f"{spec.column}__{cycle}_cos"] = np.cos(angle)
    return out


def add_temporal_features(
    frame: pd.DataFrame,
    specs: Sequence[TemporalFeature],
    *,
    time_column: str,
    entity_column: str | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """``frame`` with the temporal feature columns appended (same row order), and their names.

    Example:
        >>> frame = pd.DataFrame({"t": [1, 2, 3], "sales": [10.0, 20.0, 30.0]})
        >>> out, names = add_temporal_features(
        ...     frame, [TemporalFeature(column="sales", lags=[1])], time_column="t")
        >>> out["sales__lag1"].tolist()[1:]
        [10.0, 20.0]
    """
    if not specs:
        return frame, ()
    for column in [time_column, entity_column, *(s.column for s in specs)]:
        if column is not None and column not in frame.columns:
            raise DataError(f"features.temporal: column {column!r} is not in the data")
    order_frame = pd.DataFrame({"t": parse_times(frame[time_column], time_column)})
    sort_by = ["t"]
    if entity_column is not None:
        order_frame.insert(0, "e", pd.factorize(frame[entity_column])[0])
        sort_by = ["e", "t"]
    ordered = frame.loc[order_frame.sort_values(sort_by, kind="stable").index]
    keys = ordered[entity_column] if entity_column is not None else None
    columns: dict[str, pd.Series] = {}
    for spec in specs:
        columns.update(_lags_and_rolling(ordered[spec.column], keys, spec))
        columns.update(_time_features(ordered[spec.column], keys, spec))
    clash = sorted(set(columns) & set(frame.columns))
    if clash:
        raise DataError(f"features.temporal: output columns {clash} already exist; rename them")
    new = pd.DataFrame(columns, index=ordered.index).reindex(frame.index)
    return pd.concat([frame, new], axis=1), tuple(new.columns)
