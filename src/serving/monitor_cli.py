"""`ragline monitor ...`: compare a current table with its reference and say how far it drifted.

    ragline monitor drift train.parquet last_week.csv             # a table and a summary line
    ragline monitor drift ref.csv cur.csv --columns age,plan --psi-critical 0.3 --json
    ragline monitor check --window 1d      # serving health (serving.monitor_check), and
    ragline monitor retrain | run          # retraining, once or on a schedule

The command is thin: read the two tables, call `mltrack.drift_report.drift_report`, print.
Exit codes: 0 no critical drift; 1 critical drift; 2 bad input (a missing or unreadable file,
unknown columns, inconsistent thresholds), with a message that says what to fix.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from serving.cli_io import fail, out, read_table

if TYPE_CHECKING:
    from mltrack.drift_report import DriftReport, DriftThresholds

monitor_app = typer.Typer(
    help="monitoring: data drift, serving health, alerts and retraining triggers."
)
_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "insufficient_data": "dim"}


def _thresholds(psi_warning: float | None, psi_critical: float | None) -> DriftThresholds:
    from pydantic import ValidationError

    from mltrack.drift_report import DriftThresholds

    given = {"psi_warning": psi_warning, "psi_critical": psi_critical}
    try:
        return DriftThresholds.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        reasons = "; ".join(e["msg"] for e in exc.errors())
        raise fail(f"thresholds: {reasons} (--psi-warning, --psi-critical)") from None


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _print_table(report: DriftReport) -> None:
    table = Table("feature")
    for header in ("kind", "PSI", "KS (p)", "JS", "severity"):
        table.add_column(header, no_wrap=True)
    table.add_column("reason")
    for f in report.features:
        test = f"{_fmt(f.ks)} ({_fmt(f.ks_pvalue, '.2g')})" if f.ks is not None else "-"
        if f.chi2_pvalue is not None:
            test = f"chi2 p {_fmt(f.chi2_pvalue, '.2g')}"
        severity = f"[{_STYLE[f.severity]}]{f.severity}[/]"
        table.add_row(f.name, f.kind, _fmt(f.psi), test, _fmt(f.js), severity, f.reason)
    out.print(table)


@monitor_app.command("drift")
def drift_cmd(
    reference: Annotated[Path, typer.Argument(help="reference table (training data), CSV/Parquet")],
    current: Annotated[Path, typer.Argument(help="current table (recent traffic), CSV/Parquet")],
    columns: Annotated[
        str | None, typer.Option(help="comma-separated columns; default all")
    ] = None,
    psi_warning: Annotated[float | None, typer.Option(help="PSI warning threshold (0.1)")] = None,
    psi_critical: Annotated[
        float | None, typer.Option(help="PSI critical threshold (0.25)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Per-feature PSI, KS, JS (numeric) or chi-square (categorical); exit 1 on critical drift."""
    from mltrack.drift_report import drift_report
    from mltrack.errors import DataError

    thresholds = _thresholds(psi_warning, psi_critical)
    started = time.perf_counter()
    ref, cur = read_table(reference, "reference"), read_table(current, "current")
    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    try:
        report = drift_report(ref, cur, thresholds, names)
    except DataError as exc:
        raise fail(str(exc)) from None
    seconds = time.perf_counter() - started
    if as_json:
        out.print_json(json.dumps({**dataclasses.asdict(report), "seconds": round(seconds, 3)}))
    else:
        _print_table(report)
        out.print(
            f"{report.n_ref} reference / {report.n_cur} current rows, {len(report.features)} "
            f"columns, {seconds:.2f} s: [{_STYLE[report.severity]}]{report.severity}[/] "
            f"({report.reason})"
        )
    if report.severity == "critical":
        raise typer.Exit(1)


def _add_commands() -> None:
    from serving.monitor_check import check_command, retrain_command, run_command

    monitor_app.command("check")(check_command)
    monitor_app.command("retrain")(retrain_command)
    monitor_app.command("run")(run_command)


_add_commands()
