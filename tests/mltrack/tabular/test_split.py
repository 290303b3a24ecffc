"""Splits: stratified keeps class shares, temporal keeps time order, grouped keeps entities
apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import SplitSpec
from ragline.mltrack.tabular.split import split_rows

from .conftest import store_sales

pytestmark = pytest.mark.unit


def _all_rows_once(frame: pd.DataFrame, *parts: np.ndarray) -> None:
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == frame.index.tolist()


def test_stratified_split_keeps_the_positive_rate() -> None:
    frame = pd.DataFrame({"x": range(1000), "y": [1] * 100 + [0] * 900})
    split = split_rows(
        frame, SplitSpec(test_size=0.2, valid_size=0.2), target="y", task="classification"
    )
    _all_rows_once(frame, split.train, split.valid, split.test)
    assert split.sizes() == {"train": 600, "valid": 200, "test": 200}
    for rows in (split.train, split.valid, split.test):
        assert frame.loc[rows, "y"].mean() == pytest.approx(0.1)


def test_stratified_regression_split_bins_the_target() -> None:
    frame = pd.DataFrame({"y": np.arange(500.0)})
    split = split_rows(frame, SplitSpec(), target="y", task="regression")
    assert abs(frame.loc[split.test, "y"].mean() - frame["y"].mean()) < 25


def test_temporal_split_orders_train_before_valid_before_test() -> None:
    frame = store_sales(stores=3, days=50)
    spec = SplitSpec(kind="temporal", test_size=0.2, valid_size=0.2)
    split = split_rows(frame, spec, target="sales", task="regression", time_column="date")
    _all_rows_once(frame, split.train, split.valid, split.test)
    dates = frame["date"]
    assert dates[split.train].max() < dates[split.valid].min()
    assert dates[split.valid].max() < dates[split.test].min()  # no timestamp in two splits
    assert split.sizes()["test"] == pytest.approx(30, abs=3)


def test_grouped_split_keeps_each_entity_in_one_split() -> None:
    frame = store_sales(stores=20, days=10)
    spec = SplitSpec(kind="grouped", test_size=0.2, valid_size=0.2, seed=3)
    split = split_rows(frame, spec, target="sales", task="regression", group_column="store")
    _all_rows_once(frame, split.train, split.valid, split.test)
    stores = [set(frame.loc[rows, "store"]) for rows in (split.train, split.valid, split.test)]
    assert not (stores[0] & stores[1] or stores[0] & stores[2] or stores[1] & stores[2])
    assert [len(s) for s in stores] == [12, 4, 4]


def test_split_group_column_overrides_the_id_column() -> None:
    frame = store_sales(stores=10, days=5).assign(region=lambda f: f["store"].str[-1:])
    spec = SplitSpec(kind="grouped", group_column="region")
    split = split_rows(frame, spec, target="sales", task="regression", group_column="unused")
    assert not set(frame.loc[split.train, "region"]) & set(frame.loc[split.test, "region"])


def test_empty_split_is_a_data_error() -> None:
    frame = pd.DataFrame({"t": [1, 1, 1, 1, 1, 2], "y": range(6)})
    spec = SplitSpec(kind="temporal", test_size=0.2, valid_size=0.2)
    with pytest.raises(DataError, match=r"split is empty.*spread out the timestamps"):
        split_rows(frame, spec, target="y", task="regression", time_column="t")


def test_grouped_split_needs_a_group_column_and_entities() -> None:
    frame = pd.DataFrame({"g": ["a", "b"] * 5, "y": range(10)})
    with pytest.raises(DataError, match=r"needs split.group_column"):
        split_rows(frame, SplitSpec(kind="grouped"), target="y", task="regression")
    with pytest.raises(DataError, match=r"at least 3 distinct entities"):
        split_rows(
            frame, SplitSpec(kind="grouped"), target="y", task="regression", group_column="g"
        )
