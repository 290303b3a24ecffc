"""`ragline ml suggest`: profile a table, recommend a model, write a starter training config.

    ragline ml suggest adult.csv --target income
    ragline ml suggest sales.parquet --target units --task regression --out configs/ml/sales.yaml
    ragline ml suggest adult.csv --brief configs/briefs/adult-income.yaml   # target, exclusions
    ragline ml suggest co2.csv --target co2          # a time column: forecast (lags, seasonal)
    ragline ml suggest wbc.csv --target anomaly --task anomaly   # rare 0/1 label: anomalies

The command is thin: read the table, call `ragline.mltrack.method.suggest` (profile -> rules ->
config), print what was measured and decided, score the table with the data-quality gate that
`ragline ml train` runs on the config (`ragline.mltrack.tabular.jobs.check_quality`, threshold
ml.min_quality), and write the config (refusing to overwrite without --force). Exit codes: 0
written, and training will accept the table; 1 written, but the quality gate refuses the table
(the refusal names the weak dimensions); 2 bad input (a missing or unreadable file, an unknown
target, a target that is neither binary nor numeric, an existing --out), with a message that says
what to fix.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ragline.serving.cli.common import err, fail, out, read_table, settings_from

if TYPE_CHECKING:
    from ragline.mltrack.data.profile import DataProfile
    from ragline.mltrack.method.suggest import Advice, Suggestion

DEFAULT_OUT = Path("configs/ml/starter.yaml")


def _print_profile(p: DataProfile) -> None:
    table = Table("column", "kind", "distinct", "missing", "alone", "why", title="profile")
    for c in p.columns:
        alone = "-" if c.alone is None else f"{c.alone:.3f}"
        table.add_row(c.name, c.kind, str(c.unique), f"{c.missing:.1%}", alone, c.reason)
    out.print(table)
    balance = ""
    if p.classes:
        shares = ", ".join(f"{k}: {v / p.rows:.1%}" for k, v in p.classes.items())
        balance = f"; classes {shares}; positive label {p.positive!r}"
    out.print(f"{p.rows:,} rows, target {p.target!r}, task {p.task}{balance}", markup=False)


def _section(title: str, items: tuple[Advice, ...]) -> None:
    out.print(f"{title}:" + ("" if items else " none"), markup=False)
    for a in items:
        out.print(f"  - {a.what}: {a.why}", markup=False)


def _print_suggestion(s: Suggestion) -> None:
    out.print(f"start with: {s.start.what}\n  because {s.start.why}", markup=False)
    out.print(f"split: {s.split.what} ({s.split.why})", markup=False)
    out.print(f"primary metric: {s.metric.what} ({s.metric.why})", markup=False)
    _section("scale-up path", s.scale_up)
    _section("avoid", s.avoid)
    _section("left out of the features", s.excluded)
    table = Table("hyper-parameter", "start", "tune range", "why", title="critical knobs")
    table.caption = "start -: the library's default; ranges are what `ragline ml tune` searches"
    for h in s.params:
        r = h.range
        span = f"{r.choices}" if r.choices is not None else f"[{r.low:g}, {r.high:g}]"
        span += " log" if r.log else ""
        table.add_row(h.name, "-" if h.start is None else str(h.start), span, h.why)
    out.print(table)


def _from_brief(path: Path) -> tuple[str, str | None, tuple[str, ...]]:
    """The brief's target, task (None when ml train cannot do it) and excluded columns."""
    from ragline.mltrack.method.brief import BriefError, load_brief

    try:
        brief = load_brief(path)
    except BriefError as exc:
        raise fail(str(exc)) from None
    tasks = {"binary_classification": "classification", "regression": "regression"}
    if brief.task_type not in tasks:
        raise fail(
            f"{path}: task_type {brief.task_type} is not one `ragline ml train` does (binary "
            "classification, regression); change the brief or pass --target and --task"
        )
    return brief.prediction.target, tasks[brief.task_type], brief.data.exclude_columns


def _gate(ctx: typer.Context, suggestion: Suggestion, data: Path) -> str | None:
    """The quality gate's refusal of the table, as `ragline ml train` would run it; None if it
    passes."""
    from ragline.mltrack.errors import DataError, QualityTooLow
    from ragline.mltrack.method.suggest import starter_config
    from ragline.mltrack.tabular.jobs import check_quality

    ml = settings_from(ctx).ml
    try:
        report = check_quality(starter_config(suggestion, str(data.resolve())), ml, force=False)
    except QualityTooLow as exc:
        return str(exc)
    except DataError as exc:
        raise fail(str(exc)) from None
    out.print(f"data quality {report.headline()} passes the gate ({ml.min_quality})", markup=False)
    return None


def suggest_command(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="the training table, CSV or Parquet")],
    target: Annotated[
        str | None, typer.Option("--target", help="the column to predict (or the brief's)")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="classification | regression | anomaly (a rare 0/1 target, used only to "
            "evaluate an Isolation Forest); default: from the target"
        ),
    ] = None,
    brief: Annotated[
        Path | None, typer.Option(help="problem brief: target, task_type, data.exclude_columns")
    ] = None,
    out_path: Annotated[
        Path, typer.Option("--out", help="starter training config to write")
    ] = DEFAULT_OUT,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing --out")] = False,
) -> None:
    """Recommend a starting model, a scale-up path and what to avoid; write a starter config."""
    from ragline.mltrack.data.profile import profile_frame
    from ragline.mltrack.errors import DataError
    from ragline.mltrack.method.suggest import Advice, render_config, suggest
    from ragline.mltrack.tabular.config import Task

    tasks: dict[str, Task] = {"classification": "classification", "regression": "regression"}
    tasks["anomaly"] = "classification"  # profiled as a binary label, then suggested as anomaly
    goal, brief_task, excluded = _from_brief(brief) if brief else (None, None, ())
    target, task = target or goal, task or brief_task  # flags win over the brief
    if target is None:
        raise fail("name the column to predict: --target COLUMN (or --brief BRIEF.yaml)")
    if task is not None and task not in tasks:
        raise fail(f"--task {task!r}: use classification, regression or anomaly")
    if out_path.exists() and not force:
        raise fail(f"{out_path} exists; pass --force to overwrite it, or choose another --out")
    started = time.perf_counter()
    frame = read_table(data, "data")
    dropped = [c for c in excluded if c in frame.columns]
    try:
        profile = profile_frame(frame.drop(columns=dropped), target, tasks[task] if task else None)
        suggestion = suggest(profile, frame=frame, anomaly=task == "anomaly")
    except DataError as exc:
        raise fail(str(exc)) from None
    why = f"data.exclude_columns of {brief}"
    more = tuple(Advice(c, why) for c in dropped)
    suggestion = replace(suggestion, excluded=suggestion.excluded + more)
    suggestion = replace(suggestion, refused=_gate(ctx, suggestion, data))
    # the config's data.path is relative to the config's folder, so the two can move together
    data_ref = Path(os.path.relpath(data.resolve(), out_path.resolve().parent)).as_posix()
    text = render_config(suggestion, data_ref, source=str(data))
    _print_profile(profile)
    _print_suggestion(suggestion)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    wrote = f"wrote {out_path} ({suggestion.model}, {len(text.splitlines())} lines) in "
    wrote += f"{time.perf_counter() - started:.1f} s"
    if suggestion.refused is None:
        out.print(f"{wrote}; next: ragline ml train {out_path}", markup=False)
        return
    out.print(wrote, markup=False)
    err.print(f"`ragline ml train` would refuse this table: {suggestion.refused}", markup=False)
    raise typer.Exit(1)
