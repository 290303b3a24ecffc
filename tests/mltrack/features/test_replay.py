"""The replay proof: training features (offline) equal serving features (online), row by row.

The real Grunfeld panel (statsmodels) is replayed in time order: every event goes through the
online write path (`OnlineWriter`: one entity's history through `compute_feature_rows`, the last
row written to this machine's Redis) and at each label time the online store is read with one
HMGET. The same events are materialised to Parquet and joined to the same labels point in time.
Every value of every label row must be identical, floats to the last bit.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from ragline.mltrack.features.data import grunfeld_events, grunfeld_labels
from ragline.mltrack.features.offline import (
    materialize,
    point_in_time_join,
    read_offline,
    write_offline,
)
from ragline.mltrack.features.online import OnlineStore, Value
from ragline.mltrack.features.registry import load_registry
from ragline.mltrack.features.stream import OnlineWriter
from tests.paths import REPO

if TYPE_CHECKING:
    import redis

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLE = REPO / "configs" / "features" / "example.yaml"


def _plain(value: object) -> Value:
    """A training-frame cell as the online store serves it (NaN / NA -> None)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        return value.item()  # type: ignore[no-any-return]  # a numpy scalar
    return value  # type: ignore[return-value]  # str or bool already


def _serve_while_replaying(
    store: OnlineStore, labels: pd.DataFrame, max_staleness: timedelta | None
) -> list[dict[str, Value]]:
    registry = load_registry(EXAMPLE)
    features = registry.for_source("grunfeld")
    writer = OnlineWriter(store, registry, "grunfeld")
    events = grunfeld_events().sort_values("ts", kind="stable").reset_index(drop=True)
    order = labels.sort_values("label_ts", kind="stable").index
    served: dict[int, dict[str, Value]] = {}
    done = 0
    for i in order:
        firm, at = labels.at[i, "firm"], labels.at[i, "label_ts"]
        arrived = int(events["ts"].searchsorted(at, side="right"))  # every event at or before
        if arrived > done:
            for _, event in events.iloc[done:arrived].groupby("ts", sort=True):
                writer.ingest(event)  # one year-end's events arrive together
            done = arrived
        row = store.read("firm", firm, features, at=at.to_pydatetime(), max_staleness=max_staleness)
        served[i] = row.values
    return [served[i] for i in range(len(labels))]


@pytest.mark.parametrize("max_staleness", [None, timedelta(days=150)])
def test_training_and_serving_features_are_identical(
    tmp_path: Path,
    redis_url: str,
    redis_prefix: str,
    redis_client: redis.Redis,
    max_staleness: timedelta | None,
) -> None:
    registry = load_registry(EXAMPLE)
    labels = grunfeld_labels()
    write_offline(materialize(grunfeld_events(), registry, "grunfeld"), tmp_path / "off.parquet")
    training = point_in_time_join(
        labels, read_offline(tmp_path / "off.parquet"), "label_ts", max_staleness
    )
    store = OnlineStore(redis_url, redis_prefix, client=redis_client)
    served = _serve_while_replaying(store, labels, max_staleness)
    names = registry.names()
    mismatches = [
        (i, name, _plain(training.frame.at[i, name]), served[i][name])
        for i in range(len(labels))
        for name in names
        if _plain(training.frame.at[i, name]) != served[i][name]
    ]
    assert mismatches == []
    # the comparison is not vacuous: most rows have values, some have none (before 1935's
    # year-end, or stale June labels), and values really change over time
    filled = sum(served[i][names[0]] is not None for i in range(len(labels)))
    assert len(labels) == 11 * (21 + 5) and filled >= 11 * 4
    # with 150 days: every June label (181 days after a year-end) and December 1955's are stale
    expected_missing = 11 + (11 * 21 if max_staleness else 0)
    assert (training.missing + training.stale, filled) == (
        expected_missing,
        len(labels) - expected_missing,
    )
    distinct = {served[i]["firm_invest_1000d_sum"] for i in range(len(labels))}
    assert len(distinct) > filled // 2
