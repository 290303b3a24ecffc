"""Feature names: `{entity}_{feature}_{window}_{aggregation}`, and errors that say what to fix."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ragline.mltrack.features.errors import FeatureNameError
from ragline.mltrack.features.naming import (
    AGGREGATIONS,
    feature_name,
    parse_feature_name,
    window_delta,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("user_spend_7d_sum", ("user", "spend", "7d", "sum")),
        ("store_card_spend_30m_mean", ("store", "card_spend", "30m", "mean")),
        ("firm_invest_all_last", ("firm", "invest", "all", "last")),
        ("u2_x1_12h_std", ("u2", "x1", "12h", "std")),
    ],
)
def test_valid_names_split_into_their_parts(name: str, parts: tuple[str, ...]) -> None:
    parsed = parse_feature_name(name)
    assert (parsed.entity, parsed.feature, parsed.window, parsed.aggregation) == parts
    assert parsed.name == name


@pytest.mark.parametrize(
    ("window", "delta"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("4w", timedelta(days=28)),
        ("all", None),
    ],
)
def test_windows_have_fixed_lengths(window: str, delta: timedelta | None) -> None:
    assert window_delta(window) == delta


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("User_Spend_7d_sum", "'user_spend_7d_sum'"),  # the fix is spelled out
        ("user-spend-7d-sum", "'user_spend_7d_sum'"),
        ("user_spend_sum", "3 part(s)"),
        ("user_spend_7days_sum", "like 30m, 1h, 7d, 4w or all"),
        ("user_spend_1y_sum", "use 30d or 365d"),
        ("user_spend_0d_sum", "like 30m, 1h, 7d, 4w or all"),
        ("user_spend_7d_median", "sum, mean, count, min, max, last, std"),
        ("user__spend_7d_sum", "single underscores"),
        ("user_2spend_7d_sum", "starts with a letter"),
        ("", "is empty"),
    ],
)
def test_invalid_names_say_what_to_fix(name: str, fragment: str) -> None:
    with pytest.raises(FeatureNameError) as caught:
        parse_feature_name(name)
    assert fragment in str(caught.value)


def test_feature_name_builds_and_refuses_a_two_word_entity() -> None:
    assert feature_name("user", "card_spend", "1h", "max") == "user_card_spend_1h_max"
    with pytest.raises(FeatureNameError, match="one word"):
        feature_name("credit_card", "spend", "1h", "max")


def test_every_aggregation_is_accepted() -> None:
    for aggregation in AGGREGATIONS:
        assert parse_feature_name(f"u_x_1d_{aggregation}").aggregation == aggregation
