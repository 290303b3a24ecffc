"""Train / validation / test splits: stratified, temporal or grouped.

    split = split_rows(frame, SplitSpec(kind="grouped"), target="y", task="classification",
                       group_column="customer_id")
    frame.loc[split.train]

Rows are addressed by their labels in ``frame.index`` (training resets it to 0..n-1). Temporal
splits cut at timestamps, so no timestamp is in two splits and every train row is earlier than
every validation row, which is earlier than every test row. Grouped splits keep each entity's rows
in exactly one split, so a model is scored on entities it never saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import SplitSpec, Task

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Split:
    """Row labels of each split, each sorted.

    Example:
        >>> frame = pd.DataFrame({"x": range(10), "y": [0, 1] * 5})
        >>> s = split_rows(frame, SplitSpec(test_size=0.2, valid_size=0.2), target="y",
        ...                task="classification")
        >>> (len(s.train), len(s.valid), len(s.test))
        (6, 2, 2)
    """

    kind: str
    train: IntArray
    valid: IntArray
    test: IntArray

    def sizes(self) -> dict[str, int]:
        """Rows per split, for logging."""
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def _labels(frame: pd.DataFrame, positions: npt.ArrayLike) -> IntArray:
    return np.sort(np.asarray(frame.index[np.asarray(positions)], dtype=np.int64))


def _checked(split: Split) -> Split:
    for name, rows in (("train", split.train), ("valid", split.valid), ("test", split.test)):
        if rows.size == 0:
            hint = " (or spread out the timestamps)" if split.kind == "temporal" else ""
            raise DataError(
                f"the {name} split is empty; add rows or change split.test_size/valid_size{hint}"
            )
    return split


def _strata(frame: pd.DataFrame, target: str, task: Task) -> pd.Series | None:
    y = frame[target]
    if task != "regression":  # classes, or anomaly labels: keep the rare ones in every split
        return y
    binned = pd.qcut(y, q=min(10, max(2, len(y) // 50)), labels=False, duplicates="drop")
    return binned if binned.nunique() > 1 else None


def _stratified(frame: pd.DataFrame, spec: SplitSpec, target: str, task: Task) -> Split:
    positions = np.arange(len(frame))
    strata = _strata(frame, target, task)
    valid_share = spec.valid_size / (1.0 - spec.test_size)
    try:
        rest, test = train_test_split(
            positions, test_size=spec.test_size, random_state=spec.seed, stratify=strata
        )
        rest_strata = None if strata is None else strata.iloc[rest]
        train, valid = train_test_split(
            rest, test_size=valid_share, random_state=spec.seed, stratify=rest_strata
        )
    except ValueError as exc:
        raise DataError(
            f"stratified split failed ({exc}); every class needs a few rows in each split: "
            "add rows, merge rare classes, or lower split.test_size/valid_size"
        ) from exc
    return Split("stratified", _labels(frame, train), _labels(frame, valid), _labels(frame, test))


def _temporal(frame: pd.DataFrame, spec: SplitSpec, time_column: str) -> Split:
    times = frame[time_column]
    if times.isna().any():
        raise DataError(f"time column {time_column!r} has missing values; drop or fill them")
    order = np.argsort(times.to_numpy(), kind="stable")
    n = len(frame)
    n_train = round(n * (1.0 - spec.test_size - spec.valid_size))
    n_valid = round(n * spec.valid_size)
    sorted_times = times.to_numpy()[order]
    t_valid = sorted_times[min(n_train, n - 1)]
    t_test = sorted_times[min(n_train + n_valid, n - 1)]
    values = times.to_numpy()
    train = np.flatnonzero(values < t_valid)
    valid = np.flatnonzero((values >= t_valid) & (values < t_test))
    test = np.flatnonzero(values >= t_test)
    return Split("temporal", _labels(frame, train), _labels(frame, valid), _labels(frame, test))


def _grouped(frame: pd.DataFrame, spec: SplitSpec, group_column: str) -> Split:
    groups = frame[group_column]
    if groups.isna().any():
        raise DataError(f"group column {group_column!r} has missing values; fill them")
    codes = pd.factorize(groups)[0]
    positions = np.arange(len(frame))
    if np.unique(codes).size < 3:
        raise DataError(f"group column {group_column!r} needs at least 3 distinct entities")
    outer = GroupShuffleSplit(n_splits=1, test_size=spec.test_size, random_state=spec.seed)
    rest, test = next(outer.split(positions, groups=codes))
    inner_share = spec.valid_size / (1.0 - spec.test_size)
    inner = GroupShuffleSplit(n_splits=1, test_size=inner_share, random_state=spec.seed)
    train_in, valid_in = next(inner.split(rest, groups=codes[rest]))
    train, valid = rest[train_in], rest[valid_in]
    return Split("grouped", _labels(frame, train), _labels(frame, valid), _labels(frame, test))


def split_rows(
    frame: pd.DataFrame,
    spec: SplitSpec,
    *,
    target: str,
    task: Task,
    time_column: str | None = None,
    group_column: str | None = None,
) -> Split:
    """Split ``frame``'s rows as ``spec`` says; raises `DataError` when a split would be empty."""
    if spec.kind == "temporal":
        if time_column is None:
            raise DataError("a temporal split needs data.time_column")
        return _checked(_temporal(frame, spec, time_column))
    if spec.kind == "grouped":
        column = spec.group_column or group_column
        if column is None:
            raise DataError("a grouped split needs split.group_column or data.id_column")
        return _checked(_grouped(frame, spec, column))
    return _checked(_stratified(frame, spec, target, task))
