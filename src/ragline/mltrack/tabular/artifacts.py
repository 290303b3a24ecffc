"""Model artifact folders that load without unpickling anything.

    folder = save_model(model, out_dir / "model", pipeline=fit.pipeline)
    model = load_model(folder)                 # same predictions, no pickle involved
    pipeline = load_pipeline(folder)           # the fitted features, from features.json

A folder holds ``model.<ext>`` in the library's own data format (``model.txt``: LightGBM text;
``model.xgb.json``: XGBoost JSON; ``model.skops``: scikit-learn through skops), ``model.json``
(format, file, kind, task, signature = feature names and dtypes + target + classes, params) and,
when given, ``features.json``. `load_model` refuses any folder holding a ``.pkl``, ``.pickle``
or ``.joblib`` file with `UnsafeModelFile`: unpickling runs whatever code the file carries. A
skops file is opened only when every type it needs is in ``trusted_types``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import lightgbm as lgb
import skops.io as sio
import xgboost as xgb
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragline.mltrack.errors import DataError, UnsafeModelFile
from ragline.mltrack.tabular.config import ModelKind, ParamValue, Task
from ragline.mltrack.tabular.features import FeaturePipeline
from ragline.mltrack.tabular.models import (
    LightGBMModel,
    ModelMeta,
    SklearnModel,
    TabularModel,
    XGBoostModel,
)

ModelFormat = Literal["lightgbm-text", "xgboost-json", "skops", "onnx"]
PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib"})
# the non-default skops types that ragline's own sklearn kinds need (audited: plain data holders)
DEFAULT_TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


class FeatureSig(BaseModel):
    """One model input."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    dtype: str


class Signature(BaseModel):
    """The model's inputs, target and classes ([negative, positive]; null for regression)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    features: tuple[FeatureSig, ...]
    target: str
    classes: tuple[str | int | float | bool, ...] | None = None


class ModelFile(BaseModel):
    """The contents of ``model.json``; `read_model_file` parses one.

    Usage::

        card = read_model_file(folder)
        card.format, [f.name for f in card.signature.features], card.signature.classes
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: ModelFormat
    file: str
    kind: ModelKind
    task: Task
    signature: Signature
    params: dict[str, ParamValue] = Field(default_factory=dict)
    best_iteration: int | None = None
    threshold: float | None = Field(None, description="anomaly: the alert threshold")
    versions: dict[str, str] = Field(default_factory=dict)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _write_native(model: TabularModel, folder: Path) -> tuple[ModelFormat, str, str]:
    if isinstance(model, LightGBMModel):
        model.booster.save_model(folder / "model.txt")
        return "lightgbm-text", "model.txt", "lightgbm"
    if isinstance(model, XGBoostModel):
        model.booster.save_model(str(folder / "model.xgb.json"))
        return "xgboost-json", "model.xgb.json", "xgboost"
    if isinstance(model, SklearnModel):
        sio.dump(model.estimator, folder / "model.skops")
        return "skops", "model.skops", "scikit-learn"
    raise TypeError(
        f"cannot save {type(model).__name__}; fit it with ragline.mltrack.tabular.fit_model"
    )


