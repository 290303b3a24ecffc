"""Temporal features on a small synthetic daily series: past-only, per entity, order kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import Rolling, TemporalFeature
from ragline.mltrack.tabular.temporal import add_temporal_features

from .conftest import store_sales

pytestmark = pytest.mark.unit


@pytest.fixture
def sales() -> pd.DataFrame:
    return store_sales(stores=3, days=30)


def _store(frame: pd.DataFrame, store: str) -> pd.DataFrame:
    return frame[frame["store"] == store].sort_values("date")


def test_lags_and_rolling_look_only_backwards_within_each_store(sales: pd.DataFrame) -> None:
    spec = TemporalFeature(
        column="sales", lags=[1, 7], rolling=[Rolling(window=3, stats=["mean", "max"])]
    )
    out, names = add_temporal_features(sales, [spec], time_column="date", entity_column="store")
    assert names == ("sales__lag1", "sales__lag7", "sales__roll3_mean", "sales__roll3_max")
    assert out.index.equals(sales.index)  # the caller's row order is kept
    s1 = _store(out, "s1")
    values = s1["sales"].to_numpy()
    assert np.isnan(s1["sales__lag1"].iloc[0])  # no earlier row of s1 (s0's rows do not leak in)
    np.testing.assert_allclose(s1["sales__lag1"].to_numpy()[1:], values[:-1])
    np.testing.assert_allclose(s1["sales__lag7"].to_numpy()[7:], values[:-7])
    # rolling over the 3 rows *before* each row: the row's own value is never included
    np.testing.assert_allclose(s1["sales__roll3_mean"].to_numpy()[5], values[2:5].mean())
    np.testing.assert_allclose(s1["sales__roll3_max"].to_numpy()[5], values[2:5].max())
    np.testing.assert_allclose(s1["sales__roll3_mean"].to_numpy()[1], values[0])


def test_time_since_and_cycles(sales: pd.DataFrame) -> None:
    gappy = sales.drop(index=_store(sales, "s0").index[[3, 4]])  # s0 misses two days
    spec = TemporalFeature(column="date", time_since=True, unit="d", cycles=["dayofweek", "month"])
    out, names = add_temporal_features(gappy, [spec], time_column="date", entity_column="store")
    assert names == (
        "date__since_last_d",
        "date__dayofweek_sin",
        "date__dayofweek_cos",
        "date__month_sin",
        "date__month_cos",
    )
    gaps = _store(out, "s0")["date__since_last_d"].to_numpy()
    assert np.isnan(gaps[0]) and gaps[3] == 3.0 and set(gaps[1:]) == {1.0, 3.0}
    monday = out[out["date"] == pd.Timestamp("2024-01-01")].iloc[0]  # a Monday: day_of_week 0
    assert monday["date__dayofweek_sin"] == pytest.approx(0.0)
    assert monday["date__dayofweek_cos"] == pytest.approx(1.0)
    radius = out["date__month_sin"] ** 2 + out["date__month_cos"] ** 2
    np.testing.assert_allclose(radius, 1.0)


def test_without_an_entity_the_frame_is_one_series() -> None:
    frame = pd.DataFrame({"t": [3, 1, 2], "v": [30.0, 10.0, 20.0]})
    out, _ = add_temporal_features(frame, [TemporalFeature(column="v", lags=[1])], time_column="t")
    lag = out["v__lag1"]
    assert lag.iloc[0] == 20.0 and np.isnan(lag.iloc[1]) and lag.iloc[2] == 10.0


def test_errors_say_what_to_fix(sales: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="need a numeric column"):
        add_temporal_features(
            sales, [TemporalFeature(column="store", lags=[1])], time_column="date"
        )
    with pytest.raises(DataError, match="'nope' is not in the data"):
        add_temporal_features(sales, [TemporalFeature(column="nope", lags=[1])], time_column="date")
    with pytest.raises(DataError, match="cannot be read as datetimes"):
        add_temporal_features(
            sales.assign(date="not a date"),
            [TemporalFeature(column="sales", lags=[1])],
            time_column="date",
        )
