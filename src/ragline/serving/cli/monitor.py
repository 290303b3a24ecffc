"""`ragline monitor ...`: drift between two tables, serving health, retraining, and both on a
schedule.

    ragline monitor drift train.parquet last_week.csv      # PSI / KS / JS / chi-square per column
    ragline monitor drift ref.csv cur.csv --columns age,plan --psi-critical 0.3 --json
    ragline monitor check                    # the last monitor.window (1d) against the day before
    ragline monitor check --window 6h --reference 7d --json
    ragline monitor check --model churn --now 2026-03-02T12:00:00Z   # a fixed moment, replays
    ragline monitor labels labels.csv        # true labels: request_id, label[, row]
    ragline monitor retrain --dry-run        # which policies are due, and why
    ragline monitor run --every 1h           # check + retrain every hour until stopped

`drift` reads the two tables and calls `ragline.mltrack.monitor.drift_report.drift_report`;
`check`, `retrain` and `run` call `ragline.serving.services.monitor` (the request log and the
cost ledger over two windows, the prediction log's scores and labels for model drift, the alert
rules of `monitor.alerts`, the policies of `monitor.retrain`); `labels` stores true labels keyed
by the request id the predict route answered with. Exit codes: 0 fine; 1 critical drift or
health, or a retrain failed; 2 bad input, with a message that says what to fix.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ragline.serving.cli.common import err, fail, out, read_table, settings_from
from ragline.serving.services.monitor import (
    MonitorUsageError,
    fire_alerts,
    health_report,
    import_labels,
    model_drift,
    retrain_pass,
)
from ragline.serving.settings import Settings

if TYPE_CHECKING:
    from ragline.mltrack.monitor.drift_report import DriftReport, DriftThresholds
    from ragline.mltrack.monitor.health import HealthReport
    from ragline.mltrack.monitor.model_drift import ModelDrift

monitor_app = typer.Typer(
    help="monitoring: data drift, serving health, alerts and retraining triggers."
)
_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "insufficient_data": "dim"}


def _thresholds(psi_warning: float | None, psi_critical: float | None) -> DriftThresholds:
    from pydantic import ValidationError

    from ragline.mltrack.monitor.drift_report import DriftThresholds

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
    from ragline.mltrack.errors import DataError
    from ragline.mltrack.monitor.drift_report import drift_report

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


_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "insufficient_data": "dim"}


def _fmt_metric(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "":
        return f"{value:.2%}"
    return f"{value:,.4f}" if unit.startswith("$") else f"{value:,.1f}"


def _print_report(report: HealthReport, window: str) -> None:
    table = Table("metric", "reference", "current", "change", "status", "reason")
    for m in report.metrics:
        change = "-" if m.ratio is None else f"{m.ratio:.2f}x"
        status = f"[{_STYLE[m.severity]}]{m.severity}[/]"
        table.add_row(
            m.name,
            _fmt_metric(m.reference, m.unit),
            _fmt_metric(m.current, m.unit),
            change,
            status,
            m.reason,
        )
    out.print(table)
    ref, cur = report.reference, report.current
    out.print(
        f"current {window}: {cur.requests} requests, {cur.errors} errors, ${cur.cost_usd}; "
        f"reference {ref.hours:g} h: {ref.requests} requests, ${ref.cost_usd}: "
        f"[{_STYLE[report.severity]}]{report.severity}[/]"
    )


def _print_models(models: list[ModelDrift]) -> None:
    table = Table("model", "drift", "status", "reason")
    for m in models:
        for kind, part in (
            ("prediction", m.prediction),
            ("label", m.labels),
            ("concept", m.concept),
        ):
            status = f"[{_STYLE[part.severity]}]{part.severity}[/]"
            table.add_row(m.model, kind, status, part.reason)
    out.print(table)


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"--now {text!r}: use an ISO time such as 2026-03-02T12:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_command(
    ctx: typer.Context,
    window: Annotated[
        str | None, typer.Option(help="current window, e.g. 1d, 6h, 30m (default monitor.window)")
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="reference window before it (default: same length)")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="model drift of this model only (default: all served)")
    ] = None,
    now: Annotated[
        str | None, typer.Option(help="end of the current window, ISO time (default: now)")
    ] = None,
    alerts: Annotated[bool, typer.Option(help="evaluate monitor.alerts on the figures")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Latency p50/p95/p99, error rate, throughput, cache hit rate and cost burn, and each
    served model's prediction, label and concept drift: the current window against the
    reference one; exit 1 when a metric is critical."""
    from ragline.mltrack.errors import MltrackError

    settings = settings_from(ctx)
    moment = _moment(now)
    text = window or settings.monitor.window
    try:
        report = health_report(settings, text, reference, moment)
        models = model_drift(settings, text, reference, moment, model)
        observations = [*report.observations(), *(o for m in models for o in m.observations())]
        on = alerts and settings.monitor.alerts
        fired = fire_alerts(settings, observations, moment) if on else []
    except (MltrackError, MonitorUsageError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        body = {
            "severity": report.severity,
            "metrics": [asdict(m) for m in report.metrics],
            "models": [asdict(m) | {"severity": m.severity} for m in models],
            "alerts": [f.payload() for f in fired],
        }
        out.print_json(json.dumps(body, default=_json_default))
    else:
        _print_report(report, text)
        if models:
            _print_models(models)
        for f in fired:
            actions = ", ".join(f"{o.kind} {'ok' if o.ok else 'FAILED'}" for o in f.outcomes)
            out.print(f"alert {f.rule} ({f.severity}): {f.metric}={f.value:g} -> {actions}")
    if report.severity == "critical" or any(m.severity == "critical" for m in models):
        raise typer.Exit(1)


def labels_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV/Parquet: request_id, label and optional row")],
) -> None:
    """Store true labels of served predictions, keyed by the request id (and row, default 0)
    the predict route answered; a later label of the same pair replaces the earlier one."""
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.monitor.prediction_log import LabelRecord

    frame = read_table(path, "labels")
    missing = [c for c in ("request_id", "label") if c not in frame.columns]
    if missing:
        raise fail(f"{path}: no column {missing}; give request_id, label and optionally row")
    frame = frame.dropna(subset=["request_id", "label"])
    labels = frame["label"]
    if labels.dtype.kind in "fiu":  # 1 and 1.0 (a CSV column with gaps) are one class
        labels = labels.astype("float64").map("{:g}".format)
    rows = frame["row"].astype("int64") if "row" in frame.columns else [0] * len(frame)
    records = [
        LabelRecord(str(rid), str(label), int(row))
        for rid, label, row in zip(frame["request_id"], labels, rows, strict=True)
    ]
    try:
        stored, matched = import_labels(settings_from(ctx), records)
    except MltrackError as exc:
        raise fail(str(exc)) from None
    out.print(f"{stored} labels stored; {matched} match a logged prediction")


