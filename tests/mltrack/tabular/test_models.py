"""Models and their artifact folders: identical predictions after a reload, never a pickle."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from ragline.mltrack.errors import DataError, UnsafeModelFile
from ragline.mltrack.tabular.artifacts import load_model, load_pipeline, save_model
from ragline.mltrack.tabular.config import ModelSpec, Task
from ragline.mltrack.tabular.models import TrainData, fit_model

pytestmark = pytest.mark.unit


def make_data(task: Task = "classification", n: int = 600, seed: int = 0) -> TrainData:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c=d", "e"])
    signal = x["a"] - 0.5 * x["b"] + rng.normal(0, 0.7, n)
    y = (signal > 0).to_numpy(dtype=float) if task == "classification" else signal.to_numpy()
    cut = n * 3 // 4
    classes = ("no", "yes") if task == "classification" else None
    return TrainData(x.iloc[:cut], y[:cut], x.iloc[cut:], y[cut:], task, "target", classes)


SPECS = {
    "lightgbm": ModelSpec(kind="lightgbm", rounds=40, threads=1),
    "xgboost": ModelSpec(kind="xgboost", rounds=40, threads=1),
    "sklearn-logreg": ModelSpec(kind="sklearn-logreg"),
    "sklearn-rf": ModelSpec(kind="sklearn-rf", params={"n_estimators": 10}, threads=1),
    "sklearn-hgb": ModelSpec(kind="sklearn-hgb", params={"max_iter": 10}),
}
FORMATS = {
    "lightgbm": ("lightgbm-text", "model.txt"),
    "xgboost": ("xgboost-json", "model.xgb.json"),
    "sklearn-logreg": ("skops", "model.skops"),
    "sklearn-rf": ("skops", "model.skops"),
    "sklearn-hgb": ("skops", "model.skops"),
}


@pytest.mark.parametrize("kind", list(SPECS))
def test_saved_model_reloads_with_identical_predictions(kind: str, tmp_path: Path) -> None:
    # HistGradientBoosting has no thread parameter; on a busy machine OpenMP spinning over every
    # core makes it ~50x slower, so the test pins it to one thread
    with threadpool_limits(limits=1, user_api="openmp"):
        _round_trip(kind, tmp_path)


def _round_trip(kind: str, tmp_path: Path) -> None:
    data = make_data()
    model = fit_model(SPECS[kind], data, metric="roc_auc", seed=1)
    scores = model.predict(data.x_valid)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert np.corrcoef(scores, data.y_valid)[0, 1] > 0.5  # it learned something
    folder = save_model(model, tmp_path / "model")
    fmt, file = FORMATS[kind]
    card = json.loads((folder / "model.json").read_text())
    assert (card["format"], card["file"], card["kind"]) == (fmt, file, kind)
    assert card["signature"] == {
        "features": [{"name": f, "dtype": "float64"} for f in ("a", "b", "c=d", "e")],
        "target": "target",
        "classes": ["no", "yes"],
    }
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict(data.x_valid), scores)
    # the matrix path (serving's) scores a reordered frame's features identically
    shuffled = data.x_valid[list(reversed(data.x_valid.columns))]
    matrix = shuffled[list(loaded.meta.features)].to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(loaded.predict_matrix(matrix), scores)
    assert loaded.meta.features == model.meta.features and loaded.meta.classes == ("no", "yes")


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost"])
def test_regression_boosters_stop_early_and_round_trip(kind: str, tmp_path: Path) -> None:
    data = make_data("regression")
    rounds: list[tuple[int, float]] = []
    spec = ModelSpec(
        kind=kind,
        rounds=400,
        early_stopping=10,
        threads=1,
        params={"eta": 0.3} if kind == "xgboost" else {"learning_rate": 0.3},
    )
    model = fit_model(spec, data, metric="mae", on_round=lambda i, s: rounds.append((i, s)))
    best = model.meta.best_iteration
    assert best is not None and best < len(rounds) < 400  # stopped early, then cut to the best
    assert [i for i, _ in rounds] == list(range(len(rounds)))
    assert min(s for _, s in rounds) < rounds[0][1]  # mae on validation went down
    loaded = load_model(save_model(model, tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict(data.x_valid), model.predict(data.x_valid))


def test_a_pickle_is_refused(tmp_path: Path) -> None:
    folder = save_model(fit_model(SPECS["lightgbm"], make_data(), metric="roc_auc"), tmp_path / "m")
    (folder / "model.pkl").write_bytes(pickle.dumps({"not": "loaded"}))
    with pytest.raises(UnsafeModelFile, match=r"model.pkl: refusing a pickle-based model file"):
        load_model(folder)
    joblib = tmp_path / "model.joblib"
    joblib.write_bytes(b"\x80\x04.")
    with pytest.raises(UnsafeModelFile, match=r"Re-save the model with"):
        load_model(joblib)


def test_a_card_pointing_at_a_pickle_is_refused(tmp_path: Path) -> None:
    folder = save_model(fit_model(SPECS["xgboost"], make_data(), metric="roc_auc"), tmp_path / "m")
    card = json.loads((folder / "model.json").read_text())
    for name in ("model.pickle", "../elsewhere/model.txt"):
        (folder / "model.json").write_text(json.dumps(card | {"file": name}))
        with pytest.raises(UnsafeModelFile, match=r"refusing it"):
            load_model(folder)


def test_skops_types_must_be_trusted_explicitly(tmp_path: Path) -> None:
    folder = save_model(fit_model(SPECS["sklearn-rf"], make_data(), metric="roc_auc"), tmp_path)
    with pytest.raises(UnsafeModelFile, match=r"not trusted: \['sklearn.tree._tree.Tree'\]"):
        load_model(folder, trusted_types=())
    assert load_model(folder, trusted_types=["sklearn.tree._tree.Tree"]).meta.kind == "sklearn-rf"


def test_saving_never_mixes_two_models_in_one_folder(tmp_path: Path) -> None:
    model = fit_model(SPECS["lightgbm"], make_data(), metric="roc_auc")
    folder = save_model(model, tmp_path / "m")
    with pytest.raises(FileExistsError, match=r"is not empty; save each model into a new folder"):
        save_model(model, folder)


def test_broken_folders_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no model.json; save the model with save_model"):
        load_model(tmp_path)
    folder = save_model(fit_model(SPECS["lightgbm"], make_data(), metric="roc_auc"), tmp_path / "m")
    card = json.loads((folder / "model.json").read_text())
    card["signature"]["features"][0]["name"] = "renamed"
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(DataError, match=r"differ from model.json's"):
        load_model(folder)
    (folder / "model.txt").unlink()
    with pytest.raises(DataError, match=r"model.txt is missing"):
        load_model(folder)
    assert load_pipeline(folder) is None
