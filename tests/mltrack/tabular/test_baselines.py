"""Baselines: majority class, train mean, and first-match rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.baselines import fit_baseline
from ragline.mltrack.tabular.config import BaselineSpec, Rule

pytestmark = pytest.mark.unit


def test_majority_scores_every_row_with_the_train_positive_rate() -> None:
    base = fit_baseline(BaselineSpec(kind="majority"), "classification", [1, 0, 0, 0])
    scores = base.predict(pd.DataFrame({"x": range(3)}))
    assert base.kind == "majority" and scores.tolist() == [0.25, 0.25, 0.25]


def test_auto_is_the_mean_for_regression() -> None:
    base = fit_baseline(BaselineSpec(), "regression", [1.0, 2.0, 6.0])
    assert base.kind == "mean" and base.predict(pd.DataFrame(index=range(2))).tolist() == [3, 3]


def test_rules_apply_in_order_and_fall_back_to_the_prior() -> None:
    rules = [
        Rule(column="gain", op=">=", value=5000, predict=">50K"),
        Rule(column="status", op="==", value="Married", predict=">50K"),
        Rule(column="age", op="<", value=25, predict="<=50K"),
    ]
    base = fit_baseline(
        BaselineSpec(kind="rules", rules=rules),
        "classification",
        [0, 0, 0, 1],
        classes=("<=50K", ">50K"),
    )
    rows = pd.DataFrame(
        {
            "gain": [9000, 0, 0, 0, np.nan],
            "status": ["Single", "Married", "Single", "Single", "Married"],
            "age": [20, 20, 20, 40, 40],
        }
    )
    assert base.predict(rows).tolist() == [1.0, 1.0, 0.0, 0.25, 1.0]


def test_regression_rules_predict_their_value() -> None:
    spec = BaselineSpec(kind="rules", rules=[Rule(column="x", op="!=", value=0, predict=9.5)])
    base = fit_baseline(spec, "regression", [1.0, 3.0])
    assert base.predict(pd.DataFrame({"x": [0, 1]})).tolist() == [2.0, 9.5]


def test_rule_errors_name_the_rule() -> None:
    spec = BaselineSpec(kind="rules", rules=[Rule(column="x", op=">", value=1, predict="maybe")])
    with pytest.raises(DataError, match=r"baseline.rules\[0\].predict: 'maybe' is not one of"):
        fit_baseline(spec, "classification", [0, 1], classes=("no", "yes"))
    ok = BaselineSpec(kind="rules", rules=[Rule(column="x", op=">", value="a", predict=1)])
    base = fit_baseline(ok, "classification", [0, 1])
    with pytest.raises(DataError, match=r"rules\[0\].op: '>' needs a numeric column"):
        base.predict(pd.DataFrame({"x": ["a"]}))
    with pytest.raises(DataError, match=r"rules\[0\].value: 'x' is numeric"):
        base.predict(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(DataError, match=r"rules\[0\].column: 'x' is not in the data"):
        base.predict(pd.DataFrame({"y": [1.0]}))
