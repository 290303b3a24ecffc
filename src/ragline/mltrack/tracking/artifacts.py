"""Model folders the registry stores and loads without unpickling anything.

A model folder holds one model file in a safe format plus ``model.json`` (the layout
`ragline.mltrack.tabular.artifacts.save_model` writes; keys other than these are kept for the
loader):

    churn-model/
        model.txt     # MODEL_FILES[format]: lightgbm-text -> model.txt, xgboost-json ->
                      # model.xgb.json, skops -> model.skops, onnx -> model.onnx
        model.json    # {"format": "lightgbm-text", "file": "model.txt", "signature":
                      #   {"features": [{"name": "age", "dtype": "float64"}, ...],
                      #    "target": "churned", "classes": [0, 1]}}

    artifact = ModelArtifact(folder, "onnx", (Feature("age", "float32"),), "churned", (0, 1))
    artifact.write_metadata()                    # model.json for a model file you saved
    ModelArtifact.read(folder)                   # check_safe + parse model.json

A folder may also be an MLflow pyfunc package (``MLmodel`` at its top, the model folder in
``artifacts/model``): `model_folder` finds the model folder inside it, and the registry stores the
whole package so ``mlflow.pyfunc.load_model("models:/NAME@production")`` works.

Each format's reader and writer lives beside the training code (``ragline.mltrack.tabular``); this
module fixes the layout and refuses pickles: by suffix (``.pkl``, ``.pickle``, ``.joblib``, ...), by
content (a pickle stream's protocol header, whatever the file is called), and inside zip containers
(a torch ``.pt`` file is a zip holding ``data.pkl``).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from ragline.mltrack.errors import MltrackError, UnsafeModelFile

ModelFormat = Literal["lightgbm-text", "xgboost-json", "skops", "onnx"]
FORMATS: tuple[ModelFormat, ...] = get_args(ModelFormat)
MODEL_FILES: dict[ModelFormat, str] = {
    "lightgbm-text": "model.txt",
    "xgboost-json": "model.xgb.json",  # not model.json: that name holds the metadata
    "skops": "model.skops",
    "onnx": "model.onnx",
}
METADATA_FILE = "model.json"
# an MLflow pyfunc package (`ragline.mltrack.tabular.pyfunc.package_model`): MLflow's MLmodel at
# the top, the model folder above as the pyfunc artifact "model" under PYFUNC_MODEL_DIR
MLMODEL_FILE = "MLmodel"
PYFUNC_MODEL_DIR = "artifacts/model"
UNSAFE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth"})
ClassLabel = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Feature:
    """One input column of a model's signature.

    Example:
        >>> Feature("age", "float64")
        Feature(name='age', dtype='float64')
    """

    name: str
    dtype: str


@dataclass(frozen=True, slots=True)
class ModelArtifact:
    """A model folder: its format, model file, input signature, target and class labels.

    Example:
        >>> art = ModelArtifact(Path("m"), "onnx", (Feature("x", "float32"),), "y", (0, 1))
        >>> art.model_file.name
        'model.onnx'
    """

    folder: Path
    format: ModelFormat
    signature: tuple[Feature, ...]
    target: str | None = None
    classes: tuple[ClassLabel, ...] | None = None
    file: str | None = None  # None: MODEL_FILES[format]

    @property
    def model_file(self) -> Path:
        """The model file the format's loader reads."""
        return self.folder / (self.file or MODEL_FILES[self.format])

    def metadata(self) -> dict[str, object]:
        """The content of ``model.json``."""
        return {
            "format": self.format,
            "file": self.model_file.name,
            "signature": {
                "features": [{"name": f.name, "dtype": f.dtype} for f in self.signature],
                "target": self.target,
                "classes": None if self.classes is None else list(self.classes),
            },
        }

    def write_metadata(self) -> Path:
        """Write ``model.json`` beside the model file and return its path."""
        path = self.folder / METADATA_FILE
        path.write_text(json.dumps(self.metadata(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: Path) -> ModelArtifact:
        """Check `folder` is safe and parse its ``model.json``; the model file must exist.

        Example:
            >>> ModelArtifact.read(Path("churn-model")).format  # doctest: +SKIP
            'lightgbm-text'
        """
        check_safe(folder)
        meta_path = folder / METADATA_FILE
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            sig = meta["signature"]
            features = tuple(Feature(str(f["name"]), str(f["dtype"])) for f in sig["features"])
            fmt, file, target, classes = (
                meta["format"],
                meta.get("file"),
                sig.get("target"),
                sig.get("classes"),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MltrackError(
                f"cannot read {meta_path} ({type(exc).__name__}: {exc}); a model folder needs "
                'model.json with {"format", "file", "signature": {"features": [{"name", '
                '"dtype"}], "target", "classes"}}: see ModelArtifact.write_metadata'
            ) from exc
        if file is not None and (not isinstance(file, str) or Path(file).name != file):
            raise UnsafeModelFile(f"{meta_path} names model file {file!r}; use a plain file name")
        artifact = cls(
            folder,
            _format(fmt, meta_path),
            features,
            None if target is None else str(target),
            None if classes is None else tuple(classes),
            file,
        )
        if not artifact.model_file.is_file():
            raise MltrackError(
                f"{folder} has no {artifact.model_file.name}, which model.json names; "
                "save the model there or fix 'format'/'file' in model.json"
            )
        return artifact


def _format(value: object, where: Path) -> ModelFormat:
    for fmt in FORMATS:
        if value == fmt:
            return fmt
    raise UnsafeModelFile(
        f"{where}: format {value!r} is not one mltrack loads without unpickling; "
        f"save the model as one of {', '.join(FORMATS)}"
    )


def _looks_pickled(path: Path) -> str | None:
    """Why `path` would unpickle on load, or None."""
    if path.suffix.lower() in UNSAFE_SUFFIXES:
        return f"{path.suffix} is a pickle format"
    with path.open("rb") as handle:
        head = handle.read(2)
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return f"it holds a pickle stream (protocol {head[1]})"
    if head == b"PK" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            inner = [n for n in archive.namelist() if Path(n).suffix.lower() in UNSAFE_SUFFIXES]
        if inner:
            return f"its zip holds pickles: {', '.join(inner[:3])}"
    return None


def check_safe(folder: Path) -> None:
    """Raise UnsafeModelFile if any file under `folder` would need unpickling to load.

    Example:
        >>> check_safe(Path("churn-model"))  # doctest: +SKIP
    """
    if not folder.is_dir():
        raise MltrackError(f"model folder {folder} does not exist or is not a folder")
    found = [
        f"{path.relative_to(folder)} ({why})"
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (why := _looks_pickled(path)) is not None
    ]
    if found:
        raise UnsafeModelFile(
            f"{folder} holds files that load by unpickling: {'; '.join(found)}. Loading them "
            "would run arbitrary code; save the model as "
            f"{', '.join(f'{k} ({v})' for k, v in MODEL_FILES.items())} and remove the pickles"
        )


def model_folder(folder: Path) -> Path:
    """The model folder itself, or the one inside an MLflow pyfunc package (see the module
    docstring); the package's own files are checked for pickles as well.

    Example:
        >>> model_folder(Path("pyfunc-package")).as_posix()  # doctest: +SKIP
        'pyfunc-package/artifacts/model'
    """
    if not (folder / MLMODEL_FILE).is_file():
        return folder
    check_safe(folder)
    inner = folder / PYFUNC_MODEL_DIR
    if not (inner / METADATA_FILE).is_file():
        raise MltrackError(
            f"{folder} is an MLflow model without a ragline model in {PYFUNC_MODEL_DIR}/; "
            "package it with ragline.mltrack.tabular.pyfunc.package_model"
        )
    return inner