def save_model(
    model: TabularModel, folder: Path, *, pipeline: FeaturePipeline | None = None
) -> Path:
    """Write ``model`` (and its feature ``pipeline``) into ``folder``; returns the folder.

    Example:
        >>> import tempfile, numpy as np, pandas as pd
        >>> from ragline.mltrack.tabular.models import TrainData, fit_model
        >>> from ragline.mltrack.tabular.config import ModelSpec
        >>> x = pd.DataFrame({"a": np.arange(30.0)})
        >>> y = (x["a"] > 15).to_numpy(dtype=float)
        >>> data = TrainData(x, y, x, y, task="classification", target="y", classes=(0, 1))
        >>> spec = ModelSpec(kind="xgboost", rounds=3, threads=1)
        >>> model = fit_model(spec, data, metric="roc_auc")
        >>> folder = save_model(model, Path(tempfile.mkdtemp()) / "m")
        >>> sorted(p.name for p in folder.iterdir())
        ['model.json', 'model.xgb.json']
    """
    require_empty(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fmt, file, library = _write_native(model, folder)
    meta = model.meta
    card = ModelFile(
        format=fmt,
        file=file,
        kind=meta.kind,
        task=meta.task,
        signature=Signature(
            features=tuple(FeatureSig(name=f, dtype="float64") for f in meta.features),
            target=meta.target,
            classes=meta.classes,
        ),
        params=dict(meta.params),
        best_iteration=meta.best_iteration,
        threshold=meta.threshold,
        versions={library: _version(library), "ragline": _version("ragline")},
    )
    (folder / "model.json").write_text(card.model_dump_json(indent=2), encoding="utf-8")
    if pipeline is not None:
        (folder / "features.json").write_text(pipeline.model_dump_json(indent=2), "utf-8")
    return folder


def require_empty(folder: Path) -> None:
    """Raise `FileExistsError` if ``folder`` holds anything: a save never mixes two models."""
    if folder.is_dir() and any(folder.iterdir()):
        raise FileExistsError(
            f"{folder} is not empty; save each model into a new folder (a new run directory) "
            "or delete the old one first"
        )


def refuse_pickles(path: Path) -> None:
    """Raise `UnsafeModelFile` if ``path`` is, or is a folder holding, a pickle-based file."""
    candidates = [path] if path.is_file() or not path.exists() else list(path.iterdir())
    for candidate in candidates:
        if candidate.suffix.lower() in PICKLE_SUFFIXES:
            raise UnsafeModelFile(
                f"{candidate}: refusing a pickle-based model file ({candidate.suffix}); loading it "
                "would run any code it carries. Re-save the model with "
                "ragline.mltrack.tabular.save_model (LightGBM text, XGBoost JSON or skops) and "
                "remove it"
            )


def read_model_file(folder: Path) -> ModelFile:
    """The parsed ``model.json`` of an artifact folder."""
    path = folder / "model.json"
    try:
        return ModelFile.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"{folder}: no model.json; save the model with save_model") from exc
    except ValidationError as exc:
        raise DataError(f"{path}: not a model card this version understands: {exc}") from exc


def _skops(path: Path, trusted: Sequence[str]) -> object:
    needed = sio.get_untrusted_types(file=path)
    unknown = sorted(t for t in needed if t not in trusted)
    if unknown:
        raise UnsafeModelFile(
            f"{path}: the skops file needs types that are not trusted: {unknown}. Audit them, "
            "then pass them in load_model(..., trusted_types=[...]) if they are safe"
        )
    return sio.load(path, trusted=list(needed))


def load_model(
    folder: Path, *, trusted_types: Sequence[str] = DEFAULT_TRUSTED_TYPES
) -> TabularModel:
    """Load a model saved by `save_model`, without unpickling; see the module docstring."""
    refuse_pickles(folder)
    card = read_model_file(folder)
    if Path(card.file).name != card.file or Path(card.file).suffix.lower() in PICKLE_SUFFIXES:
        raise UnsafeModelFile(f"{folder}/model.json names file {card.file!r}; refusing it")
    path = folder / card.file
    if not path.is_file():
        raise DataError(f"{path} is missing; the artifact folder is incomplete, save it again")
    sig = card.signature
    features = tuple(f.name for f in sig.features)
    meta = ModelMeta(
        card.kind,
        card.task,
        features,
        sig.target,
        sig.classes,
        card.params,
        card.best_iteration,
        card.threshold,
    )
    if card.format == "lightgbm-text":
        booster = lgb.Booster(model_file=path)
        _same_features(path, features, tuple(booster.feature_name()))
        return LightGBMModel(meta, booster)
    if card.format == "xgboost-json":
        xgb_booster = xgb.Booster()
        xgb_booster.load_model(str(path))
        _same_features(path, features, tuple(xgb_booster.feature_names or ()))
        return XGBoostModel(meta, xgb_booster)
    if card.format == "skops":
        return SklearnModel(meta, _skops(path, trusted_types))
    raise DataError(
        f"{path}: format {card.format!r} cannot be loaded by ragline.mltrack.tabular yet"
    )


def _same_features(path: Path, expected: tuple[str, ...], found: tuple[str, ...]) -> None:
    if expected != found:
        raise DataError(
            f"{path}: the model's features {list(found)[:5]}... differ from model.json's "
            f"{list(expected)[:5]}...; the folder was edited by hand, save the model again"
        )


def load_pipeline(folder: Path) -> FeaturePipeline | None:
    """The fitted feature pipeline saved beside the model, or None when there is none."""
    path = folder / "features.json"
    if not path.is_file():
        return None
    try:
        return FeaturePipeline.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise DataError(f"{path}: not a feature pipeline this version understands: {exc}") from exc
