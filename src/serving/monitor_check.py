"""`ragline monitor check | retrain | run`: serving health, retraining, and both on a schedule.

    ragline monitor check                    # the last monitor.window (1d) against the day before
    ragline monitor check --window 6h --reference 7d --json
    ragline monitor retrain --dry-run        # which policies are due, and why
    ragline monitor run --every 1h           # check + retrain every hour until stopped

`check` reads the request log (`monitor.request_log`) and the cost ledger for two windows,
prints the status table, evaluates the alert rules of `monitor.alerts` on what it measured
(de-duplicated and cooled down by `mltrack.alerts`), and exits 1 when a metric is critical.
`retrain` measures each policy of `monitor.retrain` and retrains the due ones through the
registry gates. Exit codes: 0 fine; 1 critical (check) or a retrain failed; 2 bad input.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from serving.cli_io import err, fail, out, settings_from
from serving.settings import Settings

if TYPE_CHECKING:
    from mltrack.alerts import Fired
    from mltrack.health import HealthReport
    from mltrack.monitor_config import RetrainPolicy
    from mltrack.retrain import RetrainOutcome

_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "insufficient_data": "dim"}


def _windows(text: str, reference: str | None, now: datetime) -> tuple[datetime, datetime]:
    """The reference window's start and the current window's start (it ends at `now`)."""
    from mltrack.health import parse_window

    try:
        current = parse_window(text)
        before = parse_window(reference) if reference else current
    except ValueError as exc:
        raise fail(f"{exc} (--window, --reference)") from None
    return now - current - before, now - current


def health_report(
    settings: Settings, window: str, reference: str | None, now: datetime
) -> HealthReport:
    """Measure both windows from the request log and the ledger, and compare them."""
    from mltrack.health import compare_windows, window_stats
    from mltrack.ledger import Ledger
    from mltrack.request_log import RequestLog

    ref_start, cur_start = _windows(window, reference, now)
    with RequestLog(settings.monitor.request_log, settings.data_dir) as log:
        ref_w, cur_w = log.window(ref_start, cur_start), log.window(cur_start, now)
    budget = settings.ml.ledger.monthly_budget_usd
    with Ledger(settings.ml.ledger, settings.data_dir) as ledger:
        ref_cost, cur_cost = ledger.total(ref_start, cur_start), ledger.total(cur_start, now)
        month = ledger.budget_status(budget, now) if budget is not None else None
    ref, cur = window_stats(ref_w, ref_cost), window_stats(cur_w, cur_cost)
    return compare_windows(ref, cur, settings.monitor.thresholds, month)


def _fmt(value: float | None, unit: str) -> str:
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
        table.add_row(m.name, _fmt(m.reference, m.unit), _fmt(m.current, m.unit), change,
                      status, m.reason)  # fmt: skip
    out.print(table)
    ref, cur = report.reference, report.current
    out.print(
        f"current {window}: {cur.requests} requests, {cur.errors} errors, ${cur.cost_usd}; "
        f"reference {ref.hours:g} h: {ref.requests} requests, ${ref.cost_usd}: "
        f"[{_STYLE[report.severity]}]{report.severity}[/]"
    )


def _retrain_callbacks(settings: Settings) -> dict[str, Callable[[str, Fired], RetrainOutcome]]:
    """A retrain action of an alert rule trains the policy of its model (monitor.retrain)."""
    from mltrack.retrain import Trigger, retrain

    def callback_for(policy: RetrainPolicy) -> Callable[[str, Fired], RetrainOutcome]:
        def start(model: str, fired: Fired) -> RetrainOutcome:
            reason = f"alert {fired.rule}: {fired.metric}={fired.value:g}"
            drifted = fired.metric.startswith(("psi", "drift"))
            trigger = Trigger("drift" if drifted else "performance", reason)
            out_dir = settings.data_dir / "retrain" / model
            return retrain(policy, trigger, settings.ml, settings.data_dir,
                           policy.recent_data, out_dir)  # fmt: skip

        return start

    return {p.model: callback_for(p) for p in settings.monitor.retrain}


def _alert(settings: Settings, report: HealthReport, now: datetime) -> list[Fired]:
    from mltrack.alerts import AlertEngine
    from mltrack.mlflow_store import MlflowStore

    store = MlflowStore(settings.ml, settings.data_dir)
    try:
        engine = AlertEngine(
            settings.monitor.alerts, store, on_retrain=_retrain_callbacks(settings)
        )
        return engine.evaluate(report.observations(), now)
    finally:
        store.close()


def check_command(
    ctx: typer.Context,
    window: Annotated[
        str | None, typer.Option(help="current window, e.g. 1d, 6h, 30m (default monitor.window)")
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="reference window before it (default: same length)")
    ] = None,
    alerts: Annotated[bool, typer.Option(help="evaluate monitor.alerts on the figures")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Latency p50/p95/p99, error rate, throughput, cache hit rate and cost burn: the current
    window against the reference one; exit 1 when a metric is critical."""
    from mltrack.errors import MltrackError

    settings = settings_from(ctx)
    now = datetime.now(UTC)
    text = window or settings.monitor.window
    try:
        report = health_report(settings, text, reference, now)
        fired = _alert(settings, report, now) if alerts and settings.monitor.alerts else []
    except MltrackError as exc:
        raise fail(str(exc)) from None
    if as_json:
        body = {"severity": report.severity, "metrics": [asdict(m) for m in report.metrics],
                "alerts": [f.payload() for f in fired]}  # fmt: skip
        out.print_json(json.dumps(body, default=_json_default))
    else:
        _print_report(report, text)
        for f in fired:
            actions = ", ".join(f"{o.kind} {'ok' if o.ok else 'FAILED'}" for o in f.outcomes)
            out.print(f"alert {f.rule} ({f.severity}): {f.metric}={f.value:g} -> {actions}")
    if report.severity == "critical":
        raise typer.Exit(1)


