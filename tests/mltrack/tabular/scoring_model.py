"""A registered, production Adult model for the batch-scoring tests (tabular and CLI).

data_dir = register_adult_model(tmp / "root")        # LightGBM on 4,000 rows, ~5 s
rows = fresh_adult_rows(3_000)                       # other Adult rows, income kept
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.tabular.config import load_train_config
from ragline.mltrack.tabular.jobs import promote_job, train_job
from tests.mltrack.adult_config import adult_config

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
MODEL = "adult-batch"
EXPERIMENT = f"{{hypothesis: boosted trees beat the majority class, register_as: {MODEL}}}"


def register_adult_model(root: Path) -> Path:
    """Train on 4,000 Adult rows, register as `MODEL`, promote to production; the data dir."""
    root.mkdir(parents=True, exist_ok=True)
    data_dir = root / ".ragline"
    load_adult().sample(n=4000, random_state=0).to_csv(root / "adult.csv", index=False)
    (root / "adult.yaml").write_text(adult_config(root / "adult.csv", EXPERIMENT))
    ml = MltrackConfig()
    outcome = train_job(load_train_config(root / "adult.yaml"), ml, data_dir, root / "run")
    assert outcome.version is not None
    for stage in ("staging", "production"):
        promote_job(MODEL, outcome.version.version, stage, ml, data_dir)
    return data_dir


def fresh_adult_rows(n: int, seed: int = 1) -> pd.DataFrame:
    """`n` Adult rows (seeded sample), index 0..n-1, categoricals as pandas categories."""
    return load_adult().sample(n=n, random_state=seed).reset_index(drop=True)
