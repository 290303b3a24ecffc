"""`ragline ml errors MODEL DATA`: a registered model's worst predictions and worst slices.

    ragline ml errors adult-income holdout.csv
    ragline ml errors adult-income holdout.parquet --stage staging --top 50 --slice sex --json

The command is thin: load the stage's version (`ragline.mltrack.tabular.score.load_scorer`),
score the labelled rows and rank them (`ragline.mltrack.method.error_analysis.analyse_errors`),
print the worst rows with their inputs and the slices (each ``--slice`` column's values, default
the model's categorical inputs) worst first. Exit codes: 0 done; 2 bad input (an unknown model
or stage, a missing file, target or column, a label the model does not know).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ragline.serving.cli.common import err, exit_2_on, out, settings_from
from ragline.serving.cli.ml.batch import StageOption, _stage

if TYPE_CHECKING:
    from ragline.mltrack.method.error_analysis import ErrorReport

__all__ = ["errors_command", "report_dict"]


def report_dict(report: ErrorReport) -> dict[str, object]:
    """The JSON document `--json` prints.

    Example:
        >>> from ragline.mltrack.method.error_analysis import ErrorReport
        >>> report_dict(ErrorReport("m", 1, "binary", 0, 0.0, 0.0, (), ()))["measure"]
        '|y - P(positive)|'
    """
    return {
        "model": report.model,
        "version": report.version,
        "task": report.task,
        "measure": report.measure,
        "rows": report.rows,
        "mean_error": report.mean_error,
        "misclassified": report.misclassified,
        "worst": [
            {
                "row": r.row,
                "error": r.error,
                "target": r.target,
                "prediction": r.prediction,
                "features": r.features,
            }
            for r in report.worst
        ],
        "slices": [
            {
                "column": s.column,
                "value": s.value,
                "rows": s.rows,
                "mean_error": s.mean_error,
                "misclassified": s.misclassified,
            }
            for s in report.slices
        ],
    }


def _print(report: ErrorReport) -> None:
    share = "" if report.misclassified is None else f", {report.misclassified:.1%} misclassified"
    out.print(
        f"{report.model} version {report.version} ({report.task}) on {report.rows:,} rows: "
        f"mean error {report.mean_error:.4f}{share}; error = {report.measure}",
        markup=False,
    )
    rows = Table(title=f"worst {len(report.worst)} predictions")
    for name in ("row", "error", "target", "prediction", "features"):
        rows.add_column(name, overflow="fold", ratio=1 if name == "features" else None)
    for r in report.worst:
        features = ", ".join(f"{k}={v}" for k, v in r.features.items())
        prediction = f"{r.prediction:.4f}" if isinstance(r.prediction, float) else r.prediction
        cells = (str(r.row), f"{r.error:.4f}", str(r.target), str(prediction), features)
        rows.add_row(*(escape(c) for c in cells))
    out.print(rows)
    slices = Table(title="slices, worst first")
    for name in ("column", "value", "rows", "mean error", "misclassified"):
        slices.add_column(name)
    for s in report.slices:
        share = "-" if s.misclassified is None else f"{s.misclassified:.1%}"
        cells = (s.column, s.value, f"{s.rows:,}", f"{s.mean_error:.4f}", share)
        slices.add_row(*(escape(c) for c in cells))
    out.print(slices)


def errors_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="registered model name, e.g. adult-income")],
    data: Annotated[Path, typer.Argument(help="labelled rows: a Parquet or CSV file, or folder")],
    stage: StageOption = "production",
    top: Annotated[int, typer.Option("--top", min=1, help="how many worst rows to list")] = 20,
    slice_columns: Annotated[
        list[str] | None,
        typer.Option("--slice", help="column to slice by (repeat); default categorical inputs"),
    ] = None,
    min_rows: Annotated[
        int, typer.Option("--min-rows", min=1, help="leave out slices with fewer rows")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """List MODEL's worst predictions on DATA with their inputs, and its worst slices."""
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.method.error_analysis import analyse_errors, read_labelled
    from ragline.mltrack.tabular.score import load_scorer

    settings = settings_from(ctx)
    chosen = _stage(stage)
    with exit_2_on(MltrackError):
        scorer = load_scorer(settings.ml, settings.data_dir, model, chosen)
        frame = read_labelled(data)
        report = analyse_errors(
            scorer, frame, top=top, slices=slice_columns or None, min_rows=min_rows
        )
    if as_json:
        out.print_json(json.dumps(report_dict(report)))
    else:
        err.print(f"scored with {scorer.name} version {scorer.version} ({chosen})", markup=False)
        _print(report)
