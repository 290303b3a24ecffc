"""`ragline ml score MODEL INPUT OUTPUT`: batch scoring with a registered model.

    ragline ml score adult-income people.parquet scored.parquet
    ragline ml score adult-income exports/ scored.parquet --stage staging --batch-rows 65536
    ragline ml score adult-income people.csv scored.parquet --keep person_id --force
    ragline ml score adult-income exports/ scored.parquet --engine ray --address auto

The command is thin: load the stage's version from the registry, call
`ragline.mltrack.tabular.score.score_files` (batches read, scored and written with pyarrow), show
its progress on stderr (a bar on a terminal, a line every 5 s otherwise) and rows/s at the end.
The output is Parquet: the input's columns (or the ``--keep`` ones), ``score``, ``label``
(classifiers), ``model`` and ``model_version``. An existing OUTPUT is refused unless ``--force``;
a failed run leaves no output. ``--engine ray`` scores the batches in Ray tasks
(`ragline.serving.services.scoring`; a local cluster, or ``--address``) with the same output.
Exit codes: 0 done; 2 bad input (an unknown model or stage, a
missing file or column), with what to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragline.serving.cli.common import err, exit_2_on, fail, settings_from

if TYPE_CHECKING:
    from ragline.mltrack.tabular.score import BatchMapper, ScoreProgress
    from ragline.mltrack.tracking.registry import Stage

StageOption = Annotated[
    str, typer.Option("--stage", help="registry stage: development, staging or production")
]


class _Bar:
    """`ScoreProgress` drawn as a rich bar on stderr (rows, and rows/s so far)."""

    def __init__(self) -> None:
        self.bar = Progress(
            TextColumn("score"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows  {task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self.task = self.bar.add_task("score", total=None, rate="-")

    def __call__(self, progress: ScoreProgress) -> None:
        rate = progress.rows / progress.seconds if progress.seconds > 0 else 0.0
        self.bar.update(
            self.task, completed=progress.rows, total=progress.total_rows, rate=f"{rate:,.0f}"
        )


class _Lines:
    """`ScoreProgress` as plain stderr lines, at most one per `every_s` seconds of the run: what
    a log shows when stderr is not a terminal (a scheduled job), where a bar would draw nothing.
    """

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s, self.next_s = every_s, every_s

    def __call__(self, progress: ScoreProgress) -> None:
        if progress.seconds < self.next_s:
            return
        self.next_s = progress.seconds + self.every_s
        done = "" if progress.total_rows is None else f" of {progress.total_rows:,}"
        rate = progress.rows / progress.seconds
        err.print(f"scored {progress.rows:,}{done} rows ({rate:,.0f} rows/s)", markup=False)


@contextmanager
def _engine(engine: str, address: str | None) -> Iterator[BatchMapper | None]:
    """None (in-process), or Ray tasks within a Ray session for the block."""
    if engine == "local":
        yield None
        return
    from ragline.rag.errors import IngestError
    from ragline.rag.ingest.ray_engine import RayOptions, ray_session
    from ragline.serving.services.scoring import ray_batches

    with exit_2_on(IngestError), ray_session(RayOptions(address=address)):
        err.print(f"scoring in Ray tasks ({address or 'local cluster'})", markup=False)
        yield ray_batches()


def _stage(value: str) -> Stage:
    from ragline.mltrack.tracking.registry import STAGES

    for stage in STAGES:
        if value == stage:
            return stage
    raise fail(f"--stage {value!r}: use one of {', '.join(STAGES)}")


def ml_score_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="registered model name, e.g. adult-income")],
    source: Annotated[Path, typer.Argument(help="a Parquet or CSV file, or a folder of them")],
    output: Annotated[Path, typer.Argument(help="the Parquet file to write")],
    stage: StageOption = "production",
    batch_rows: Annotated[
        int, typer.Option("--batch-rows", min=1, help="rows read and scored at a time")
    ] = 131_072,
    keep: Annotated[
        list[str] | None,
        typer.Option("--keep", help="input column to carry into the output (repeat); default all"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing OUTPUT")] = False,
    engine: Annotated[
        str, typer.Option("--engine", help="local (in-process) or ray (batches in Ray tasks)")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option("--address", help="with --engine ray: auto or ray://host:port (else local)"),
    ] = None,
) -> None:
    """Score every row of INPUT with MODEL's STAGE version into the Parquet file OUTPUT."""
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.tabular.score import load_scorer, score_files

    settings = settings_from(ctx)
    chosen = _stage(stage)
    if engine not in ("local", "ray"):
        raise fail(f"--engine must be local or ray, got {engine!r}")
    if output.exists() and not force:
        raise fail(f"{output} exists; pass --force to replace it, or choose another OUTPUT")
    with exit_2_on(MltrackError):
        scorer = load_scorer(settings.ml, settings.data_dir, model, chosen)
    err.print(f"scoring with {scorer.name} version {scorer.version} ({chosen})", markup=False)
    show: _Bar | _Lines = _Bar() if err.is_terminal else _Lines()
    drawn = show.bar if isinstance(show, _Bar) else nullcontext()
    with exit_2_on(MltrackError), drawn, _engine(engine, address) as mapper:
        report = score_files(
            scorer,
            source,
            output,
            batch_rows=batch_rows,
            keep=keep or None,
            on_progress=show,
            mapper=mapper,
        )
    err.print(
        f"scored {report.rows:,} rows from {report.files} file(s) in {report.seconds:.2f} s "
        f"({report.rows_per_second:,.0f} rows/s) -> {report.output}",
        markup=False,
    )
