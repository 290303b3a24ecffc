"""Batch scoring: a registered model over a Parquet or CSV file (or a folder of them), in batches.

    scorer = load_scorer(MltrackConfig(), Path(".ragline"), "adult-income", "production")
    report = score_files(scorer, Path("people.parquet"), Path("scored.parquet"))
    report.rows, report.rows_per_second

Each input batch (pyarrow's `ParquetFile.iter_batches` or its streaming CSV reader, so memory is
bounded by ``batch_rows``) is scored in one vectorised call, the way ``POST /v1/predict`` scores
rows (`ragline.mltrack.tabular.models.score_frame` through the saved feature pipeline), so the
scores are identical. The output holds the kept input columns, then ``score`` (the positive-class
probability, the regression value, or a multiclass model's probability of its predicted class),
``label`` (classifiers only: `predict_labels`), ``model`` and ``model_version``.

Every input file's columns are checked before anything is scored: a missing column is refused
(`DataError` naming it and the file). The output is written to a temporary file beside it and
renamed into place at the end, so a failure never leaves a half-written output.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ragline.mltrack.errors import DataError, MltrackError
from ragline.mltrack.tracking.gates import GoldenDelta

if TYPE_CHECKING:
    from ragline.mltrack.config import MltrackConfig
    from ragline.mltrack.tabular.features import FeaturePipeline
    from ragline.mltrack.tabular.models import TabularModel
    from ragline.mltrack.tracking.registry import ModelRegistry, Stage

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)
OUTPUT_COLUMNS = ("score", "label", "model", "model_version")
DEFAULT_BATCH_ROWS = 131_072


@dataclass(frozen=True, slots=True)
class Scorer:
    """A loaded model version and its feature pipeline, ready to score batches.

    Example:
        >>> scorer = load_scorer(MltrackConfig(), Path(".ragline"), "adult")  # doctest: +SKIP
        >>> scorer.name, scorer.version, scorer.required_columns[:2]  # doctest: +SKIP
        ('adult', 3, ('age', 'hours-per-week'))
    """

    name: str
    version: int
    model: TabularModel
    pipeline: FeaturePipeline | None

    @property
    def required_columns(self) -> tuple[str, ...]:
        """The raw columns an input must hold: the pipeline's inputs, else the model's features."""
        if self.pipeline is not None:
            return self.pipeline.input_columns
        return self.model.meta.features


@dataclass(frozen=True, slots=True)
class ScoreProgress:
    """Where a run stands after a batch; ``total_rows`` is None when unknown (CSV input)."""

    rows: int
    total_rows: int | None
    seconds: float


@dataclass(frozen=True, slots=True)
class ScoreReport:
    """What a run did: rows and files scored, the model version, the output, the time taken."""

    rows: int
    files: int
    model: str
    version: int
    output: Path
    seconds: float

    @property
    def rows_per_second(self) -> float:
        """Throughput over the whole run (reading, scoring, writing)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


BatchMapper = Callable[
    [Scorer, Iterator[tuple[Path, pa.RecordBatch]], Sequence[str] | None],
    Iterator[tuple[Path, pa.Table]],
]
"""Scores input batches (each tagged with its file) and yields the output tables in order."""


def load_scorer(
    ml: MltrackConfig, data_dir: Path, name: str, stage: Stage = "production"
) -> Scorer:
    """The version of `name` in `stage`, downloaded and loaded from the registry (no pickles).

    Raises `MltrackError` when the model or the stage's version does not exist, naming the fix.
    """
    from ragline.mltrack.tabular.artifacts import load_model, load_pipeline
    from ragline.mltrack.tracking.registry import ModelRegistry

    registry = ModelRegistry(ml, data_dir)
    try:
        info = registry.current(name, stage)
        if info is None:
            raise MltrackError(
                f"model {name!r} has no {stage} version; train it and "
                f"`ragline ml promote {name} VERSION --to {stage}`, or pass another --stage"
            )
        model, pipeline = registry.load_version(
            name, info.version, lambda folder: (load_model(folder), load_pipeline(folder))
        )
    finally:
        registry.close()
    return Scorer(name, info.version, model, pipeline)


def input_files(path: Path) -> list[Path]:
    """`path` itself, or the Parquet and CSV files directly in the folder `path`, sorted by name.

    Example:
        >>> input_files(Path("missing.parquet"))
        Traceback (most recent call last):
        ...
        ragline.mltrack.errors.DataError: input missing.parquet does not exist; give a Parquet ...
    """
    suffixes = PARQUET_SUFFIXES + CSV_SUFFIXES
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
        if not files:
            raise DataError(f"input folder {path} holds no .parquet or .csv file")
        return files
    if not path.is_file():
        raise DataError(
            f"input {path} does not exist; give a Parquet or CSV file, or a folder of them"
        )
    if path.suffix.lower() not in suffixes:
        raise DataError(f"input {path}: unknown format {path.suffix!r}; use .parquet or .csv")
    return [path]


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def _open_csv(path: Path, batch_rows: int) -> pacsv.CSVStreamingReader:
    # ~100 bytes a row is typical of tabular CSVs; batches are re-cut to batch_rows anyway
    block = max(1 << 20, min(batch_rows * 100, 64 << 20))
    # empty and NA-like strings are missing values, as pandas.read_csv (training) reads them
    convert = pacsv.ConvertOptions(strings_can_be_null=True)
    return pacsv.open_csv(
        path, read_options=pacsv.ReadOptions(block_size=block), convert_options=convert
    )


