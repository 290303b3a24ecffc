"""Error analysis: a registered model's worst predictions on labelled rows, and its worst slices.

    scorer = load_scorer(MltrackConfig(), Path(".ragline"), "adult-income")
    report = analyse_errors(scorer, read_labelled(Path("holdout.csv")), top=20)
    report.worst[0].error, report.worst[0].features, report.slices[0].value

Each row's error is a number in one scale per task, so rows and slices rank the same way:

==============  ==========================================================================
task            error of one row
==============  ==========================================================================
binary          ``|y - P(positive)|`` (y is 1 for the positive class, else 0): 1 is a
                confident miss, 0 a confident hit
multiclass      ``1 - P(true class)``
regression      ``|y - prediction|`` in the target's unit
==============  ==========================================================================

Slices are the values of categorical columns (by default the model's categorical inputs); each
has its rows, mean error and, for classifiers, the share misclassified. Slices smaller than
`min_rows` are left out (a rate over five rows is noise); the rest are listed worst first.
The scores come from `ragline.mltrack.tabular.models.model_output`, the code `POST /v1/predict`
and `ragline ml score` score with, so an error here is an error in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from ragline.mltrack.errors import DataError

if TYPE_CHECKING:
    from ragline.mltrack.tabular.models import ModelMeta
    from ragline.mltrack.tabular.score import Scorer

__all__ = [
    "ErrorReport",
    "RowError",
    "SliceError",
    "analyse_errors",
    "read_labelled",
    "row_errors",
    "slice_errors",
]

FloatArray = npt.NDArray[np.float64]
DEFAULT_MIN_ROWS = 10


@dataclass(frozen=True, slots=True)
class RowError:
    """One scored row: its position in the data, its error, target, prediction and inputs.

    Example:
        >>> RowError(7, 0.93, 1, 0.07, {"age": 23}).error
        0.93
    """

    row: int
    error: float
    target: object
    prediction: object
    features: dict[str, object]


@dataclass(frozen=True, slots=True)
class SliceError:
    """The rows where `column` equals `value`: how many, their mean error, the share misclassified
    (None for regression).

    Example:
        >>> SliceError("sex", "Female", 120, 0.21, 0.15).misclassified
        0.15
    """

    column: str
    value: str
    rows: int
    mean_error: float
    misclassified: float | None


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """What `analyse_errors` found: the worst rows first, then the worst slices first.

    Example:
        >>> ErrorReport("m", 1, "binary", 100, 0.2, 0.1, (), ()).measure
        '|y - P(positive)|'
    """

    model: str
    version: int
    task: str  # binary, multiclass or regression
    rows: int
    mean_error: float
    misclassified: float | None
    worst: tuple[RowError, ...]
    slices: tuple[SliceError, ...]

    @property
    def measure(self) -> str:
        """How one row's error is computed, for the report's reader."""
        return {
            "binary": "|y - P(positive)|",
            "multiclass": "1 - P(true class)",
            "regression": "|y - prediction|",
        }[self.task]


def read_labelled(path: Path) -> pd.DataFrame:
    """Every row of a CSV or Parquet file, or of a folder of them (`input_files`' rule).

    Example:
        >>> read_labelled(Path("missing.csv"))
        Traceback (most recent call last):
        ...
        ragline.mltrack.errors.DataError: input missing.csv does not exist; give a Parquet ...
    """
    from ragline.mltrack.tabular.score import CSV_SUFFIXES, input_files

    frames = []
    for file in input_files(path):
        try:
            is_csv = file.suffix.lower() in CSV_SUFFIXES
            frames.append(pd.read_csv(file) if is_csv else pd.read_parquet(file))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {file}: {exc}; fix the file and run again") from exc
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _key(value: object) -> str:
    """A label as text, so 1, 1.0 and "1" (CSV or Parquet, int or float) name one class."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _class_positions(meta: ModelMeta, target: pd.Series) -> npt.NDArray[np.intp]:
    classes = [_key(c) for c in meta.classes or ()]
    keys = [_key(v) for v in target.tolist()]
    unknown = sorted(set(keys) - set(classes))
    if unknown:
        raise DataError(
            f"target {meta.target!r} holds {unknown[:5]}, not among the model's classes "
            f"{classes}; give rows labelled like the training data"
        )
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[k] for k in keys], dtype=np.intp)


def row_errors(
    meta: ModelMeta, output: FloatArray, target: pd.Series
) -> tuple[FloatArray, npt.NDArray[np.bool_] | None]:
    """Each row's error (module docstring) and, for classifiers, whether it is misclassified.
    `output` is `model_output`'s: scores, or an (n, K) matrix of class probabilities.

    Example:
        >>> meta = ModelMeta("lightgbm", "classification", ("x",), "y", classes=(0, 1))
        >>> errors, wrong = row_errors(meta, np.array([0.9, 0.2]), pd.Series([0, 0]))
        >>> errors.round(2).tolist(), wrong.tolist()
        ([0.9, 0.2], [True, False])
    """
    if meta.task != "classification":
        y = pd.to_numeric(target, errors="coerce").to_numpy(dtype=np.float64)
        return np.abs(y - output), None
    true = _class_positions(meta, target)
    if output.ndim == 2:
        p_true = output[np.arange(len(true)), true]
        return 1.0 - p_true, np.asarray(output.argmax(axis=1) != true)
    y = (true == len(meta.classes or ()) - 1).astype(np.float64)
    return np.abs(y - output), np.asarray((output >= 0.5) != (y == 1.0))


