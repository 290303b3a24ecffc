"""Tabular training: config -> split -> features -> baseline -> (tuned) model -> eval -> artifact.

    from ragline.mltrack.tabular import load_train_config, train
    result = train(load_train_config(Path("configs/ml/adult.yaml")), run_logger, Path("out"))

Modules: `config` (the YAML schema), `data` (read the table, encode the target), `split`,
`temporal` and `features` (fitted on train only, traced as `FitRecord`s), `baselines`, `models`
(LightGBM, XGBoost, scikit-learn), `tuning` (Optuna), `evaluate` (evals metrics with CIs,
calibration, fairness), `artifacts` (save/load without pickle), `train` (the run) and `pyfunc`
(a model folder as an MLflow pyfunc model loaded from code; not imported here: it imports
mlflow.pyfunc).
"""

from ragline.mltrack.tabular.artifacts import (
    DEFAULT_TRUSTED_TYPES,
    ModelFile,
    load_model,
    load_pipeline,
    read_model_file,
    refuse_pickles,
    save_model,
)
from ragline.mltrack.tabular.baselines import Baseline, fit_baseline
from ragline.mltrack.tabular.config import TrainConfig, TrainConfigError, load_train_config
from ragline.mltrack.tabular.evaluate import (
    EvalReport,
    MetricDelta,
    compare,
    evaluate,
    metric_value,
)
from ragline.mltrack.tabular.features import FeatureFit, FeaturePipeline, FitRecord, fit_features
from ragline.mltrack.tabular.models import ModelMeta, TabularModel, TrainData, fit_model
from ragline.mltrack.tabular.split import Split, split_rows
from ragline.mltrack.tabular.temporal import add_temporal_features
from ragline.mltrack.tabular.train import TrainResult, train
from ragline.mltrack.tabular.tuning import TuneResult, tune

__all__ = [
    "DEFAULT_TRUSTED_TYPES",
    "Baseline",
    "EvalReport",
    "FeatureFit",
    "FeaturePipeline",
    "FitRecord",
    "MetricDelta",
    "ModelFile",
    "ModelMeta",
    "Split",
    "TabularModel",
    "TrainConfig",
    "TrainConfigError",
    "TrainData",
    "TrainResult",
    "TuneResult",
    "add_temporal_features",
    "compare",
    "evaluate",
    "fit_baseline",
    "fit_features",
    "fit_model",
    "load_model",
    "load_pipeline",
    "load_train_config",
    "metric_value",
    "read_model_file",
    "refuse_pickles",
    "save_model",
    "split_rows",
    "train",
    "tune",
]
