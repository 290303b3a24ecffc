"""The robust z-score baseline: hand-computed values, constant columns skipped."""

from __future__ import annotations

import pandas as pd
import pytest

from ragline.mltrack.anomaly.zscore import MAD_TO_SD, fit_zscore
from ragline.mltrack.errors import DataError

pytestmark = pytest.mark.unit


def test_scores_are_the_mean_robust_z_squashed_into_zero_one() -> None:
    base = fit_zscore(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "c": [7.0] * 5}))
    assert base.columns == ("x",)  # a constant column carries no distance
    # median 3, MAD 1: z(9) = 6 / 1.4826
    z = 6 / MAD_TO_SD
    scores = base.predict(pd.DataFrame({"x": [3.0, 9.0, None], "c": [0.0, 0.0, 0.0]}))
    assert scores.tolist() == pytest.approx([0.0, z / (1 + z), 0.0])


def test_a_table_with_nothing_that_varies_is_refused() -> None:
    with pytest.raises(DataError, match="no feature that varies"):
        fit_zscore(pd.DataFrame({"c": [1.0, 1.0]}))