def _json_default(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else repr(value)


def retrain_pass(settings: Settings, model: str | None, dry_run: bool) -> int:
    """Check every policy (or `model`'s) and retrain the due ones; returns how many failed."""
    from mltrack.errors import MltrackError
    from mltrack.retrain_check import measure_triggers, retrain_due

    policies = [p for p in settings.monitor.retrain if model is None or p.model == model]
    if not policies:
        raise fail(f"no retrain policy for {model or 'any model'}; add one to monitor.retrain")
    failed = 0
    for policy in policies:
        try:
            due = measure_triggers(policy, settings.ml, settings.data_dir, datetime.now(UTC))
            out.print(f"{policy.model}: " + "; ".join(due.notes))
            if not due.due:
                out.print(f"{policy.model}: no trigger holds; nothing to do")
                continue
            for t in due.triggers:
                out.print(f"{policy.model}: trigger {t.kind}: {t.reason}")
            if dry_run:
                continue
            stamp = time.strftime("%Y%m%dT%H%M%S")
            folder = settings.data_dir / "retrain" / policy.model / stamp
            outcome = retrain_due(policy, due, settings.ml, settings.data_dir, folder)
            if outcome is not None:
                out.print(f"{policy.model}: {outcome.summary()}")
        except MltrackError as exc:
            failed += 1
            err.print(f"{policy.model}: retrain failed: {exc}", markup=False)
    return failed


def retrain_command(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="only this model's policy")] = None,
    dry_run: Annotated[bool, typer.Option(help="say what is due; train nothing")] = False,
) -> None:
    """Check each policy of monitor.retrain (schedule, performance, drift) and retrain the due
    models; a candidate the registry gates refuse is archived. Exit 1 when a retrain failed."""
    failed = retrain_pass(settings_from(ctx), model, dry_run)
    raise typer.Exit(1 if failed else 0)


def run_command(
    ctx: typer.Context,
    every: Annotated[str, typer.Option(help="time between passes: 15m, 1h, 1d")] = "1h",
    iterations: Annotated[int, typer.Option(help="stop after N passes; 0: run until stopped")] = 0,
    window: Annotated[str | None, typer.Option(help="window of each check")] = None,
) -> None:
    """The scheduler: `check` (with alerts) then `retrain` for every policy, every `--every`."""
    from mltrack.errors import MltrackError
    from mltrack.health import parse_window

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
            report = health_report(settings, window or settings.monitor.window, None, now)
            _print_report(report, window or settings.monitor.window)
            for f in _alert(settings, report, now) if settings.monitor.alerts else []:
                out.print(f"alert {f.rule} ({f.severity}): {f.metric}={f.value:g}")
        except MltrackError as exc:
            err.print(f"check failed: {exc}", markup=False)
        if settings.monitor.retrain:
            retrain_pass(settings, None, dry_run=False)
        done += 1
        if iterations == 0 or done < iterations:
            time.sleep(max(0.0, pause.total_seconds() - (time.monotonic() - started)))
