"""Reading a training table and encoding its target.

    frame = load_frame(config.data)                  # csv or parquet, index 0..n-1
    y, classes = encode_target(frame[config.data.target], config.data)

The frame's index is reset to 0..n-1, so split and `FitRecord` row labels are row positions in
the file. A binary target maps to 0/1 with ``classes = (negative, positive)``; a target of more
than two classes (multiclass) maps to 0..K-1, the positions of its labels in the sorted ``classes``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import DataSpec
from ragline.mltrack.tabular.temporal import parse_times

FloatArray = npt.NDArray[np.float64]
Label = str | int | float | bool


def _read(spec: DataSpec) -> pd.DataFrame:
    path = spec.path
    if not path.is_file():
        raise DataError(f"data.path: {path} does not exist; fix the path in the config")
    try:
        if spec.file_format == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"data.path: cannot read {path} as {spec.file_format} ({exc}); check the file, "
            "or set data.format"
        ) from exc


def load_frame(spec: DataSpec) -> pd.DataFrame:
    """The table ``spec.path`` names, checked for the columns ``spec`` refers to.

    Raises `DataError` naming the missing columns (and some that exist), a missing file, or a
    target with missing values.
    """
    frame = _read(spec).reset_index(drop=True)
    named = {
        "data.target": spec.target,
        "data.protected": spec.protected,
        "data.id_column": spec.id_column,
        "data.time_column": spec.time_column,
    }
    for key, column in named.items():
        if column is not None and column not in frame.columns:
            raise DataError(
                f"{key}: column {column!r} is not in {spec.path.name}; it has "
                f"{[str(c) for c in frame.columns[:20]]}"
            )
    missing = int(frame[spec.target].isna().sum())
    if missing:
        raise DataError(f"data.target: {missing} rows have no {spec.target!r}; drop them first")
    if spec.time_column is not None:
        frame[spec.time_column] = parse_times(frame[spec.time_column], spec.time_column)
    return frame


def _native(value: object) -> Label:
    item = value.item() if isinstance(value, np.generic) else value
    if isinstance(item, str | int | float | bool):
        return item
    return str(item)


def encode_target(
    series: pd.Series, spec: DataSpec, classes: Sequence[Label] | None = None
) -> tuple[FloatArray, tuple[Label, ...] | None]:
    """0/1 targets and (negative, positive) classes, class positions 0..K-1 and the K sorted
    labels (multiclass), or float targets and None for regression. ``classes`` (a trained
    model's) fixes the encoding of a multiclass target instead of the labels found in `series`.

    Example:
        >>> from pathlib import Path
        >>> spec = DataSpec(path=Path("x.csv"), target="y", task="classification")
        >>> y, classes = encode_target(pd.Series(["no", "yes", "no"]), spec)
        >>> y.tolist(), classes
        ([0.0, 1.0, 0.0], ('no', 'yes'))
        >>> encode_target(pd.Series(["b", "c", "a"]), spec)
        (array([1., 2., 0.]), ('a', 'b', 'c'))
    """
    if spec.task == "regression":
        if not pd.api.types.is_numeric_dtype(series):
            raise DataError(
                f"data.target: {spec.target!r} is {series.dtype}; regression needs numbers"
            )
        return series.to_numpy(dtype=np.float64), None
    if classes is not None and len(classes) > 2:
        return _positions(series, tuple(classes), spec.target), tuple(classes)
    labels = sorted({_native(v) for v in series.unique()}, key=str)
    if len(labels) < 2:
        raise DataError(
            f"data.target: {spec.target!r} has only the class {labels}; classification needs "
            "two or more (or use task: regression)"
        )
    if len(labels) > 2:
        if spec.positive_label is not None:
            raise DataError(
                f"data.positive_label: {spec.target!r} has {len(labels)} classes {labels[:5]}; "
                "remove positive_label to train a multiclass model, or map the labels to two"
            )
        return _positions(series, tuple(labels), spec.target), tuple(labels)
    positive = labels[1]
    if spec.positive_label is not None:
        matches = [c for c in labels if str(c) == str(spec.positive_label)]
        if not matches:
            raise DataError(f"data.positive_label: {spec.positive_label!r} is not one of {labels}")
        positive = matches[0]
    negative = labels[0] if positive == labels[1] else labels[1]
    y = (series.astype(str) == str(positive)).to_numpy(dtype=np.float64)
    return y, (negative, positive)


def _positions(series: pd.Series, classes: tuple[Label, ...], target: str) -> FloatArray:
    index = {str(c): float(i) for i, c in enumerate(classes)}
    y = series.astype(str).map(index).to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(y).any():
        unknown = sorted({str(v) for v in series[np.isnan(y)].unique()})[:5]
        raise DataError(
            f"data.target: {target!r} holds labels {unknown} the model was not trained on "
            f"(it knows {list(classes)[:10]}); drop those rows"
        )
    return np.asarray(y, dtype=np.float64)
