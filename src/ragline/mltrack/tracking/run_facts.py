"""What a finished training run records about its result, beyond metrics: the features the model
reads, the raw columns they come from, the test split's confusion matrix and the training rows'
date range, so the experiment record and the model card say them instead of guessing.

    log.set_tags(training_facts(config, meta, pipeline, evaluation, frame, train_rows))
    record = tracker.get(exp_id)                   # ragline.mltrack.tracking.experiments
    record.plan.features, record.confusion.counts, record.data_range.start

Why after training and not in the `ExperimentPlan`: the model's inputs exist only once the
feature pipeline is fitted (one-hot columns depend on the train rows' categories), so the plan's
``ragline.features`` tag is overwritten with them. Everything is stored as MLflow tags (JSON;
long values spill over numbered tags like the other ``ragline.*`` tags).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ragline.mltrack.tracking.experiment_run import P, unspill

if TYPE_CHECKING:
    import pandas as pd

    from ragline.mltrack.tabular.config import TrainConfig
    from ragline.mltrack.tabular.evaluate import EvalReport
    from ragline.mltrack.tabular.features import FeaturePipeline
    from ragline.mltrack.tabular.models import ModelMeta

__all__ = [
    "CONFUSION",
    "DATA_RANGE",
    "FEATURES",
    "NOTES",
    "RAW_COLUMNS",
    "ConfusionMatrix",
    "DataRange",
    "confusion_matrix",
    "confusion_of",
    "data_range_of",
    "training_facts",
]

FEATURES, RAW_COLUMNS, NOTES = P + "features", P + "raw_columns", P + "notes"
CONFUSION, DATA_RANGE = P + "confusion", P + "data_range"


@dataclass(frozen=True, slots=True)
class ConfusionMatrix:
    """Counts of (actual, predicted) label pairs: ``counts[i][j]`` rows of class ``labels[i]``
    predicted as ``labels[j]``. ``threshold`` is the score cut for binary decisions (score >=
    threshold predicts ``labels[1]``); None for multiclass (the most probable class).

    Example:
        >>> m = confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0], ("no", "yes"), threshold=0.5)
        >>> m.counts, m.total
        (((2, 0), (1, 1)), 4)
    """

    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    threshold: float | None = None
    split: str = "test"

    @property
    def total(self) -> int:
        """The number of rows counted."""
        return sum(sum(row) for row in self.counts)

    def to_json(self) -> str:
        """The tag text `confusion_of` reads back."""
        return json.dumps(asdict(self))


@dataclass(frozen=True, slots=True)
class DataRange:
    """The training rows: how many (train split and whole table) and, when the config names
    ``data.time_column``, their first and last event time (ISO 8601; None otherwise).

    Example:
        >>> DataRange(800, 1000, "ts", "2024-01-01T00:00:00", "2024-06-30T00:00:00").column
        'ts'
    """

    train_rows: int
    table_rows: int
    column: str | None = None
    start: str | None = None
    end: str | None = None


def confusion_matrix(
    y_true: npt.ArrayLike,
    predicted: npt.ArrayLike,
    labels: Sequence[object],
    *,
    threshold: float | None = None,
    split: str = "test",
) -> ConfusionMatrix:
    """Count (actual, predicted) pairs of class positions 0..K-1 (K = ``len(labels)``).

    Example:
        >>> confusion_matrix([2, 0, 1], [2, 0, 0], ("a", "b", "c")).counts
        ((1, 0, 0), (1, 0, 0), (0, 0, 1))
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(predicted, dtype=np.int64)
    k = len(labels)
    if y.shape != p.shape or (y.size and (min(y.min(), p.min()) < 0 or max(y.max(), p.max()) >= k)):
        raise ValueError(
            f"expected equal-length class positions in 0..{k - 1}, got shapes {y.shape} and "
            f"{p.shape}; pass one label per class"
        )
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (y, p), 1)
    rows = tuple(tuple(int(c) for c in row) for row in counts)
    return ConfusionMatrix(tuple(str(x) for x in labels), rows, threshold, split)


def confusion_of(tags: Mapping[str, str]) -> ConfusionMatrix | None:
    """The confusion matrix a run recorded, or None (regression, or not recorded)."""
    text = unspill(tags, CONFUSION)
    if not text:
        return None
    data = json.loads(text)
    counts = tuple(tuple(int(c) for c in row) for row in data["counts"])
    threshold = data.get("threshold")
    return ConfusionMatrix(
        tuple(str(x) for x in data["labels"]),
        counts,
        None if threshold is None else float(threshold),
        str(data.get("split", "test")),
    )


def data_range_of(tags: Mapping[str, str]) -> DataRange | None:
    """The training rows' range a run recorded, or None (not recorded)."""
    text = unspill(tags, DATA_RANGE)
    return DataRange(**json.loads(text)) if text else None


def training_facts(
    config: TrainConfig,
    meta: ModelMeta,
    pipeline: FeaturePipeline,
    evaluation: EvalReport,
    frame: pd.DataFrame,
    train_rows: npt.ArrayLike,
) -> dict[str, str]:
    """The tags of a finished tabular training run (see the module docstring): `frame` is the
    whole table as loaded, `train_rows` the index labels of the train split.

    Example:
        >>> r = train(config, run, out_dir)  # doctest: +SKIP
        >>> parts = (r.model.meta, r.pipeline, r.evaluation, frame, train_rows)  # doctest: +SKIP
        >>> tags = training_facts(config, *parts)  # doctest: +SKIP
        >>> sorted(tags)  # doctest: +SKIP
        ['ragline.confusion', 'ragline.data_range', 'ragline.features', 'ragline.raw_columns']
    """
    tags = {
        FEATURES: json.dumps(list(meta.features)),
        RAW_COLUMNS: json.dumps(list(pipeline.input_columns)),
    }
    if config.experiment.notes:
        tags[NOTES] = config.experiment.notes
    if meta.task == "classification" and meta.classes:
        rows = evaluation.per_row
        threshold = None if meta.multiclass else config.metrics.threshold
        predicted = (
            rows["predicted"] if threshold is None else (rows["score"] >= threshold).astype(int)
        )
        matrix = confusion_matrix(rows["y_true"], predicted, meta.classes, threshold=threshold)
        tags[CONFUSION] = matrix.to_json()
    dates = _data_range(config.data.time_column, frame, np.asarray(train_rows))
    tags[DATA_RANGE] = json.dumps(asdict(dates))
    return tags


def _data_range(column: str | None, frame: pd.DataFrame, train_rows: npt.NDArray[Any]) -> DataRange:
    import pandas as pd  # lazily, like the rest of mltrack.tracking

    if column is None or column not in frame.columns:
        return DataRange(len(train_rows), len(frame))
    values = frame.loc[train_rows, column]
    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_datetime(values, errors="coerce", format="mixed")
    times = values.dropna()
    if times.empty:
        return DataRange(len(train_rows), len(frame), column)
    start, end = (t.isoformat() for t in (times.min(), times.max()))
    return DataRange(len(train_rows), len(frame), column, start, end)
