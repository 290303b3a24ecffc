"""The shared golden rows: frozen once from the data, never rewritten; scored like serving."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.pipeline.config import GoldenSpec
from ragline.mltrack.pipeline.golden import freeze_golden
from ragline.mltrack.tabular.config import TrainConfig

pytestmark = pytest.mark.unit


def _train(data: Path) -> TrainConfig:
    return TrainConfig.model_validate(
        {
            "data": {"path": str(data), "target": "y", "task": "classification"},
            "features": {"numeric": [{"columns": ["x"]}]},
        }
    )


def test_frozen_once_then_reused(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    pd.DataFrame({"x": range(100), "y": [0, 1] * 50}).to_csv(data, index=False)
    spec = GoldenSpec(path=tmp_path / "g" / "golden.csv", sample=20, seed=3)
    path = freeze_golden(spec, _train(data))
    first = path.read_text()
    assert len(pd.read_csv(path)) == 20
    pd.DataFrame({"x": range(100, 200), "y": [1, 0] * 50}).to_csv(data, index=False)
    assert freeze_golden(spec, _train(data)).read_text() == first  # the same rows every run


def test_missing_without_a_sample_says_how_to_fix(tmp_path: Path) -> None:
    spec = GoldenSpec(path=tmp_path / "golden.csv")
    with pytest.raises(DataError, match=r"or set golden\.sample: N"):
        freeze_golden(spec, _train(tmp_path / "rows.csv"))
