"""Monitoring as a service: serving health over two windows, alert rules, retraining passes.
`ragline monitor check | retrain | run` call these (and an API route could).

    report = health_report(settings, "1d", None, now)          # request log + cost ledger
    models = model_drift(settings, "1d", None, now, None)      # prediction log + labels
    fired = fire_alerts(settings, report.observations(), now)  # monitor.alerts, de-duplicated
    failed = retrain_pass(settings, None, dry_run=True, say=print)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ragline.serving.settings import Settings

if TYPE_CHECKING:
    from ragline.mltrack.monitor.alerts import Fired, Observation
    from ragline.mltrack.monitor.config import RetrainPolicy
    from ragline.mltrack.monitor.health import HealthReport
    from ragline.mltrack.monitor.model_drift import ModelDrift
    from ragline.mltrack.monitor.prediction_log import LabelRecord
    from ragline.mltrack.monitor.retrain import RetrainOutcome


class MonitorUsageError(ValueError):
    """Bad usage (a window that does not parse, no retrain policy): the message says the fix."""


def _windows(text: str, reference: str | None, now: datetime) -> tuple[datetime, datetime]:
    """The reference window's start and the current window's start (it ends at `now`)."""
    from ragline.mltrack.monitor.health import parse_window

    try:
        current = parse_window(text)
        before = parse_window(reference) if reference else current
    except ValueError as exc:
        raise MonitorUsageError(f"{exc} (--window, --reference)") from None
    return now - current - before, now - current


def health_report(
    settings: Settings, window: str, reference: str | None, now: datetime
) -> HealthReport:
    """Measure both windows from the request log and the ledger, and compare them."""
    from ragline.mltrack.costs.ledger import Ledger
    from ragline.mltrack.monitor.health import compare_windows, window_stats
    from ragline.mltrack.monitor.request_log import RequestLog

    ref_start, cur_start = _windows(window, reference, now)
    with RequestLog(settings.monitor.request_log, settings.data_dir) as log:
        ref_w, cur_w = log.window(ref_start, cur_start), log.window(cur_start, now)
    budget = settings.costs.ledger.monthly_budget_usd
    with Ledger(settings.costs.ledger, settings.data_dir) as ledger:
        ref_cost, cur_cost = ledger.total(ref_start, cur_start), ledger.total(cur_start, now)
        month = ledger.budget_status(budget, now) if budget is not None else None
    ref, cur = window_stats(ref_w, ref_cost), window_stats(cur_w, cur_cost)
    return compare_windows(ref, cur, settings.monitor.thresholds, month)


def retrain_callbacks(settings: Settings) -> dict[str, Callable[[str, Fired], RetrainOutcome]]:
    """A retrain action of an alert rule trains the policy of its model (monitor.retrain)."""
    from ragline.mltrack.monitor.retrain import Trigger, retrain

    def callback_for(policy: RetrainPolicy) -> Callable[[str, Fired], RetrainOutcome]:
        def start(model: str, fired: Fired) -> RetrainOutcome:
            reason = f"alert {fired.rule}: {fired.metric}={fired.value:g}"
            drifted = fired.metric.startswith(("psi", "drift"))
            trigger = Trigger("drift" if drifted else "performance", reason)
            out_dir = settings.data_dir / "retrain" / model
            return retrain(
                policy, trigger, settings.ml, settings.data_dir, policy.recent_data, out_dir
            )

        return start

    return {p.model: callback_for(p) for p in settings.monitor.retrain}


def rollback_callback(settings: Settings) -> Callable[[str, Fired], str]:
    """A rollback action of an alert rule aborts the model's running canary, if any, else puts
    its previous production version back (the registry's rollback); audited as ragline monitor."""
    from ragline.mltrack.monitor.alerts import canary_first
    from ragline.mltrack.tracking.registry import ModelRegistry

    def roll_back(model: str, fired: Fired) -> str:
        registry = ModelRegistry(settings.ml, settings.data_dir)
        try:
            reason = f"alert {fired.rule}: {fired.metric}={fired.value:g}"
            info = registry.rollback(
                model, actor="ragline monitor", command="ragline monitor", reason=reason
            )
        finally:
            registry.close()
        return f"{model}: production is version {info.version} again"

    def abort_canary(model: str, reason: str) -> str | None:
        from ragline.mltrack.rollout import Rollouts

        registry = ModelRegistry(settings.ml, settings.data_dir)
        try:
            rollouts = Rollouts(registry, settings.ml.rollout)
            state = rollouts.status(model)
            if state is None or not state.running:
                return None
            rollouts.abort(model, actor="ragline monitor", reason=reason, command="ragline monitor")
        finally:
            registry.close()
        kept = state.production_version
        return f"{model}: canary version {state.version} aborted; production stays {kept}"

    return canary_first(abort_canary, roll_back)


def fire_alerts(
    settings: Settings, observations: Iterable[Observation], now: datetime
) -> list[Fired]:
    """Evaluate monitor.alerts on the observations (`HealthReport.observations()`,
    `ModelDrift.observations()`); the rules that fired and what their actions did."""
    from ragline.mltrack.monitor.alerts import AlertEngine
    from ragline.mltrack.tracking.mlflow_store import MlflowStore

    store = MlflowStore(settings.ml, settings.data_dir)
    try:
        engine = AlertEngine(
            settings.monitor.alerts,
            store,
            on_retrain=retrain_callbacks(settings),
            on_rollback=rollback_callback(settings),
        )
        return engine.evaluate(observations, now)
    finally:
        store.close()


def retrain_pass(
    settings: Settings,
    model: str | None,
    dry_run: bool,
    say: Callable[[str], None],
    warn: Callable[[str], None],
) -> int:
    """Check every policy (or `model`'s) and retrain the due ones, telling `say` what it finds
    (`warn` what failed); returns how many failed."""
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.monitor.retrain_check import measure_triggers, retrain_due

    policies = [p for p in settings.monitor.retrain if model is None or p.model == model]
    if not policies:
        raise MonitorUsageError(
            f"no retrain policy for {model or 'any model'}; add one to monitor.retrain"
        )
    failed = 0
    for policy in policies:
        try:
            due = measure_triggers(policy, settings.ml, settings.data_dir, datetime.now(UTC))
            say(f"{policy.model}: " + "; ".join(due.notes))
            if not due.due:
                say(f"{policy.model}: no trigger holds; nothing to do")
                continue
            for t in due.triggers:
                say(f"{policy.model}: trigger {t.kind}: {t.reason}")
            if dry_run:
                continue
            stamp = time.strftime("%Y%m%dT%H%M%S")
            folder = settings.data_dir / "retrain" / policy.model / stamp
            outcome = retrain_due(policy, due, settings.ml, settings.data_dir, folder)
            if outcome is not None:
                say(f"{policy.model}: {outcome.summary()}")
        except MltrackError as exc:
            failed += 1
            warn(f"{policy.model}: retrain failed: {exc}")
    return failed


def model_drift(
    settings: Settings, window: str, reference: str | None, now: datetime, model: str | None
) -> list[ModelDrift]:
    """Prediction, label and concept drift of every model with predictions in the current
    window (or of `model`), from the prediction log."""
    from ragline.mltrack.monitor.health import parse_window
    from ragline.mltrack.monitor.model_drift import assess
    from ragline.mltrack.monitor.prediction_log import PredictionLog

    config = settings.monitor.model_drift
    ref_start, cur_start = _windows(window, reference, now)
    concept = parse_window(config.concept_for) + parse_window(config.concept_window)
    since = min(ref_start, now - concept)
    with PredictionLog(settings.monitor.prediction_log, settings.data_dir) as log:
        names = [model] if model else log.models(cur_start, now)
        windows = [log.window(name, since, now) for name in names]
    stamps = ref_start.timestamp(), cur_start.timestamp(), now.timestamp()
    return [assess(w, *stamps, config) for w in windows]


def import_labels(settings: Settings, records: Sequence[LabelRecord]) -> tuple[int, int]:
    """Store true labels in the prediction log's labels table; (stored, matching a logged
    prediction)."""
    from ragline.mltrack.monitor.prediction_log import PredictionLog

    with PredictionLog(settings.monitor.prediction_log, settings.data_dir) as log:
        return log.add_labels(records), log.matched(records)
