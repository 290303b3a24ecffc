"""A table measured for model selection: rows, task, class balance, and each column's kind.

    profile = profile_frame(frame, target="income")
    profile.rows, profile.minority_share, profile.column("education").kind   # ..., "categorical"

Column kinds: numeric, categorical (at most `HIGH_CARDINALITY` values), high_cardinality,
free text (a median of `TEXT_WORDS` words or more and mostly distinct values), datetime,
identifier (distinct on every row) and constant; each with the measurement behind it, and
for numeric, categorical and high-cardinality columns how well the column alone predicts the
target (`ragline.mltrack.data.leakage.univariate_score`, on a sample of `_SAMPLE` rows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from ragline.mltrack.data.leakage import univariate_score
from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import ParamValue, Task

ColumnKind = Literal[
    "numeric", "categorical", "high_cardinality", "text", "datetime", "identifier", "constant"
]
HIGH_CARDINALITY = 50  # one-hot keeps at most max_categories=50 columns per feature
TEXT_WORDS = 4  # median words per value from which a string column is free text ...
TEXT_DISTINCT = 0.5  # ... when at least this share of its values differ from each other
_SAMPLE = 5_000  # rows scored per column for the leakage check


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """One column as measured: its kind, distinct values, missing share, why that kind.

    Example:
        >>> frame = pd.DataFrame({"n": [0.5, 2.0] * 10, "y": [0, 1] * 10})
        >>> profile_frame(frame, "y").column("n").kind
        'numeric'
    """

    name: str
    kind: ColumnKind
    dtype: str
    unique: int
    missing: float
    reason: str
    skew: float | None = None
    alone: float | None = None  # how well it predicts the target alone (AUC or R²)


@dataclass(frozen=True, slots=True)
class DataProfile:
    """What the rules read: rows, task, class balance and each column's kind.

    Example:
        >>> p = profile_frame(pd.DataFrame({"x": range(40), "y": [0, 1] * 20}), "y")
        >>> p.rows, p.task, p.minority_share, p.column("x").kind
        (40, 'classification', 0.5, 'identifier')
    """

    rows: int
    target: str
    task: Task
    classes: dict[str, int]  # label -> rows; empty for regression
    positive: ParamValue  # the minority label (classification)
    target_skew: float | None
    columns: tuple[ColumnProfile, ...]

    @property
    def minority_share(self) -> float | None:
        """The smallest class's share of the rows; None for regression."""
        return min(self.classes.values()) / self.rows if self.classes else None

    def column(self, name: str) -> ColumnProfile:
        """The profile of column `name`."""
        return next(c for c in self.columns if c.name == name)

    def of_kind(self, *kinds: ColumnKind) -> list[ColumnProfile]:
        """The columns of the given kinds, in table order."""
        return [c for c in self.columns if c.kind in kinds]


def _native(value: object) -> ParamValue:
    item = value.item() if isinstance(value, np.generic) else value
    return item if isinstance(item, str | int | float | bool) else str(item)


def infer_task(y: pd.Series) -> Task:
    """Regression for a numeric target with more than 20 distinct values, else classification."""
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    return "regression" if numeric and y.nunique() > 20 else "classification"


def _name_says_time(name: str) -> bool:
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    return bool(words & {"date", "time", "timestamp", "datetime", "year", "ts"})


def _string_kind(values: pd.Series, unique: int, rows: int) -> tuple[ColumnKind, str]:
    sample = values.dropna().astype(str).head(1000)
    parsed = pd.to_datetime(sample, errors="coerce", format="ISO8601")
    if len(sample) and parsed.notna().mean() >= 0.95:
        return "datetime", f"{parsed.notna().mean():.0%} of values parse as ISO 8601 times"
    words = float(sample.str.split().str.len().median()) if len(sample) else 0.0
    distinct = unique / max(1, int(values.notna().sum()))
    # free text rarely repeats; a closed vocabulary of phrases (COMPAS charges) is categorical
    if words >= TEXT_WORDS and distinct >= TEXT_DISTINCT and values.dtype != "category":
        return "text", f"free text: median {words:.0f} words, {distinct:.0%} of values distinct"
    if unique >= 0.98 * rows and rows >= 20:
        return "identifier", f"{unique} distinct values in {rows} rows: a key, not a feature"
    if unique > HIGH_CARDINALITY:
        return "high_cardinality", f"{unique} distinct values (> {HIGH_CARDINALITY})"
    return "categorical", f"{unique} distinct values"