def file_schema(path: Path) -> pa.Schema:
    """The columns of one input file (Parquet metadata, or the CSV's header and first block)."""
    try:
        if _is_parquet(path):
            return pq.read_schema(path)
        with _open_csv(path, 1) as reader:
            return reader.schema
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot read {path}: {exc}; is it a valid Parquet or CSV file?") from exc


def check_columns(schema: pa.Schema, required: Sequence[str], where: Path) -> None:
    """Refuse (DataError) an input that lacks a column the model reads, naming the columns.

    Example:
        >>> check_columns(pa.schema([("age", pa.int64())]), ["age", "sex"], Path("a.csv"))
        Traceback (most recent call last):
        ...
        ragline.mltrack.errors.DataError: a.csv lacks column(s) ['sex'] that the model reads; ...
    """
    missing = [c for c in required if c not in schema.names]
    if missing:
        raise DataError(
            f"{where} lacks column(s) {missing} that the model reads; it has {schema.names[:20]}"
        )


def _batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    try:
        if _is_parquet(path):
            yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
            return
        with _open_csv(path, batch_rows) as reader:
            for batch in reader:
                for start in range(0, batch.num_rows, batch_rows):
                    yield batch.slice(start, batch_rows)
    except (pa.ArrowInvalid, OSError) as exc:  # e.g. a CSV value unlike its column's first block
        raise DataError(f"cannot read {path}: {exc}; fix the file and score it again") from exc


def output_schema(
    scorer: Scorer, schema: pa.Schema, keep: Sequence[str] | None = None
) -> pa.Schema:
    """The output's columns for inputs of `schema`: the kept ones, then the predictions.

    Example:
        >>> output_schema(scorer, pa.schema([("age", pa.int64())])).names  # doctest: +SKIP
        ['age', 'score', 'label', 'model', 'model_version']
    """
    fields = [schema.field(c) for c in (keep if keep is not None else schema.names)]
    fields.append(pa.field("score", pa.float64()))
    label = _label_values(scorer)
    if label is not None:
        fields.append(pa.field("label", label.type))
    fields += [pa.field("model", pa.string()), pa.field("model_version", pa.int64())]
    return pa.schema(fields)


def _label_values(scorer: Scorer) -> pa.Array | None:
    meta = scorer.model.meta
    if meta.task == "regression" or not meta.classes:
        return None
    return pa.array(
        list(meta.classes)
    )  # anomaly: (0, 1), 1 = flagged  # binary: (negative, positive)


def score_batch(
    scorer: Scorer, batch: pa.RecordBatch, keep: Sequence[str] | None = None
) -> pa.Table:
    """One batch's output rows: the `keep` columns (default: all), then the predictions.

    The model's columns are converted to pandas (only those) and scored in one call of
    `predict_labels`, exactly as ``POST /v1/predict`` scores its rows.
    """
    from ragline.mltrack.tabular.models import predict_labels

    frame = batch.select(list(scorer.required_columns)).to_pandas()
    scores, best = predict_labels(scorer.model, scorer.pipeline, frame)
    kept = batch.select(list(keep) if keep is not None else batch.schema.names)
    names, arrays = list(kept.schema.names), list(kept.columns)
    names.append("score")
    arrays.append(pa.array(scores, pa.float64()))
    classes = _label_values(scorer)
    if classes is not None and best is not None:
        arrays.append(classes.take(pa.array(best)))
        names.append("label")
    names += ["model", "model_version"]
    arrays.append(pa.repeat(pa.scalar(scorer.name, pa.string()), len(scores)))
    arrays.append(pa.repeat(pa.scalar(scorer.version, pa.int64()), len(scores)))
    return pa.Table.from_arrays(arrays, names=names)


def _checked_inputs(scorer: Scorer, files: Sequence[Path], keep: Sequence[str] | None) -> None:
    for path in files:
        schema = file_schema(path)
        check_columns(schema, scorer.required_columns, path)
        if keep is not None:
            check_columns(schema, keep, path)
        clash = [c for c in OUTPUT_COLUMNS if c in (keep if keep is not None else schema.names)]
        if clash:
            raise DataError(
                f"{path} already has column(s) {clash}, which the output adds; "
                "rename them, or choose the columns to carry over with --keep"
            )


