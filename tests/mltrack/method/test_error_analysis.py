"""Error analysis on hand-made scores: each task's per-row error, the misclassified flags, slices
ranked worst first, small slices left out, and bad input refused with what to fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.method.error_analysis import read_labelled, row_errors, slice_errors
from ragline.mltrack.tabular.models import ModelMeta

pytestmark = pytest.mark.unit

BINARY = ModelMeta("lightgbm", "classification", ("x",), "y", classes=(0, 1))


def test_binary_error_is_distance_from_the_label_whatever_its_type() -> None:
    # labels as read from CSV (int), Parquet (float) or text name the same classes
    for labels in ([1, 0, 1], [1.0, 0.0, 1.0], ["1", "0", "1"]):
        errors, wrong = row_errors(BINARY, np.array([0.9, 0.8, 0.3]), pd.Series(labels))
        assert errors.round(6).tolist() == [0.1, 0.8, 0.7]
        assert wrong is not None and wrong.tolist() == [False, True, True]


def test_multiclass_error_is_one_minus_the_true_class_probability() -> None:
    meta = ModelMeta("lightgbm", "classification", ("x",), "y", classes=("a", "b", "c"))
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    errors, wrong = row_errors(meta, probs, pd.Series(["a", "b", "b"]))
    assert errors.round(6).tolist() == [0.3, 0.7, 0.5]
    assert wrong is not None and wrong.tolist() == [False, True, False]


def test_regression_error_is_the_absolute_residual() -> None:
    meta = ModelMeta("lightgbm", "regression", ("x",), "y")
    errors, wrong = row_errors(meta, np.array([10.0, 2.5]), pd.Series([7, 4]))
    assert errors.tolist() == [3.0, 1.5] and wrong is None


def test_an_unknown_label_is_refused_naming_the_classes() -> None:
    with pytest.raises(DataError, match=r"holds \['yes'\], not among the model's classes"):
        row_errors(BINARY, np.array([0.5]), pd.Series(["yes"]))


def test_slices_rank_worst_first_and_drop_small_ones() -> None:
    frame = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 4 + ["c"], "h": ["x", "y"] * 4 + ["x"]})
    errors = np.array([0.1, 0.2, 0.1, 0.2, 0.9, 0.6, 0.8, 0.7, 1.0])
    wrong = errors >= 0.5
    found = slice_errors(frame, errors, wrong, ["g", "h"], min_rows=2)
    assert [(s.column, s.value) for s in found][:1] == [("g", "b")]
    assert ("g", "c") not in [(s.column, s.value) for s in found]  # 1 row < min_rows
    b = found[0]
    assert (b.rows, b.misclassified, round(b.mean_error, 6)) == (4, 1.0, 0.75)
    shares = [s.misclassified or 0.0 for s in found]
    assert shares == sorted(shares, reverse=True)


def test_a_slice_column_missing_from_the_data_is_named() -> None:
    with pytest.raises(DataError, match=r"slice columns \['nope'\] are not in the data"):
        slice_errors(pd.DataFrame({"g": ["a"]}), np.array([0.1]), None, ["nope"])


def test_reads_a_folder_of_csv_and_parquet(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_csv(folder / "a.csv", index=False)
    pd.DataFrame({"x": [3]}).to_parquet(folder / "b.parquet")
    assert read_labelled(folder)["x"].tolist() == [1, 2, 3]
