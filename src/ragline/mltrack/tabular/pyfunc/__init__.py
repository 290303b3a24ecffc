"""ragline's tabular models as MLflow pyfunc models, with nothing pickled.

    package = package_model(result.artifact_dir, tmp / "pyfunc", example=raw_rows)
    registry.register("adult-income", package, run_id=run.run_id, actor="ana")
    mlflow.pyfunc.load_model("models:/adult-income@production").predict(raw_rows)
    #       score  label     score: positive-class probability (regression: the value)
    # 0  0.031274      0     label: classes[1] when score >= 0.5, else classes[0]

`package_model` writes an MLflow model folder: ``MLmodel`` (flavor ``python_function``), the
signature (the raw columns the feature pipeline reads, typed as in the training table; outputs
``score`` and, for classification, ``label``), an input example (real rows of the training
table), ``requirements.txt`` (this mlflow and this ragline) and the ragline model folder
(LightGBM text / XGBoost JSON / skops file, ``model.json``, ``features.json``) as the pyfunc
artifact ``model``, in ``artifacts/model``.

Loading uses MLflow's "models from code": the package holds a copy of ``pyfunc_entry.py``, which
takes `TabularPyfunc` from the installed ragline and gives MLflow an instance; its
`TabularPyfunc.load_context` reads the model folder with
`ragline.mltrack.tabular.artifacts.load_model` (no unpickling, skops types checked). Passing
``python_model=TabularPyfunc()`` instead would cloudpickle the instance into
``python_model.pkl``, and loading that unpickles: the very thing ragline refuses in model folders
(`ragline.mltrack.tracking.artifacts.check_safe` checks packages too), and a pickled class breaks
when ragline's code moves. So loading needs ragline installed where the model runs
(``mlflow models serve --env-manager local`` in ragline's environment, or the requirements file).

`TabularPyfunc.predict` returns what ``POST /v1/predict`` returns, as columns: ``score``
and ``label`` (`predict_labels`; label for classification only). MLflow checks the input's
columns and types against the signature first: an integer column of the training table is
``long``, so a missing value there must be sent as a float column (JSON requests are cast for
you by ``mlflow models serve``).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.artifacts import load_model, load_pipeline
from ragline.mltrack.tabular.features import FeaturePipeline
from ragline.mltrack.tabular.models import Label, TabularModel, predict_labels
from ragline.mltrack.tracking.artifacts import PYFUNC_MODEL_DIR, check_safe

with warnings.catch_warnings():
    # importing mlflow.pyfunc warns about type hints in MLflow's own agent classes (3.17);
    # the message starts with a terminal colour code
    warnings.filterwarnings("ignore", ".*Any type hint is inferred", UserWarning)
    import mlflow.pyfunc
    from mlflow.models.signature import ModelSignature
    from mlflow.pyfunc.model import PythonModel, PythonModelContext
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

ENTRY = Path(__file__).with_name("pyfunc_entry.py")
ARTIFACT = "model"  # the pyfunc artifact holding ragline's model folder
EXAMPLE_ROWS = 5


def predictions(
    model: TabularModel, pipeline: FeaturePipeline | None, frame: pd.DataFrame
) -> pd.DataFrame:
    """``score`` for every row of `frame` (raw columns), and ``label`` for classification.

    Example:
        >>> from ragline.mltrack.tabular.models import ModelMeta, XGBoostModel
        >>> import numpy as np, xgboost as xgb
        >>> x = pd.DataFrame({"a": np.arange(20.0)})
        >>> booster = xgb.train({"verbosity": 0}, xgb.DMatrix(x, (x["a"] > 9).astype(float)), 3)
        >>> meta = ModelMeta("xgboost", "classification", ("a",), "y", ("no", "yes"))
        >>> predictions(XGBoostModel(meta, booster), None, x.iloc[[0, 19]])["label"].tolist()
        ['no', 'yes']
    """
    scores, best = predict_labels(model, pipeline, frame)
    out = pd.DataFrame({"score": scores})
    meta = model.meta
    if best is not None and meta.classes:
        out["label"] = [meta.classes[i] for i in best.tolist()]
    return out


class TabularPyfunc(PythonModel):
    """The pyfunc model over a ragline model folder (see the module docstring).

    Usage::

        model = mlflow.pyfunc.load_model("models:/adult-income@production")
        model.predict(rows)                      # DataFrame: score, label
    """

    def __init__(self) -> None:
        self._model: TabularModel | None = None
        self._pipeline: FeaturePipeline | None = None

    def load_context(self, context: PythonModelContext) -> None:
        """Read the model folder MLflow hands over as the artifact ``model``; no unpickling."""
        folder = Path(context.artifacts[ARTIFACT])
        self._model, self._pipeline = load_model(folder), load_pipeline(folder)

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """`predictions` of the rows of `model_input` (raw columns, as in the training table)."""
        if self._model is None:
            raise DataError("the model is not loaded; load it with mlflow.pyfunc.load_model")
        return predictions(self._model, self._pipeline, pd.DataFrame(model_input))


def _mlflow_type(dtype: Any) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "long"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    return "string"


def _label_type(classes: Sequence[Label]) -> str:
    kinds = {type(c) for c in classes}
    for kind, name in ((bool, "boolean"), (int, "long"), (float, "double")):
        if kinds == {kind}:
            return name
    return "string"


def signature(
    model: TabularModel, pipeline: FeaturePipeline | None, example: pd.DataFrame
) -> ModelSignature:
    """Inputs: the raw columns the model reads (the pipeline's, else the model's features),
    typed as in `example`; outputs: ``score`` (double) and, for classification, ``label``.

    Example:
        >>> from ragline.mltrack.tabular.features import NumericStep
        >>> from ragline.mltrack.tabular.models import ModelMeta, XGBoostModel
        >>> meta = ModelMeta("xgboost", "regression", ("x",), "y")
        >>> p = FeaturePipeline(numeric=(NumericStep(column="x", name="x"),))
        >>> sig = signature(XGBoostModel(meta, None), p, pd.DataFrame({"x": [1, 2]}))
        >>> sig.inputs.input_names(), [c.type.name for c in sig.inputs.inputs]
        (['x'], ['long'])
    """
    columns = pipeline.input_columns if pipeline is not None else model.meta.features
    missing = [c for c in columns if c not in example.columns]
    if missing:
        raise DataError(f"the input example lacks the model's input columns {missing[:10]}")
    inputs = Schema([ColSpec(_mlflow_type(example[c].dtype), c) for c in columns])
    outputs: list[ColSpec | TensorSpec] = [ColSpec("double", "score")]
    meta = model.meta
    if meta.task != "regression" and meta.classes:  # anomaly models: 1 = flagged
        outputs.append(ColSpec(_label_type(meta.classes), "label"))
    return ModelSignature(inputs, Schema(outputs))


def _example(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    rows = frame.loc[:, list(columns)].head(EXAMPLE_ROWS).reset_index(drop=True)
    for column in rows.columns:
        if _mlflow_type(rows[column].dtype) == "string":  # category dtypes and the like
            rows[column] = rows[column].astype(object)
    return rows


def _requirements() -> list[str]:
    pins = []
    for package in ("mlflow", "ragline"):
        try:
            pins.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pins.append(package)
    return pins


def package_model(folder: Path, dst: Path, *, example: pd.DataFrame) -> Path:
    """Write the MLflow pyfunc package of the model folder `folder` into `dst` (which must not
    exist yet) and return `dst`; `example`: a few raw rows holding the model's input columns.

    MLflow loads the package and predicts on the example before this returns: a package that
    cannot predict raises here, not at serving time. Usage::

        package = package_model(Path("out/model"), Path("out/pyfunc"), example=frame.head())
        mlflow.pyfunc.load_model(str(package)).predict(frame)
    """
    model, pipeline = load_model(folder), load_pipeline(folder)
    sig = signature(model, pipeline, example)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with tempfile.TemporaryDirectory(prefix="ragline-pyfunc-") as tmp:
        source = folder  # MLflow stores it as artifacts/<its name>: make that PYFUNC_MODEL_DIR
        if folder.name != ARTIFACT:
            source = Path(shutil.copytree(folder, Path(tmp) / ARTIFACT))
        mlflow.pyfunc.save_model(
            str(dst),
            python_model=str(ENTRY),
            artifacts={ARTIFACT: str(source.resolve())},
            signature=sig,
            input_example=_example(example, sig.inputs.input_names()),
            pip_requirements=_requirements(),
            code_paths=None,
        )
    if not (dst / PYFUNC_MODEL_DIR / "model.json").is_file():  # pragma: no cover - MLflow layout
        raise DataError(f"{dst}: MLflow did not store the model folder in {PYFUNC_MODEL_DIR}")
    check_safe(dst)
    return dst