def _total_rows(files: Sequence[Path]) -> int | None:
    if not all(_is_parquet(p) for p in files):
        return None
    return sum(int(pq.ParquetFile(p).metadata.num_rows) for p in files)


def _temp_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.{os.getpid()}.tmp")


def score_files(
    scorer: Scorer,
    source: Path,
    output: Path,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    keep: Sequence[str] | None = None,
    on_progress: Callable[[ScoreProgress], None] | None = None,
    mapper: BatchMapper | None = None,
) -> ScoreReport:
    """Score every row of `source` (a file or a folder of them) into the Parquet file `output`.

    Columns are checked in every file before the first row is scored; the output appears only
    when every row is written (temporary file, then rename). `keep` names the input columns to
    carry over (default: all of them). `mapper` decides where batches are scored (default
    `in_process`; ``ragline ml score --engine ray`` passes one that scores them in Ray tasks);
    the driver reads and writes either way, in input order. Raises `DataError` for bad input.
    """
    if batch_rows < 1:
        raise DataError(f"batch_rows is {batch_rows}; give a positive number of rows")
    started = time.perf_counter()
    files = input_files(source)
    _checked_inputs(scorer, files, keep)
    total, rows = _total_rows(files), 0
    output.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path(output)
    schema = output_schema(scorer, file_schema(files[0]), keep)
    writer = pq.ParquetWriter(temp, schema)
    try:
        for path, table in (mapper or in_process)(scorer, _inputs(files, batch_rows), keep):
            writer.write_table(_conform(table, schema, path))
            rows += table.num_rows
            if on_progress is not None:
                on_progress(ScoreProgress(rows, total, time.perf_counter() - started))
        writer.close()
        os.replace(temp, output)
    except BaseException:
        writer.close()
        temp.unlink(missing_ok=True)
        raise
    seconds = time.perf_counter() - started
    return ScoreReport(rows, len(files), scorer.name, scorer.version, output, seconds)


def _inputs(files: Sequence[Path], batch_rows: int) -> Iterator[tuple[Path, pa.RecordBatch]]:
    for path in files:
        for batch in _batches(path, batch_rows):
            if batch.num_rows > 0:  # an empty row group: nothing for the model to score
                yield path, batch


def in_process(
    scorer: Scorer, inputs: Iterator[tuple[Path, pa.RecordBatch]], keep: Sequence[str] | None
) -> Iterator[tuple[Path, pa.Table]]:
    """The default `BatchMapper`: each batch scored here, in turn."""
    for path, batch in inputs:
        yield path, score_batch(scorer, batch, keep)


def _conform(table: pa.Table, schema: pa.Schema, path: Path) -> pa.Table:
    """Later files (or CSV blocks) must match the first one's columns; cast where types widen."""
    if table.schema.equals(schema):
        return table
    if table.schema.names != schema.names:
        raise DataError(
            f"{path} has columns {table.schema.names[:20]}, unlike the first input's "
            f"{schema.names[:20]}; score files of different layouts separately"
        )
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            f"{path}: column types differ from the first input's ({exc}); make them agree"
        ) from exc


def golden_delta(
    registry: ModelRegistry, name: str, versions: tuple[int, int], golden: Path, metric: str
) -> GoldenDelta:
    """Candidate and production (`versions`) scored on the same golden rows (a training
    config's ``golden: PATH``), and the seeded paired bootstrap of their `metric` difference
    over those rows: the interval is about the models, not about which rows each was tested on.

    Example:
        >>> golden_delta(registry, "m", (2, 1), Path("rows.csv"), "roc_auc").rows  # doctest: +SKIP
        2000
    """
    from ragline.mltrack.tabular.artifacts import load_model, load_pipeline
    from ragline.mltrack.tabular.config import DataSpec, MetricsSpec
    from ragline.mltrack.tabular.data import encode_target, load_frame
    from ragline.mltrack.tabular.evaluate import compare
    from ragline.mltrack.tabular.models import model_output

    if not golden.is_file():
        raise MltrackError(f"golden set {golden} is missing; restore it or retrain without it")
    (new, new_pipe), (old, old_pipe) = (
        registry.load_version(name, v, lambda f: (load_model(f), load_pipeline(f)))
        for v in versions
    )
    meta = new.meta
    positive = str((meta.classes or ())[-1]) if len(meta.classes or ()) == 2 else None
    spec = DataSpec(path=golden, target=meta.target, task=meta.task, positive_label=positive)
    frame = load_frame(spec)
    y, _ = encode_target(frame[meta.target], spec, meta.classes)
    scores = model_output(new, new_pipe, frame), model_output(old, old_pipe, frame)
    d = compare(y, *scores, metrics=[metric], spec=MetricsSpec())[metric]
    if d.delta is None or d.ci_low is None or d.ci_high is None:
        raise MltrackError(
            f"{metric} is undefined on the golden set {golden}; add rows of each class"
        )
    return GoldenDelta(d.delta, d.ci_low, d.ci_high, rows=len(y))
