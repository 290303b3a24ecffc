"""Reading the table (csv and parquet) and encoding a binary target."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import DataSpec
from ragline.mltrack.tabular.data import encode_target, load_frame

pytestmark = pytest.mark.unit


def test_csv_and_parquet_read_alike_with_a_fresh_index(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"x": [1.0, 2.0], "y": ["a", "b"], "t": ["2024-01-02", "2024-01-01"]}, index=[7, 9]
    )
    frame.to_csv(tmp_path / "rows.csv", index=False)
    frame.to_parquet(tmp_path / "rows.parquet", index=False)
    for name in ("rows.csv", "rows.parquet"):
        spec = DataSpec(path=tmp_path / name, target="y", task="classification", time_column="t")
        got = load_frame(spec)
        assert got.index.tolist() == [0, 1]
        assert pd.api.types.is_datetime64_any_dtype(got["t"])


def test_missing_things_are_data_errors(tmp_path: Path) -> None:
    spec = DataSpec(path=tmp_path / "none.csv", target="y", task="regression")
    with pytest.raises(DataError, match=r"does not exist; fix the path"):
        load_frame(spec)
    pd.DataFrame({"x": [1, 2], "y": [1.0, None]}).to_csv(tmp_path / "r.csv", index=False)
    spec = DataSpec(path=tmp_path / "r.csv", target="y", task="regression", protected="sex")
    with pytest.raises(DataError, match=r"data.protected: column 'sex' is not in r.csv; it has"):
        load_frame(spec)
    with pytest.raises(DataError, match=r"1 rows have no 'y'; drop them first"):
        load_frame(spec.model_copy(update={"protected": None}))


def test_binary_targets_map_to_0_1_with_the_positive_class_last() -> None:
    spec = DataSpec(path=Path("x.csv"), target="y", task="classification")
    y, classes = encode_target(pd.Series([1, 0, 1]), spec)
    assert y.tolist() == [1.0, 0.0, 1.0] and classes == (0, 1)
    chosen = spec.model_copy(update={"positive_label": "<=50K"})
    y, classes = encode_target(pd.Series([">50K", "<=50K"]), chosen)
    assert y.tolist() == [0.0, 1.0] and classes == (">50K", "<=50K")
    with pytest.raises(DataError, match=r"has 3 classes .* remove positive_label"):
        encode_target(pd.Series(["a", "b", "c"]), chosen)  # a positive class: meant binary
    with pytest.raises(DataError, match=r"has only the class \['a'\]"):
        encode_target(pd.Series(["a", "a"]), spec)


def test_more_than_two_classes_map_to_their_sorted_positions() -> None:
    spec = DataSpec(path=Path("x.csv"), target="y", task="classification")
    y, classes = encode_target(pd.Series(["c", "a", "b", "a"]), spec)
    assert y.tolist() == [2.0, 0.0, 1.0, 0.0] and classes == ("a", "b", "c")
    # a trained model's classes fix the positions, even when a class is absent
    y, _ = encode_target(pd.Series(["c", "c"]), spec, ("a", "b", "c"))
    assert y.tolist() == [2.0, 2.0]
    with pytest.raises(DataError, match=r"labels \['d'\] the model was not trained on"):
        encode_target(pd.Series(["a", "d"]), spec, ("a", "b", "c"))
    with pytest.raises(DataError, match=r"positive_label: 'z' is not one of"):
        encode_target(pd.Series(["a", "b"]), spec.model_copy(update={"positive_label": "z"}))
