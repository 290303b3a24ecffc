"""The online store against this machine's Redis: typed round trips, exact floats, staleness."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.features.errors import OnlineStoreError
from ragline.mltrack.features.online import TS_FIELD, OnlineStore, latest_per_entity
from ragline.mltrack.features.registry import FeatureDefinition
from ragline.mltrack.features.transform import FEATURE_TS

if TYPE_CHECKING:
    import redis

pytestmark = pytest.mark.integration


def _defs() -> list[FeatureDefinition]:
    specs = [
        ("user_x_all_sum", "float64"),
        ("user_x_all_count", "int64"),
        ("user_flag_all_last", "bool"),
        ("user_tag_all_last", "string"),
    ]
    return [
        FeatureDefinition(
            name=n,
            description="d",
            dtype=t,
            source_table="events",
            owner="me",
            created=date(2026, 1, 1),
        )
        for n, t in specs
    ]


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": ["a", "b", "c"],
            FEATURE_TS: pd.to_datetime(
                ["2024-01-01", "2024-01-02T03:04:05.123456789", "2024-01-03"], format="ISO8601"
            ),
            "user_x_all_sum": [0.1 + 0.2, np.nan, -1e-300],
            "user_x_all_count": pd.array([3, None, 0], dtype="Int64"),
            "user_flag_all_last": pd.array([True, False, None], dtype="boolean"),
            "user_tag_all_last": pd.array(["naïve", None, "x y"], dtype="string"),
        }
    )


@pytest.fixture
def store(redis_url: str, redis_prefix: str, redis_client: redis.Redis) -> OnlineStore:
    return OnlineStore(redis_url, redis_prefix, client=redis_client)


def test_typed_round_trip_with_exact_floats(store: OnlineStore) -> None:
    assert store.write_rows(_rows(), "user", "user", _defs(), batch_size=2) == 3
    a = store.read("user", "a", _defs())
    assert a.values == {
        "user_x_all_sum": 0.1 + 0.2,
        "user_x_all_count": 3,
        "user_flag_all_last": True,
        "user_tag_all_last": "naïve",
    }
    assert a.feature_ts == pd.Timestamp("2024-01-01") and not a.stale
    b = store.read("user", "b", _defs())
    assert b.values == {
        "user_x_all_sum": None,
        "user_x_all_count": None,
        "user_flag_all_last": False,
        "user_tag_all_last": None,
    }
    assert b.feature_ts == pd.Timestamp("2024-01-02T03:04:05.123456789")  # to the nanosecond
    c = store.read("user", "c", _defs()[:1])
    assert c.values == {"user_x_all_sum": -1e-300}


def test_an_unknown_entity_has_no_row(store: OnlineStore) -> None:
    row = store.read("user", "nobody", _defs())
    assert row.feature_ts is None and set(row.values.values()) == {None}


def test_a_missing_value_removes_the_old_field(
    store: OnlineStore, redis_client: redis.Redis
) -> None:
    rows = _rows()
    store.write_rows(rows.iloc[:1], "user", "user", _defs())
    later = rows.iloc[:1].assign(user_x_all_sum=np.nan, **{FEATURE_TS: pd.Timestamp("2024-02-01")})
    store.write_rows(later, "user", "user", _defs())
    assert store.read("user", "a", _defs()).values["user_x_all_sum"] is None
    fields = redis_client.hkeys(store.key("user", "a"))
    assert b"user_x_all_sum" not in fields and TS_FIELD.encode() in fields


def test_staleness_is_judged_at_read_time(store: OnlineStore) -> None:
    store.write_rows(_rows(), "user", "user", _defs())
    at = pd.Timestamp("2024-01-11").to_pydatetime()
    fresh = store.read("user", "a", _defs(), at=at, max_staleness=timedelta(days=10))
    stale = store.read("user", "a", _defs(), at=at, max_staleness=timedelta(days=9))
    assert fresh.values["user_x_all_count"] == 3 and not fresh.stale
    assert stale.stale and set(stale.values.values()) == {None}
    assert stale.feature_ts == pd.Timestamp("2024-01-01")  # said, so the caller can log it
    now = store.read("user", "a", _defs(), max_staleness=timedelta(days=1))
    assert now.stale  # "now" is 2024 + years


def test_a_value_of_the_wrong_type_is_an_error(
    store: OnlineStore, redis_client: redis.Redis
) -> None:
    store.write_rows(_rows(), "user", "user", _defs())
    redis_client.hset(store.key("user", "a"), "user_x_all_count", "3.5")
    with pytest.raises(OnlineStoreError, match="not a int64"):
        store.read("user", "a", _defs())


def test_delete_and_latest_per_entity(store: OnlineStore) -> None:
    rows = pd.concat([_rows(), _rows().assign(**{FEATURE_TS: pd.Timestamp("2023-01-01")})])
    latest = latest_per_entity(rows, "user")
    assert latest["user"].tolist() == ["a", "b", "c"] and latest[FEATURE_TS].min().year == 2024
    store.write_rows(latest, "user", "user", _defs())
    assert store.delete("user", ["a", "b", "zz"]) == 2
    assert store.read("user", "a", _defs()).feature_ts is None
    assert store.delete("user", []) == 0


def test_an_unreachable_redis_says_so() -> None:
    store = OnlineStore("redis://127.0.0.1:1/0")  # nothing listens on port 1
    with pytest.raises(OnlineStoreError, match=r"127\.0\.0\.1:1/0 failed .*--redis-url"):
        store.read("user", "a", _defs())
    store.close()
