"""The seasonal-naive forecast: each row's target ``season`` rows earlier in its entity.

    frame["co2__seasonal_naive52"] = seasonal_naive(frame, target="co2", time_column="week",
                                                    season=52)

The forecast every time-series model must beat (Hyndman & Athanasopoulos, *Forecasting:
Principles and Practice*, 5.2): for weekly data with a yearly cycle, ``season: 52`` predicts
this week's value as the value of the same week last year. Rows are ordered by time within each
entity, exactly as `ragline.mltrack.tabular.temporal` orders them, and the value is read from an
earlier row only, so it never sees the row's own target. A row with fewer than ``season`` earlier
rows in its entity gets the plain naive forecast (the previous row's value); an entity's first
row gets NaN (the baseline falls back to the train mean there). Computed once on the whole
table: a test row's forecast may come from a train row, which is what production sees.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ragline.mltrack.errors import DataError

# (median gap between rows, rows per season, the calendar cycle behind it)
_SEASONS = (
    (pd.Timedelta(hours=1), 24, "hour", "hourly rows: a daily cycle of 24"),
    (pd.Timedelta(days=1), 7, "dayofweek", "daily rows: a weekly cycle of 7"),
    (pd.Timedelta(days=7), 52, "dayofyear", "weekly rows: a yearly cycle of 52"),
    (pd.Timedelta(days=30.4), 12, "month", "monthly rows: a yearly cycle of 12"),
)


def seasonal_column(target: str, season: int) -> str:
    """The name of the seasonal-naive column training adds to the table.

    Example:
        >>> seasonal_column("co2", 52)
        'co2__seasonal_naive52'
    """
    return f"{target}__seasonal_naive{season}"


def seasonal_naive(
    frame: pd.DataFrame,
    *,
    target: str,
    time_column: str,
    season: int,
    entity_column: str | None = None,
) -> pd.Series:
    """Each row's forecast (same index as ``frame``): see the module docstring.

    Example:
        >>> frame = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "y": [1.0, 2, 3, 4, 5, 6]})
        >>> seasonal_naive(frame, target="y", time_column="t", season=3).tolist()[1:]
        [1.0, 2.0, 1.0, 2.0, 3.0]
    """
    if season < 1:
        raise DataError(f"baseline.season: {season} rows back; use 1 or more")
    for column in (target, time_column, entity_column):
        if column is not None and column not in frame.columns:
            raise DataError(f"baseline: seasonal_naive needs column {column!r}; it is not there")
    if not pd.api.types.is_numeric_dtype(frame[target]):
        raise DataError(f"data.target: {target!r} must be numeric for a seasonal-naive forecast")
    order = pd.DataFrame({"t": frame[time_column]}, index=frame.index)
    keys = ["t"]
    if entity_column is not None:
        order.insert(0, "e", pd.factorize(frame[entity_column])[0])
        keys = ["e", "t"]
    ordered = frame.loc[order.sort_values(keys, kind="stable").index]
    values = ordered[target].astype(float)
    if entity_column is not None:
        grouped = values.groupby(ordered[entity_column], sort=False, dropna=False)
        forecast = grouped.shift(season).fillna(grouped.shift(1))
    else:
        forecast = values.shift(season).fillna(values.shift(1))
    return forecast.reindex(frame.index).rename(seasonal_column(target, season))


def infer_season(times: pd.Series) -> tuple[int, str | None, str]:
    """``season`` for a series sampled at ``times``: rows per calendar cycle, the cycle's name
    for ``features.temporal.cycles`` (None when no common spacing matches) and why.

    The median gap between consecutive distinct times decides: hourly (within 10%) means 24,
    daily 7, weekly 52, monthly 12; anything else gets 1 (the plain naive forecast).

    Example:
        >>> infer_season(pd.Series(pd.date_range("2024-01-06", periods=60, freq="7D")))[:2]
        (52, 'dayofyear')
    """
    parsed = pd.to_datetime(times, errors="coerce").dropna()
    distinct = np.sort(parsed.unique())
    if distinct.size < 3:
        return 1, None, "too few distinct times to see a cycle: plain naive (season 1)"
    gap = pd.Timedelta(np.median(np.diff(distinct)))
    for step, season, cycle, why in _SEASONS:
        if abs(gap - step) <= step * 0.1:
            return season, cycle, why
    return 1, None, f"rows {gap} apart match no calendar cycle: plain naive (season 1)"
