"""ragline.mltrack.tabular.jobs: the leakage checks a training config gets, on what its split and
features fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ragline.mltrack.tabular.config import TrainConfig, TrainConfigError, load_train_config
from ragline.mltrack.tabular.jobs import leakage_job

pytestmark = pytest.mark.unit


def table(path: Path, late_rows: int = 0) -> Path:
    rng = np.random.default_rng(0)
    n = 400
    at = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), unit="D")
    known = at - pd.Timedelta(days=1)
    known = known.where(np.arange(n) >= late_rows, at + pd.Timedelta(days=3))
    frame = pd.DataFrame(
        {
            "customer": rng.integers(0, 80, n),
            "spend": rng.normal(100, 20, n),
            "visits": rng.poisson(3, n),
            "at": at.astype(str),
            "spend_known_at": known.astype(str),
            "churned": rng.integers(0, 2, n),
        }
    )
    frame.to_csv(path, index=False)
    return path


def config(data: Path, **extra: object) -> TrainConfig:
    body: dict[str, object] = {
        "data": {"path": str(data), "target": "churned", "task": "classification", **extra},
        "features": {"numeric": [{"columns": ["spend", "visits"], "ops": ["standardize"]}]},
    }
    return TrainConfig.model_validate(body)


def test_a_clean_config_has_no_findings(tmp_path: Path) -> None:
    report = leakage_job(config(table(tmp_path / "t.csv")))
    assert report.clean, [str(f) for f in report.findings]
    assert {"split_after_engineering", "target_derived_features"} <= set(report.checks)


def test_feature_values_known_after_the_prediction_time_are_found(tmp_path: Path) -> None:
    data = table(tmp_path / "t.csv", late_rows=25)
    report = leakage_job(config(data, time_column="at", feature_times=["spend_known_at"]))
    assert not report.clean
    [finding] = [f for f in report.findings if f.check == "future_features"]
    assert finding.column == "spend_known_at" and "rows (" in finding.evidence


def test_the_same_customer_in_train_and_test_is_found(tmp_path: Path) -> None:
    report = leakage_job(config(table(tmp_path / "t.csv"), id_column="customer"))
    assert any(f.check == "entity_overlap" for f in report.findings)


def test_feature_times_need_a_prediction_time(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "data: {path: t.csv, target: churned, task: classification, feature_times: [x]}\n"
        "features: {numeric: [{columns: [spend]}]}\n"
    )
    with pytest.raises(TrainConfigError, match=r"data\.prediction_time"):
        load_train_config(path)
