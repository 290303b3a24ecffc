"""The one transformation, on hand-computed cases; batch and per-entity give identical floats."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.features.registry import FeatureDefinition, SourceTable
from ragline.mltrack.features.transform import FEATURE_TS, compute_feature_rows, event_times

pytestmark = pytest.mark.unit
SOURCE = SourceTable(entity_key="user", timestamp_column="ts")


def _defs(*specs: str) -> list[FeatureDefinition]:
    """`name:dtype[:column]` specs."""
    out = []
    for spec in specs:
        name, dtype, *column = spec.split(":")
        out.append(
            FeatureDefinition(
                name=name,
                description="d",
                dtype=dtype,
                source_table="events",
                owner="me",
                created=date(2026, 1, 1),
                source_column=column[0] if column else None,
            )
        )
    return out


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": ["a", "a", "b", "a", "b", "a"],
            "ts": [
                "2024-01-01",
                "2024-01-02",
                "2024-01-02",
                "2024-01-03",
                "2024-01-02",
                "2024-01-05",
            ],
            "x": [1.0, 2.0, 10.0, 4.0, 20.0, np.nan],
            "tag": ["p", "q", "r", None, "s", "t"],
        }
    )


def test_windows_and_aggregations_by_hand() -> None:
    features = _defs(
        "user_x_2d_sum:float64",
        "user_x_all_mean:float64",
        "user_x_all_count:int64",
        "user_x_2d_max:int64",
        "user_x_all_std:float64",
        "user_x_1d_last:float64",
        "user_x_all_last:float64",
        "user_tag_all_last:string",
    )
    rows = compute_feature_rows(_events(), features, SOURCE)
    assert rows["user"].tolist() == ["a", "a", "a", "a", "b"]  # b's two same-time events: one row
    assert rows[FEATURE_TS].dt.day.tolist() == [1, 2, 3, 5, 2]
    # a: window (t-2d, t]; on day 5 only day 5's event (missing x) is in it
    assert rows["user_x_2d_sum"].tolist()[:3] == [1.0, 3.0, 6.0]
    assert np.isnan(rows["user_x_2d_sum"][3]) and rows["user_x_2d_sum"][4] == 30.0
    assert rows["user_x_all_mean"].tolist() == pytest.approx([1.0, 1.5, 7 / 3, 7 / 3, 15.0])
    assert rows["user_x_all_count"].tolist() == [1, 2, 3, 3, 2]  # the missing x is not counted
    assert str(rows["user_x_all_count"].dtype) == "Int64"
    assert rows["user_x_2d_max"].tolist()[:3] == [1, 2, 4] and rows["user_x_2d_max"].isna()[3]
    assert np.isnan(rows["user_x_all_std"][0])  # one value: no sample std
    assert rows["user_x_all_std"][2] == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))
    # last: the latest non-missing value still in the window
    assert rows["user_x_all_last"].tolist() == [1.0, 2.0, 4.0, 4.0, 20.0]
    assert rows["user_x_1d_last"].tolist()[:3] == [1.0, 2.0, 4.0]
    assert np.isnan(rows["user_x_1d_last"][3])  # day 3's value is out of the 1-day window
    assert rows["user_tag_all_last"].tolist() == ["p", "q", "q", "t", "s"]


def test_file_order_does_not_matter_but_same_time_order_does() -> None:
    features = _defs("user_x_all_last:float64", "user_x_7d_sum:float64")
    events = _events()
    shuffled = events.sample(frac=1.0, random_state=3)
    rows = compute_feature_rows(events, features, SOURCE)
    again = compute_feature_rows(shuffled, features, SOURCE)
    same_time_b = shuffled[shuffled["user"] == "b"]["x"].tolist()
    pd.testing.assert_frame_equal(
        rows.drop(columns="user_x_all_last"), again.drop(columns="user_x_all_last")
    )
    assert again["user_x_all_last"].iloc[-1] == same_time_b[-1]  # the later row in the file


def test_a_batch_equals_each_entity_alone_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    events = pd.DataFrame(
        {
            "user": rng.integers(0, 40, n),
            "ts": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 90 * 24, n), unit="h"),
            "x": np.where(rng.random(n) < 0.05, np.nan, rng.lognormal(3, 2, n)),
        }
    )
    features = _defs(
        "user_x_3d_sum:float64",
        "user_x_12h_mean:float64",
        "user_x_all_std:float64",
        "user_x_2w_min:float64",
        "user_x_all_sum:float64",
        "user_x_1d_count:int64",
        "user_x_36h_last:float64",
    )
    batch = compute_feature_rows(events, features, SOURCE)
    for user, group in events.groupby("user"):
        alone = compute_feature_rows(group, features, SOURCE)
        part = batch[batch["user"] == user].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, alone, check_exact=True)
    assert len(batch) == events.drop_duplicates(["user", "ts"]).shape[0]


def test_bad_inputs_say_what_to_fix() -> None:
    events = _events()
    with pytest.raises(DataError, match="lacks column"):
        compute_feature_rows(events, _defs("user_y_1d_sum:float64"), SOURCE)
    with pytest.raises(DataError, match="needs a numeric column"):
        compute_feature_rows(events, _defs("user_tag_1d_sum:float64"), SOURCE)
    with pytest.raises(DataError, match="declare the dtype"):
        compute_feature_rows(events.assign(x=events["x"] / 3), _defs("user_x_1d_sum:int64"), SOURCE)
    with pytest.raises(DataError, match="holds numbers, not times"):
        compute_feature_rows(events.assign(ts=1935), _defs("user_x_1d_sum:float64"), SOURCE)
    with pytest.raises(DataError, match="empty time"):
        compute_feature_rows(events.assign(ts=None), _defs("user_x_1d_sum:float64"), SOURCE)
    with pytest.raises(DataError, match="empty entity ids"):
        compute_feature_rows(events.assign(user=None), _defs("user_x_1d_sum:float64"), SOURCE)
    with pytest.raises(DataError, match="no rows"):
        compute_feature_rows(events.iloc[:0], _defs("user_x_1d_sum:float64"), SOURCE)


def test_event_times_normalise_zones() -> None:
    times = event_times(pd.Series(pd.to_datetime(["2024-01-01T12:00+02:00"], utc=True)), "ts")
    assert str(times.dtype) == "datetime64[ns]" and times[0] == pd.Timestamp("2024-01-01T10:00")
