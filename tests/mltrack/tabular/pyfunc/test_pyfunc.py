"""MLflow pyfunc packages of real models trained on 5,000 rows of UCI Adult: MLflow loads them by
"models from code" (nothing pickled) and predicts exactly what ragline predicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from ragline.mltrack.errors import DataError, UnsafeModelFile
from ragline.mltrack.tabular import load_train_config, save_model, train
from ragline.mltrack.tabular.config import ModelSpec
from ragline.mltrack.tabular.models import TrainData, class_labels, fit_model, score_frame
from ragline.mltrack.tabular.pyfunc import package_model  # imports mlflow.pyfunc, quietly
from ragline.mltrack.tabular.train import TrainResult
from ragline.mltrack.tracking.artifacts import PYFUNC_MODEL_DIR, check_safe, model_folder

pytestmark = pytest.mark.integration


@pytest.fixture
def trained(adult_config: Callable[..., Path], tmp_path: Path) -> Callable[[str], TrainResult]:
    def fit(kind: str) -> TrainResult:
        return train(load_train_config(adult_config(kind)), None, tmp_path / kind)

    return fit


def _raw_rows(csv: Path, result: TrainResult, n: int = 100) -> pd.DataFrame:
    """`n` raw test rows as a user holds them: read from the CSV, every column."""
    return pd.read_csv(csv).loc[result.split.test[:n]].reset_index(drop=True)


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost", "sklearn-hgb"])
def test_pyfunc_predicts_exactly_what_ragline_predicts(
    kind: str, trained: Callable[[str], TrainResult], adult_csv: Path, tmp_path: Path
) -> None:
    result = trained(kind)
    rows = _raw_rows(adult_csv, result)
    package = package_model(result.artifact_dir, tmp_path / "pyfunc", example=rows)

    got = mlflow.pyfunc.load_model(str(package)).predict(rows)

    scores = score_frame(result.model, result.pipeline, rows)
    assert list(got.columns) == ["score", "label"]
    assert np.array_equal(got["score"].to_numpy(), scores)  # exactly, not approximately
    assert got["label"].tolist() == class_labels(scores, ("<=50K", ">50K"))
    assert set(got["label"]) == {"<=50K", ">50K"}  # both classes occur in 100 rows


def test_package_holds_no_pickle_and_loads_from_code(
    trained: Callable[[str], TrainResult], adult_csv: Path, tmp_path: Path
) -> None:
    result = trained("lightgbm")
    package = package_model(
        result.artifact_dir, tmp_path / "pyfunc", example=_raw_rows(adult_csv, result)
    )

    check_safe(package)  # no pickle stream anywhere, whatever the file is called
    conf = yaml.safe_load((package / "MLmodel").read_text())["flavors"]["python_function"]
    assert conf["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert Path(conf["model_code_path"]).name == "pyfunc_entry.py"
    assert "python_model" not in conf  # MLflow's cloudpickle of the instance: absent
    assert conf["artifacts"]["model"]["path"] == PYFUNC_MODEL_DIR
    assert sorted(p.name for p in (package / PYFUNC_MODEL_DIR).iterdir()) == [
        "features.json",
        "model.json",
        "model.txt",
    ]
    assert model_folder(package) == package / PYFUNC_MODEL_DIR
    assert (package / "requirements.txt").read_text().splitlines()[:2] == [
        f"mlflow=={mlflow.__version__}",
        "ragline==0.1.0",
    ]

    # a pickle slipped into the package is refused before anything loads it
    (package / "python_model.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(UnsafeModelFile, match=r"python_model\.pkl"):
        model_folder(package)


def test_signature_and_input_example_come_from_the_training_table(
    trained: Callable[[str], TrainResult], adult_csv: Path, tmp_path: Path
) -> None:
    result = trained("lightgbm")
    rows = _raw_rows(adult_csv, result)
    package = package_model(result.artifact_dir, tmp_path / "pyfunc", example=rows)

    info = mlflow.models.get_model_info(str(package))
    inputs = {c.name: c.type.name for c in info.signature.inputs.inputs}
    assert inputs == dict.fromkeys(result.pipeline.input_columns, "string") | {
        "age": "long",
        "hours-per-week": "long",
        "education-num": "long",
        "capital-gain": "long",
        "capital-loss": "long",
    }
    outputs = {c.name: c.type.name for c in info.signature.outputs.inputs}
    assert outputs == {"score": "double", "label": "string"}
    example = pd.read_json(package / "input_example.json", orient="split")
    assert len(example) == 5 and list(example.columns) == list(result.pipeline.input_columns)

    # MLflow checks inputs against the signature before the model sees them
    with pytest.raises(mlflow.exceptions.MlflowException, match="relationship"):
        mlflow.pyfunc.load_model(str(package)).predict(rows.drop(columns=["relationship"]))


def test_an_example_without_the_input_columns_is_refused(
    trained: Callable[[str], TrainResult], adult_csv: Path, tmp_path: Path
) -> None:
    result = trained("xgboost")
    rows = _raw_rows(adult_csv, result).drop(columns=["age"])
    with pytest.raises(DataError, match="input columns \\['age'\\]"):
        package_model(result.artifact_dir, tmp_path / "pyfunc", example=rows)
    assert not (tmp_path / "pyfunc").exists()


def test_a_regressor_without_a_feature_pipeline_returns_scores_only(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.random(200), "b": rng.random(200)})
    y = (3 * x["a"] - x["b"]).to_numpy()
    data = TrainData(x, y, x, y, task="regression", target="y")
    model = fit_model(ModelSpec(kind="lightgbm", rounds=20, threads=1), data, metric="rmse")
    folder = save_model(model, tmp_path / "regressor")  # not named "model": copied under it
    package = package_model(folder, tmp_path / "pyfunc", example=x)

    got = mlflow.pyfunc.load_model(str(package)).predict(x)

    assert list(got.columns) == ["score"]
    assert np.array_equal(got["score"].to_numpy(), model.predict(x))
    info = mlflow.models.get_model_info(str(package))
    assert [(c.name, c.type.name) for c in info.signature.inputs.inputs] == [
        ("a", "double"),
        ("b", "double"),
    ]
    assert model_folder(package).name == "model"
