"""The offline store: Parquet round trips and point-in-time joins that never see the future."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.features.offline import (
    OfflineTable,
    latest_positions,
    materialize,
    point_in_time_join,
    read_offline,
    write_offline,
)
from ragline.mltrack.features.registry import FeatureDefinition, FeatureRegistry, SourceTable
from ragline.mltrack.features.transform import FEATURE_TS

pytestmark = pytest.mark.unit


def _registry() -> FeatureRegistry:
    definitions = [
        FeatureDefinition(
            name=name,
            description="d",
            dtype=dtype,
            source_table="events",
            owner="me",
            created=date(2026, 1, 1),
        )
        for name, dtype in [
            ("user_x_all_sum", "float64"),
            ("user_x_all_count", "int64"),
            ("user_tag_all_last", "string"),
        ]
    ]
    return FeatureRegistry(
        sources={"events": SourceTable(entity_key="user", timestamp_column="ts")},
        features=tuple(definitions),
    )


def _table() -> OfflineTable:
    events = pd.DataFrame(
        {
            "user": ["a", "a", "b"],
            "ts": ["2024-01-01", "2024-01-03", "2024-01-02"],
            "x": [1.0, 2.0, 5.0],
            "tag": ["p", "q", "r"],
        }
    )
    return materialize(events, _registry(), "events")


def test_point_in_time_by_hand() -> None:
    labels = pd.DataFrame(
        {
            "user": ["a", "a", "a", "a", "b", "c", "a"],
            "label_ts": [
                "2023-12-31",
                "2024-01-01",
                "2024-01-02",
                "2024-01-03",
                "2024-02-01",
                "2024-01-05",
                "2024-01-02T23:59",
            ],
            "y": [0, 1, 2, 3, 4, 5, 6],
        }
    )
    result = point_in_time_join(labels, _table(), "label_ts")
    frame = result.frame
    assert frame["y"].tolist() == [0, 1, 2, 3, 4, 5, 6]  # the labels' order is kept
    assert frame.columns.tolist() == [
        "user",
        "label_ts",
        "y",
        FEATURE_TS,
        "user_x_all_sum",
        "user_x_all_count",
        "user_tag_all_last",
    ]
    sums = frame["user_x_all_sum"].tolist()
    # before a's first event: nothing; at its time: that row (an equal time counts); between:
    # the earlier row, never the next one; c is unknown
    assert np.isnan(sums[0]) and sums[1:5] == [1.0, 1.0, 3.0, 5.0]
    assert np.isnan(sums[5]) and sums[6] == 1.0
    assert frame["user_x_all_count"].isna().tolist() == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
    ]
    assert frame["user_tag_all_last"].tolist()[1:5] == ["p", "p", "q", "r"]
    assert (result.matched, result.missing, result.stale) == (5, 2, 0)


def test_max_staleness_empties_old_rows() -> None:
    labels = pd.DataFrame(
        {"user": ["a", "a", "b"], "label_ts": ["2024-01-04", "2024-01-13T00:01", "2024-01-12"]}
    )
    result = point_in_time_join(labels, _table(), "label_ts", timedelta(days=10))
    assert result.frame["user_x_all_sum"].tolist()[0] == 3.0
    assert result.frame["user_x_all_sum"].isna().tolist() == [
        False,
        True,
        False,
    ]  # b: exactly 10 days is not older
    assert result.frame[FEATURE_TS].isna().tolist() == [False, True, False]
    assert (result.matched, result.missing, result.stale) == (2, 0, 1)


def test_never_a_row_from_the_future_and_always_the_latest() -> None:
    rng = np.random.default_rng(11)
    start = pd.Timestamp("2024-01-01")
    events = pd.DataFrame(
        {
            "user": rng.integers(0, 50, 5000),
            "ts": start + pd.to_timedelta(rng.integers(0, 10**6, 5000), unit="min"),
            "x": rng.normal(size=5000),
            "tag": "t",
        }
    )
    table = materialize(events, _registry(), "events")
    labels = pd.DataFrame(
        {
            "user": rng.integers(0, 55, 4000),
            "label_ts": start
            + pd.to_timedelta(rng.integers(-1000, 10**6 + 1000, 4000), unit="min"),
        }
    )
    labels.loc[:99, "label_ts"] = table.rows[FEATURE_TS].sample(100, random_state=1).to_numpy()
    frame = point_in_time_join(labels, table, "label_ts").frame
    rows = table.rows
    assert (frame[FEATURE_TS].dropna() <= frame.loc[frame[FEATURE_TS].notna(), "label_ts"]).all()
    # every (label, row) pair of the entity, kept if not in the future: the latest must be ours
    pairs = labels.reset_index(names="i").merge(rows[["user", FEATURE_TS]], on="user")
    pairs = pairs[pairs[FEATURE_TS] <= pairs["label_ts"]]
    expected = pairs.groupby("i")[FEATURE_TS].max().reindex(range(len(labels)))
    assert frame[FEATURE_TS].equals(expected.reset_index(drop=True).rename(FEATURE_TS))
    assert 300 < frame[FEATURE_TS].isna().sum() < 600  # 5 unknown users, labels before events
    # rows in any order (not as materialize writes them) take the sorting path: same answer
    shuffled = OfflineTable(rows.sample(frac=1.0, random_state=2), "events", "user", table.features)
    pd.testing.assert_frame_equal(point_in_time_join(labels, shuffled, "label_ts").frame, frame)
    joined = frame.dropna(subset=[FEATURE_TS]).merge(rows, on=["user", FEATURE_TS])
    assert (joined["user_x_all_sum_x"] == joined["user_x_all_sum_y"]).all()


def test_parquet_round_trip_keeps_types_and_description(tmp_path: Path) -> None:
    table = _table()
    write_offline(table, tmp_path / "offline.parquet")
    back = read_offline(tmp_path / "offline.parquet")
    assert (back.source_table, back.entity_key, back.features) == (
        "events",
        "user",
        ("user_x_all_sum", "user_x_all_count", "user_tag_all_last"),
    )
    pd.testing.assert_frame_equal(back.rows, table.rows, check_dtype=False)
    assert str(back.rows["user_x_all_count"].dtype) == "Int64"
    assert list(tmp_path.iterdir()) == [tmp_path / "offline.parquet"]


def test_refusals(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(DataError, match="no feature-table metadata"):
        read_offline(tmp_path / "plain.parquet")
    with pytest.raises(DataError, match="materialize"):
        read_offline(tmp_path / "missing.parquet")
    labels = pd.DataFrame({"user": ["a"], "label_ts": ["2024-01-02"], "user_x_all_sum": [1.0]})
    with pytest.raises(DataError, match="drop or rename"):
        point_in_time_join(labels, _table(), "label_ts")
    with pytest.raises(DataError, match="lacks column"):
        point_in_time_join(labels, _table(), "when")


def test_entity_ids_of_other_dtypes_still_join() -> None:
    events = pd.DataFrame(
        {"user": [1, 2], "ts": ["2024-01-01", "2024-01-01"], "x": [1.0, 2.0], "tag": ["p", "q"]}
    )
    table = materialize(events, _registry(), "events")
    labels = pd.DataFrame({"user": ["2", "1"], "label_ts": ["2024-01-02", "2024-01-02"]})
    frame = point_in_time_join(labels, table, "label_ts").frame
    assert frame["user_x_all_sum"].tolist() == [2.0, 1.0]


def test_latest_positions_ties_and_unknown_entities() -> None:
    right = pd.Series(["a", "a", "a", "b"])
    times = np.array([10, 20, 20, 5], dtype=np.int64)  # two rows of a at 20: the later wins
    left = pd.Series(["a", "a", "a", "b", "b", "z"])
    at = np.array([9, 10, 25, 4, 5, 10], dtype=np.int64)
    assert latest_positions(right, times, left, at).tolist() == [-1, 0, 2, -1, 3, -1]
    unsorted = pd.Series(["b", "a", "a", "a"])
    times = np.array([5, 20, 10, 20], dtype=np.int64)
    assert latest_positions(unsorted, times, left, at).tolist() == [-1, 2, 3, -1, 0, -1]
