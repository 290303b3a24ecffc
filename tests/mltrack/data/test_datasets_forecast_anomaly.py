"""The weekly Mauna Loa CO2 series (statsmodels) and the breast-cancer anomaly set (sklearn)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.data.datasets import load_breast_anomaly, load_co2
from ragline.mltrack.errors import DataError

pytestmark = pytest.mark.unit


def test_co2_is_a_regular_weekly_grid_with_the_gaps_filled_and_marked() -> None:
    co2 = load_co2()
    assert list(co2.columns) == ["week", "co2", "imputed"] and len(co2) == 2284
    weeks = pd.to_datetime(co2["week"])
    assert (weeks.diff().dropna() == pd.Timedelta(days=7)).all()  # so lag 52 is one year
    assert not co2["co2"].isna().any() and int(co2["imputed"].sum()) == 59
    assert 312 < co2["co2"].min() < co2["co2"].max() < 375  # ppm, 1958-2001
    # a filled week lies between its neighbours (linear interpolation in time)
    i = int(np.flatnonzero(co2["imputed"].to_numpy())[0])
    low, high = sorted(co2["co2"].iloc[[i - 1, i + 1]])
    assert low <= co2["co2"].iloc[i] <= high or co2["imputed"].iloc[i + 1] == 1


def test_breast_anomaly_is_benign_plus_five_percent_malignant() -> None:
    frame = load_breast_anomaly()
    assert frame.shape == (376, 31) and int(frame["anomaly"].sum()) == 19
    assert frame["anomaly"].mean() == pytest.approx(0.05, abs=0.002)
    assert "mean_radius" in frame.columns and not frame.isna().any().any()
    # fixed seed: the same rows every time; another seed draws other malignant rows
    pd.testing.assert_frame_equal(frame, load_breast_anomaly())
    other = load_breast_anomaly(seed=1)
    assert (
        not frame[frame["anomaly"] == 1]
        .sort_values("mean_area")["mean_area"]
        .equals(other[other["anomaly"] == 1].sort_values("mean_area")["mean_area"])
    )
    assert load_breast_anomaly(contamination=0.1)["anomaly"].sum() == 40


def test_an_impossible_contamination_is_refused() -> None:
    with pytest.raises(DataError, match="contamination"):
        load_breast_anomaly(contamination=0.6)