def _json_default(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else repr(value)


def retrain_command(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="only this model's policy")] = None,
    dry_run: Annotated[bool, typer.Option(help="say what is due; train nothing")] = False,
) -> None:
    """Check each policy of monitor.retrain (schedule, performance, drift) and retrain the due
    models; a candidate the registry gates refuse is archived. Exit 1 when a retrain failed."""
    failed = _retrain(settings_from(ctx), model, dry_run)
    raise typer.Exit(1 if failed else 0)


def run_command(
    ctx: typer.Context,
    every: Annotated[str, typer.Option(help="time between passes: 15m, 1h, 1d")] = "1h",
    iterations: Annotated[int, typer.Option(help="stop after N passes; 0: run until stopped")] = 0,
    window: Annotated[str | None, typer.Option(help="window of each check")] = None,
) -> None:
    """The scheduler: `check` (with alerts) then `retrain` for every policy, every `--every`."""
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.monitor.health import parse_window

    settings = settings_from(ctx)
    try:
        pause = parse_window(every)
    except ValueError as exc:
        raise fail(f"{exc} (--every)") from None
    done = 0
    while iterations == 0 or done < iterations:
        started, now = time.monotonic(), datetime.now(UTC)
        out.print(f"[bold]pass {done + 1}[/] at {now:%Y-%m-%d %H:%M:%S} UTC")
        try:
            text = window or settings.monitor.window
            report = health_report(settings, text, None, now)
            models = model_drift(settings, text, None, now, None)
            _print_report(report, text)
            if models:
                _print_models(models)
            observations = [*report.observations(), *(o for m in models for o in m.observations())]
            for f in fire_alerts(settings, observations, now) if settings.monitor.alerts else []:
                out.print(f"alert {f.rule} ({f.severity}): {f.metric}={f.value:g}")
        except (MltrackError, MonitorUsageError) as exc:
            err.print(f"check failed: {exc}", markup=False)
        if settings.monitor.retrain:
            _retrain(settings, None, dry_run=False)
        done += 1
        if iterations == 0 or done < iterations:
            time.sleep(max(0.0, pause.total_seconds() - (time.monotonic() - started)))


def _retrain(settings: Settings, model: str | None, dry_run: bool) -> int:
    try:
        return retrain_pass(settings, model, dry_run, out.print, _warn)
    except MonitorUsageError as exc:
        raise fail(str(exc)) from None


def _warn(line: str) -> None:
    err.print(line, markup=False)


monitor_app.command("check")(check_command)
monitor_app.command("labels")(labels_command)
monitor_app.command("retrain")(retrain_command)
monitor_app.command("run")(run_command)
