"""The seasonal-naive forecast on hand-made series (every number checkable by hand), season
inference from time spacing, and the target's own past features kept past-only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.forecast.lags import own_past_features
from ragline.mltrack.forecast.seasonal import infer_season, seasonal_column, seasonal_naive
from ragline.mltrack.tabular.baselines import fit_baseline
from ragline.mltrack.tabular.config import BaselineSpec, Rolling, TemporalFeature
from ragline.mltrack.tabular.temporal import add_temporal_features

pytestmark = pytest.mark.unit


def test_seasonal_naive_reads_season_rows_back_and_falls_back_to_the_last_value() -> None:
    # rows out of time order: the forecast follows time, not file order
    frame = pd.DataFrame({"t": [3, 1, 2, 6, 5, 4, 7], "y": [30.0, 10, 20, 60, 50, 40, 70]})
    out = seasonal_naive(frame, target="y", time_column="t", season=3)
    by_time = dict(zip(frame["t"], out, strict=True))
    assert np.isnan(by_time[1])  # no history at all
    # t=2, t=3: fewer than 3 rows before them, so the previous row's value (plain naive)
    assert (by_time[2], by_time[3]) == (10.0, 20.0)
    # t=4..7: the value 3 rows back
    assert [by_time[t] for t in (4, 5, 6, 7)] == [10.0, 20.0, 30.0, 40.0]
    assert out.name == seasonal_column("y", 3) == "y__seasonal_naive3"


def test_seasonal_naive_stays_within_each_entity() -> None:
    frame = pd.DataFrame(
        {
            "store": ["a", "b", "a", "b", "a", "b"],
            "t": [1, 1, 2, 2, 3, 3],
            "y": [1.0, 100, 2, 200, 3, 300],
        }
    )
    out = seasonal_naive(frame, target="y", time_column="t", season=2, entity_column="store")
    assert out.tolist()[2:] == [1.0, 100.0, 1.0, 100.0]  # b never reads a's values
    assert out.iloc[:2].isna().all()


def test_seasonal_naive_refuses_a_text_target() -> None:
    frame = pd.DataFrame({"t": [1, 2], "y": ["a", "b"]})
    with pytest.raises(DataError, match="must be numeric"):
        seasonal_naive(frame, target="y", time_column="t", season=1)


def test_seasonal_naive_baseline_predicts_the_column_and_the_train_mean_without_history() -> None:
    base = fit_baseline(
        BaselineSpec(kind="seasonal_naive", season=2), "regression", [1.0, 3.0], column="f"
    )
    scores = base.predict(pd.DataFrame({"f": [np.nan, 7.0]}))
    assert base.kind == "seasonal_naive" and scores.tolist() == [2.0, 7.0]


@pytest.mark.parametrize(
    ("freq", "season", "cycle"),
    [("h", 24, "hour"), ("D", 7, "dayofweek"), ("7D", 52, "dayofyear"), ("MS", 12, "month")],
)
def test_season_follows_the_spacing_of_the_times(freq: str, season: int, cycle: str) -> None:
    times = pd.Series(pd.date_range("2024-01-01", periods=40, freq=freq))
    assert infer_season(times)[:2] == (season, cycle)


def test_irregular_times_fall_back_to_plain_naive() -> None:
    times = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-04", "2024-01-15", "2024-02-20"]))
    assert infer_season(times)[:2] == (1, None)


def test_the_targets_own_lags_never_hold_the_rows_own_value() -> None:
    """The leakage check exempts these columns, so they must be past-only: a lag k of row t
    is the target of row t-k in time order, and a rolling mean covers earlier rows only."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"t": rng.permutation(50), "y": rng.normal(size=50)})
    specs = [TemporalFeature(column="y", lags=[1, 3], rolling=[Rolling(window=4)])]
    out, names = add_temporal_features(frame, specs, time_column="t")
    assert set(names) == own_past_features("y", specs)
    ordered = out.sort_values("t").reset_index(drop=True)
    y = ordered["y"].to_numpy()
    assert np.array_equal(ordered["y__lag1"].to_numpy()[1:], y[:-1])
    assert np.array_equal(ordered["y__lag3"].to_numpy()[3:], y[:-3])
    assert np.allclose(
        ordered["y__roll4_mean"].to_numpy()[4:], [y[i - 4 : i].mean() for i in range(4, 50)]
    )
    assert not np.isclose(ordered[list(names)].to_numpy(), y[:, None]).any()


def test_only_the_targets_own_temporal_features_are_exempt() -> None:
    specs = [
        TemporalFeature(column="y", lags=[2]),
        TemporalFeature(column="price", lags=[1]),
        TemporalFeature(column="ts", cycles=["month"]),
    ]
    assert own_past_features("y", specs) == frozenset({"y__lag2"})