def slice_errors(
    frame: pd.DataFrame,
    errors: FloatArray,
    wrong: npt.NDArray[np.bool_] | None,
    columns: Sequence[str],
    min_rows: int = DEFAULT_MIN_ROWS,
) -> tuple[SliceError, ...]:
    """Per value of each column in `columns`: rows, mean error, share misclassified; slices of
    fewer than `min_rows` rows left out; worst first (misclassified share, then mean error).

    Example:
        >>> f = pd.DataFrame({"g": ["a", "a", "b", "b"]})
        >>> [s.value for s in slice_errors(f, np.array([0.1, 0.3, 0.9, 0.7]), None, ["g"], 1)]
        ['b', 'a']
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"slice columns {missing} are not in the data; name columns it holds")
    table = pd.DataFrame({"error": errors})
    if wrong is not None:
        table["wrong"] = wrong.astype(np.float64)
    found: list[SliceError] = []
    for column in columns:
        values = frame[column].astype(object).where(frame[column].notna(), "(missing)")
        table["value"] = values.map(str).to_numpy()
        for value, group in table.groupby("value", sort=True):
            if len(group) < min_rows:
                continue
            share = float(group["wrong"].mean()) if wrong is not None else None
            found.append(
                SliceError(column, str(value), len(group), float(group["error"].mean()), share)
            )
    return tuple(sorted(found, key=lambda s: (-(s.misclassified or 0.0), -s.mean_error)))


def categorical_inputs(scorer: Scorer, frame: pd.DataFrame) -> tuple[str, ...]:
    """The default slice columns: the pipeline's categorical inputs (one-hot or target encoded),
    else the model's input columns that are not numeric in `frame`.

    Example:
        >>> categorical_inputs(scorer, frame)  # doctest: +SKIP
        ('relationship', 'marital-status', 'sex')
    """
    pipeline = scorer.pipeline
    if pipeline is not None:
        steps = (*pipeline.onehot, *pipeline.target)
        return tuple(dict.fromkeys(s.column for s in steps))
    columns = [c for c in scorer.required_columns if c in frame.columns]
    return tuple(c for c in columns if not pd.api.types.is_numeric_dtype(frame[c]))


def _plain(value: object) -> object:
    """A cell as a plain Python value (JSON-ready): numpy scalars unwrapped, missing as None."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _task(meta: ModelMeta) -> str:
    if meta.task != "classification":
        return "regression"
    return "multiclass" if meta.multiclass else "binary"


def _prediction(meta: ModelMeta, output: FloatArray, row: int) -> object:
    if output.ndim == 2:
        return meta.classes[int(output[row].argmax())] if meta.classes else None
    return float(output[row])


def analyse_errors(
    scorer: Scorer,
    frame: pd.DataFrame,
    *,
    top: int = 20,
    slices: Sequence[str] | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> ErrorReport:
    """Score `frame` (raw columns and the target) with `scorer`; its `top` worst rows and its
    slices (`slices`, default `categorical_inputs`) worst first. `DataError` when the target or
    an input column is missing, or a label is not one of the model's classes.

    Example:
        >>> report = analyse_errors(scorer, read_labelled(Path("holdout.csv")))  # doctest: +SKIP
        >>> report.worst[0].row, report.slices[0].column  # doctest: +SKIP
        (1412, 'relationship')
    """
    from ragline.mltrack.tabular.models import model_output

    meta = scorer.model.meta
    if meta.target not in frame.columns:
        raise DataError(
            f"the data has no target column {meta.target!r}; error analysis needs labelled rows"
        )
    unlabelled = int(frame[meta.target].isna().sum())
    if unlabelled:
        raise DataError(f"{unlabelled} row(s) have no {meta.target!r}; drop them and run again")
    missing = [c for c in scorer.required_columns if c not in frame.columns]
    if missing:
        raise DataError(f"columns {missing} are missing; the model was trained with them")
    output = model_output(scorer.model, scorer.pipeline, frame)
    errors, wrong = row_errors(meta, output, frame[meta.target])
    order = np.argsort(-errors, kind="stable")[: max(0, top)]
    inputs = list(scorer.required_columns)
    worst = tuple(
        RowError(
            int(i),
            float(errors[i]),
            _plain(frame[meta.target].iloc[i]),
            _plain(_prediction(meta, output, int(i))),
            {c: _plain(frame[c].iloc[i]) for c in inputs},
        )
        for i in order
    )
    columns = tuple(slices) if slices else categorical_inputs(scorer, frame)
    share = None if wrong is None else float(wrong.mean())
    return ErrorReport(
        scorer.name,
        scorer.version,
        _task(meta),
        len(frame),
        float(errors.mean()) if len(errors) else 0.0,
        share,
        worst,
        slice_errors(frame, errors, wrong, columns, min_rows),
    )
