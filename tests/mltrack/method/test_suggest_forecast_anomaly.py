"""`suggest` for a numeric target over time (a forecast) and for a rare label declared as
anomalies: the starter configs validate and train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.data.datasets import load_breast_anomaly
from ragline.mltrack.data.profile import profile_frame
from ragline.mltrack.errors import DataError
from ragline.mltrack.method.suggest import render_config, starter_config, suggest
from ragline.mltrack.tabular.config import load_train_config
from ragline.mltrack.tabular.train import train

pytestmark = pytest.mark.unit


def _daily(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    days = pd.Series(pd.date_range("2024-01-01", periods=rows, freq="D"))
    y = 50 + 5 * np.sin(2 * np.pi * np.arange(rows) / 7) + rng.normal(0, 1, rows)
    return pd.DataFrame({"day": days, "sales": y})


def test_a_numeric_target_over_time_is_a_forecast_with_lags_and_seasonal_naive() -> None:
    frame = _daily()
    s = suggest(profile_frame(frame, "sales"), frame=frame)
    assert (s.season, s.cycle, s.time_column) == (7, "dayofweek", "day")
    config = starter_config(s, "sales.csv")
    assert config.split.kind == "temporal" and config.data.time_column == "day"
    assert config.baseline.kind == "seasonal_naive" and config.baseline.season == 7
    own = config.features.temporal[0]
    assert own.column == "sales" and own.lags == [1, 2, 7]
    assert config.features.temporal[1].cycles == ["dayofweek"]
    assert config.model.kind == "sklearn-rf"  # 200 rows: a forest (linear_tree is lightgbm's)


def test_without_the_frame_the_old_regression_advice_stands() -> None:
    frame = _daily().assign(price=np.linspace(1.0, 2.0, 200))
    s = suggest(profile_frame(frame, "sales"))
    assert s.season is None and starter_config(s, "x.csv").baseline.kind == "auto"


def test_the_forecast_starter_config_trains(tmp_path: Path) -> None:
    frame = _daily()
    frame.to_csv(tmp_path / "sales.csv", index=False)
    s = suggest(profile_frame(frame, "sales"), frame=frame)
    path = tmp_path / "starter.yaml"
    path.write_text(render_config(s, "sales.csv"), encoding="utf-8")
    result = train(load_train_config(path), None, tmp_path / "out")
    assert result.baseline.kind == "seasonal_naive" and "mase" in result.metrics


def test_a_rare_label_declared_as_anomalies_gets_an_isolation_forest(tmp_path: Path) -> None:
    frame = load_breast_anomaly()
    s = suggest(profile_frame(frame, "anomaly", "classification"), anomaly=True)
    assert s.model == "isolation-forest" and s.primary == "pr_auc"
    assert s.alert_budget == pytest.approx(0.051)
    text = render_config(s, "wbc.csv")
    assert "task anomaly" in text
    config = starter_config(s, "wbc.csv")
    assert config.data.task == "anomaly" and config.baseline.kind == "zscore"
    assert config.tune.trials == 0 and not config.tune.space
    frame.to_csv(tmp_path / "wbc.csv", index=False)
    (tmp_path / "starter.yaml").write_text(text, encoding="utf-8")
    result = train(load_train_config(tmp_path / "starter.yaml"), None, tmp_path / "out")
    assert result.model.meta.threshold is not None and "precision_at_k" in result.metrics


def test_a_common_label_is_not_an_anomaly() -> None:
    frame = pd.DataFrame({"x": np.arange(100.0), "y": [0, 1] * 50})
    with pytest.raises(DataError, match="rare 0/1 label"):
        suggest(profile_frame(frame, "y", "classification"), anomaly=True)