def _numeric_kind(values: pd.Series, name: str, unique: int, rows: int) -> tuple[ColumnKind, str]:
    whole = pd.api.types.is_integer_dtype(values)
    if whole and _name_says_time(name) and values.dropna().between(1800, 2200).all():
        return "datetime", "integer years (the name says time)"
    span = float(values.max()) - float(values.min()) + 1 if whole else np.inf
    # a row key is distinct on every row and dense (1..n); a weight like Adult's fnlwgt is not
    if whole and unique == rows >= 20 and span <= 2 * rows:
        return "identifier", f"integers, {unique} distinct in {rows} rows, dense: a row key"
    return "numeric", f"{values.dtype}, {unique} distinct values"


def _column(values: pd.Series, name: str, rows: int) -> ColumnProfile:
    unique, missing = int(values.nunique()), float(values.isna().mean())
    dtype = str(values.dtype)
    if unique <= 1:
        return ColumnProfile(name, "constant", dtype, unique, missing, "one value: carries nothing")
    if pd.api.types.is_datetime64_any_dtype(values):
        return ColumnProfile(name, "datetime", dtype, unique, missing, "a datetime column")
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        kind, why = _numeric_kind(values, name, unique, rows)
        skew = float(values.astype(float).skew()) if kind == "numeric" else None
        return ColumnProfile(name, kind, dtype, unique, missing, why, skew)
    kind, why = _string_kind(values, unique, rows)
    return ColumnProfile(name, kind, dtype, unique, missing, why)


def profile_frame(frame: pd.DataFrame, target: str, task: Task | None = None) -> DataProfile:
    """Measure `frame` for `suggest`; DataError when the target is absent, has gaps, or is not
    binary for classification (training here is binary)."""
    if target not in frame.columns:
        raise DataError(f"--target {target!r} is not a column; the table has {list(frame)[:20]}")
    y = frame[target]
    if y.isna().any():
        raise DataError(f"target {target!r} has {int(y.isna().sum())} missing rows; drop them")
    task = task or infer_task(y)
    classes: dict[str, int] = {}
    positive: ParamValue = None
    if task == "classification":
        counts = y.value_counts()
        if len(counts) != 2:
            raise DataError(
                f"target {target!r} has {len(counts)} classes; `ragline ml train` is binary: "
                "map them to two classes, or pass --task regression for a numeric target"
            )
        classes = {str(k): int(v) for k, v in counts.items()}
        # the minority class is the one to find; on a tie, the larger label as training picks
        tied = counts.iloc[0] == counts.iloc[-1]
        positive = _native(sorted(counts.index, key=str)[-1] if tied else counts.index[-1])
    elif not pd.api.types.is_numeric_dtype(y):
        raise DataError(f"target {target!r} is {y.dtype}; regression needs numbers")
    rows = len(frame)
    columns = [_column(frame[c], str(c), rows) for c in frame.columns if c != target]
    sample = frame.sample(n=min(rows, _SAMPLE), random_state=0)
    scored = [
        c
        if c.kind not in ("numeric", "categorical", "high_cardinality")
        else replace(c, alone=univariate_score(sample[c.name], sample[target]))
        for c in columns
    ]
    skew = float(y.skew()) if task == "regression" else None
    return DataProfile(rows, target, task, classes, positive, skew, tuple(scored))
