"""Feature names: `{entity}_{feature}_{window}_{aggregation}`, parsed and validated.

    name = parse_feature_name("user_spend_7d_sum")
    name.entity, name.feature, name.window, name.aggregation    # 'user', 'spend', '7d', 'sum'
    name.window_delta                                           # timedelta(days=7)

The name *is* the transformation spec for window and aggregation, so the two can never disagree.
Rules (each error names the rule that failed and a corrected example):

- lower snake case: `[a-z][a-z0-9]*` tokens joined by single underscores;
- `entity` is the first token (one word: `user`, `firm`, `store`);
- `feature` is one or more tokens in the middle (`spend`, `card_spend`);
- `window` is a count and a fixed-length unit, `m` minutes, `h` hours, `d` days, `w` weeks
  (`30m`, `1h`, `7d`, `4w`), or `all` for the entity's whole history; months and years are left
  out on purpose: their length varies, and a window must mean the same span everywhere;
- `aggregation` is one of `AGGREGATIONS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal, cast, get_args

from ragline.mltrack.features.errors import FeatureNameError

Aggregation = Literal["sum", "mean", "count", "min", "max", "last", "std"]
AGGREGATIONS: Final[tuple[str, ...]] = get_args(Aggregation)
WINDOW_UNITS: Final[dict[str, timedelta]] = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_TOKEN = re.compile(r"[a-z][a-z0-9]*")
_WINDOW = re.compile(r"([1-9][0-9]*)([mhdw])")
_EXAMPLE = "user_spend_7d_sum"


@dataclass(frozen=True)
class FeatureName:
    """A parsed, valid feature name.

    Example:
        >>> parse_feature_name("firm_invest_all_mean").window_delta is None
        True
    """

    entity: str
    feature: str
    window: str
    aggregation: Aggregation

    @property
    def name(self) -> str:
        return f"{self.entity}_{self.feature}_{self.window}_{self.aggregation}"

    @property
    def window_delta(self) -> timedelta | None:
        """The window's length; None for `all` (the whole history)."""
        return window_delta(self.window)


def window_delta(window: str) -> timedelta | None:
    """`7d` -> 7 days, `all` -> None; `FeatureNameError` for anything else.

    >>> window_delta("36h")
    datetime.timedelta(days=1, seconds=43200)
    """
    if window == "all":
        return None
    match = _WINDOW.fullmatch(window)
    if match is None:
        raise FeatureNameError(
            f"window {window!r} is not a count and a unit (m minutes, h hours, d days, w weeks) "
            "or 'all': write it like 30m, 1h, 7d, 4w or all (months and years vary in length; "
            "use 30d or 365d)"
        )
    return int(match.group(1)) * WINDOW_UNITS[match.group(2)]


def _check_case(name: str) -> None:
    if not name:
        raise FeatureNameError(f"a feature name is empty; name it like {_EXAMPLE}")
    if name != name.lower() or name.strip() != name or " " in name or "-" in name:
        fixed = re.sub(r"[\s\-]+", "_", name.strip()).lower()
        raise FeatureNameError(f"feature name {name!r} is not lower snake case; write {fixed!r}")
    if "" in name.split("_"):
        raise FeatureNameError(
            f"feature name {name!r} has an empty part; use single underscores between parts, "
            f"like {_EXAMPLE}"
        )


def _check_tokens(name: str, tokens: list[str]) -> None:
    for token in tokens:
        if not _TOKEN.fullmatch(token):
            raise FeatureNameError(
                f"feature name {name!r}: part {token!r} must be a lower-case word that starts with "
                f"a letter (a-z, 0-9), like {_EXAMPLE}"
            )


def parse_feature_name(name: str) -> FeatureName:
    """Split and validate a name; `FeatureNameError` says what to change.

    >>> parse_feature_name("store_card_spend_30d_mean").feature
    'card_spend'
    """
    _check_case(name)
    tokens = name.split("_")
    if len(tokens) < 4:
        raise FeatureNameError(
            f"feature name {name!r} has {len(tokens)} part(s); it needs "
            f"{{entity}}_{{feature}}_{{window}}_{{aggregation}}, like {_EXAMPLE}"
        )
    *_, window, aggregation = tokens
    _check_tokens(name, [*tokens[:-2], aggregation])
    try:
        window_delta(window)
    except FeatureNameError as exc:
        raise FeatureNameError(f"feature name {name!r}: {exc}") from None
    if aggregation not in AGGREGATIONS:
        raise FeatureNameError(
            f"feature name {name!r} ends in {aggregation!r}, which is not an aggregation; "
            f"end it with one of {', '.join(AGGREGATIONS)}"
        )
    agg = cast(Aggregation, aggregation)  # checked against AGGREGATIONS above
    return FeatureName(tokens[0], "_".join(tokens[1:-2]), window, agg)


def feature_name(entity: str, feature: str, window: str, aggregation: str) -> str:
    """Build a name from its parts and validate it.

    >>> feature_name("user", "spend", "7d", "sum")
    'user_spend_7d_sum'
    """
    name = f"{entity}_{feature}_{window}_{aggregation}"
    parsed = parse_feature_name(name)
    if parsed.entity != entity:
        raise FeatureNameError(
            f"entity {entity!r} must be one word (no underscores), like user or firm"
        )
    return parsed.name
