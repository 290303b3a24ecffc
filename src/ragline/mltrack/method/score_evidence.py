"""Where `ragline score` finds its evidence: configs, experiments, the registry, eval runs,
the cost ledger and the monitoring tables (see `ragline.mltrack.method.score` for what each
point needs).

    configs = [Path("configs/ml/adult.yaml")]
    evidence = gather_evidence(MltrackConfig(), Path(".ragline"), None, configs)
    score_system(evidence).total

A store that does not exist yet is a note, never created; an unreachable one is a note too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.errors import MltrackError, TrackingError
from ragline.mltrack.method.score import ALERT_TABLE, DRIFT_PREFIX, Evidence
from ragline.mltrack.tracking.registry import production_stack

if TYPE_CHECKING:
    from ragline.mltrack.tabular.config import TrainConfig
    from ragline.mltrack.tracking.experiments import ExperimentRecord, Tracker
    from ragline.mltrack.tracking.registry import ModelRegistry


def gather_evidence(
    ml: MltrackConfig,
    data_dir: Path,
    model: str | None,
    configs: Sequence[Path],
    project_dir: Path | None = None,
    ledger: LedgerConfig | None = None,
    now: datetime | None = None,
) -> Evidence:
    """Read the evidence: training configs, the tracking store (experiments, registry, audit),
    ``<data_dir>/eval_runs/runs.jsonl``, the cost ledger and monitoring tables. `model` None
    means the most recently registered one. A store that is absent or unreachable becomes a
    note; a config that cannot be read raises `TrainConfigError`. `ledger` is the cost ledger's
    settings (`costs.ledger`; default: SQLite under `data_dir`); `now` (default: the clock) is
    when "the last 7 days" and the month's budget end.

    Example:
        >>> e = gather_evidence(MltrackConfig(), Path(".ragline"), None, [])  # doctest: +SKIP
        >>> score_system(e).total  # doctest: +SKIP
        23
    """
    from ragline.mltrack.tabular.config import load_train_config

    loaded = [load_train_config(p) for p in configs]
    e = Evidence(docs_present=_docs_present(project_dir or Path.cwd()))
    e = _from_tracking(e, ml, data_dir, model, loaded)
    e = _from_eval_runs(e, data_dir / "eval_runs" / "runs.jsonl")
    e = _from_ledger(e, ledger or LedgerConfig(), data_dir, now or datetime.now(UTC))
    return _from_monitoring_tables(e, ml, data_dir)


def _docs_present(project: Path) -> bool:
    return (project / "README.md").is_file() or (project / "docs").is_dir()


def _from_config(e: Evidence, config: TrainConfig) -> Evidence:
    spec = config.experiment
    declared = "baseline" in config.model_fields_set
    return replace(
        e,
        hypothesis=spec.hypothesis or None,
        primary_metric=config.metrics.primary,
        baseline=config.baseline.kind if declared else None,
        intended_use=spec.intended_use,
        out_of_scope=spec.out_of_scope,
        limitations=tuple(spec.limitations),
        owner=spec.owner,
    )


def _note(e: Evidence, text: str) -> Evidence:
    return replace(e, notes=(*e.notes, text))


def _store_missing(uri: str) -> bool:
    return uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file()


def _from_tracking(
    e: Evidence, ml: MltrackConfig, data_dir: Path, model: str | None, configs: list[TrainConfig]
) -> Evidence:
    from ragline.mltrack.tracking.experiments import Tracker
    from ragline.mltrack.tracking.registry import ModelRegistry

    tracker = Tracker(ml, data_dir)
    if _store_missing(tracker.store.uri):
        if model is not None:
            raise MltrackError(f"no registered model {model!r}: {tracker.store.uri} is empty")
        e = _from_config(e, configs[0]) if configs else e
        return _note(e, f"no tracking store at {tracker.store.uri}: train a model first")
    registry = ModelRegistry(ml, data_dir, store=tracker.store)
    try:
        model = model or _latest_model(registry)
        named = [c for c in configs if model and c.experiment.register_as == model]
        chosen = (named or configs)[:1]
        e = _from_config(e, chosen[0]) if chosen else e
        experiments = tracker.list(limit=1000)
        e = replace(e, model=model, experiments=sum(r.outcome is not None for r in experiments))
        run_id = experiments[0].run_id if experiments else None
        if model is not None:
            e, run_id = _from_registry(e, registry, tracker, model)
        return _from_run(e, tracker, run_id) if run_id else e
    except TrackingError as exc:
        return _note(e, f"tracking store unreadable: {exc}")
    finally:
        tracker.close()


def _latest_model(registry: ModelRegistry) -> str | None:
    from ragline.mltrack.tracking.audit import AUDIT

    query = sa.select(AUDIT.c.model).where(AUDIT.c.action == "register")
    with registry.store.engine(AUDIT.metadata).connect() as conn:
        return conn.execute(query.order_by(AUDIT.c.id.desc()).limit(1)).scalar()


def _from_registry(
    e: Evidence, registry: ModelRegistry, tracker: Tracker, model: str
) -> tuple[Evidence, str | None]:
    """Deployment facts from the audit log; returns the run to read (production's, else the
    newest version's)."""
    history, prod = registry.history(model), registry.current(model, "production")
    promotions = [h for h in history if h.action == "promote"]
    stack = production_stack(history)
    e = replace(
        e,
        promotions=len(promotions),
        forced_promotions=sum(h.reason.startswith("FORCED") for h in promotions),
        rollback_ready=len(stack) > 1 or any(h.action == "rollback" for h in history),
    )
    versions = registry.versions(model)
    if not versions:
        raise MltrackError(f"no registered model {model!r}; see `ragline ml list` for names")
    if prod is None:
        return e, versions[0].run_id if versions else None
    staged = any(h.to_stage == "staging" and h.version == prod.version for h in promotions)
    e = replace(e, production_version=prod.version, staged_before_production=staged)
    if prod.run_id and len(stack) > 1 and stack[-2] != prod.version:
        before = registry.version(model, stack[-2]).run_id
        if before:
            e = replace(e, beats_predecessor=_beats(tracker, prod.run_id, before))
    return e, prod.run_id


def _beats(tracker: Tracker, run_id: str, before_id: str) -> bool:
    from ragline.mltrack.tabular.config import MAXIMISED

    now, _ = tracker.for_run(run_id)
    old, _ = tracker.for_run(before_id)
    if now.outcome is None or old.outcome is None:
        return False
    primary, previous = now.outcome.primary, old.outcome.primary.value
    if primary.name in MAXIMISED:
        return primary.ci_low is not None and primary.ci_low > previous
    return primary.ci_high is not None and primary.ci_high < previous


def _from_run(e: Evidence, tracker: Tracker, run_id: str) -> Evidence:
    from ragline.mltrack.tabular.jobs import T_BEAT, T_LEAKAGE, T_QUALITY
    from ragline.mltrack.tracking.card import CardSpec

    record, tags = tracker.for_run(run_id)
    metrics = tracker.store.client.get_run(run_id).data.metrics
    card = CardSpec.from_params(record.plan.params)
    plan = record.plan  # train_job's stand-in for an unstated hypothesis is not one
    stated = plan.hypothesis if not plan.hypothesis.startswith(f"{plan.model_type} on ") else ""
    findings = tags.get(T_LEAKAGE)
    e = replace(
        e,
        experiment_hypothesis=stated or None,
        dataset_version=record.plan.dataset_version or None,
        quality_total=int(tags[T_QUALITY]) if T_QUALITY in tags else None,
        quality_forced=_flag(tags.get("ragline.quality.forced")),
        leakage_findings=tuple(json.loads(findings)) if findings is not None else None,
        beats_baseline=_flag(tags.get(T_BEAT)),
        calibration_measured=any(m.startswith("calibration.") for m in metrics),
        fairness_measured=any(m.startswith("fairness.") for m in metrics),
        card_fields_on_run=bool(card.intended_use and card.out_of_scope),
        intended_use=e.intended_use or card.intended_use,
        out_of_scope=e.out_of_scope or card.out_of_scope,
        limitations=e.limitations or card.limitations,
        owner=e.owner or card.owner,
        hypothesis=e.hypothesis or stated or None,
    )
    return _from_outcome(e, record)


def _flag(text: str | None) -> bool | None:
    return None if text is None else text == "True"


def _from_outcome(e: Evidence, record: ExperimentRecord) -> Evidence:
    outcome = record.outcome
    if outcome is None:
        return e
    primary, delta = outcome.primary, outcome.baseline
    return replace(
        e,
        primary_metric=e.primary_metric or primary.name,
        primary_ci=primary.ci_low is not None and primary.ci_high is not None,
        baseline_delta_ci=delta is not None and None not in (delta.ci_low, delta.ci_high),
        baseline=e.baseline or (delta.baseline_id if delta is not None else None),
        production_traced=e.production_version is not None,
    )


def _from_eval_runs(e: Evidence, runs: Path) -> Evidence:
    if not runs.is_file():
        return e
    lines = [line for line in runs.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        last = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        return _note(replace(e, eval_runs=len(lines)), f"{runs}: last line is not JSON")
    return replace(e, eval_runs=len(lines), eval_passed=last.get("passed") if lines else None)


def _from_ledger(e: Evidence, config: LedgerConfig, data_dir: Path, now: datetime) -> Evidence:
    from ragline.mltrack.costs.ledger import Ledger, LedgerError

    e = replace(e, budget_usd=config.monthly_budget_usd)
    if _store_missing(config.resolved_url(data_dir)):
        return _note(e, "no cost ledger yet: nothing has recorded costs")
    ledger = Ledger(config, data_dir)
    try:
        week = now - timedelta(days=7)
        events = sum(r.events for r in ledger.report(by="component"))
        recent = sum(r.events for r in ledger.report(since=week, by="component"))
        e = replace(
            e,
            ledger_events=events,
            recent_ledger_events=recent,
            cost_usd=ledger.total(),
            cost_per_1k=_plain(ledger.cost_per_1k("prediction")),
        )
        budget = config.monthly_budget_usd
        if budget is not None:
            e = replace(e, budget_level=ledger.budget_status(budget, now).level)
        return e
    except LedgerError as exc:
        return _note(e, f"cost ledger unreadable: {exc}")
    finally:
        ledger.close()


def _plain(amount: Decimal | None) -> Decimal | None:
    """`amount` without trailing zeros or an exponent: 0.002000000 -> 0.002, 1E+2 -> 100."""
    return None if amount is None else Decimal(f"{amount.normalize():f}")


def _from_monitoring_tables(e: Evidence, ml: MltrackConfig, data_dir: Path) -> Evidence:
    from ragline.mltrack.tracking.mlflow_store import MlflowStore

    url = MlflowStore(ml, data_dir).ledger_url
    if _store_missing(url):
        return e
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            drift = [n for n in names if n.startswith(DRIFT_PREFIX)]
            alerts = _rows(conn, ALERT_TABLE) if ALERT_TABLE in names else 0
            checks = sum(_rows(conn, n) for n in drift)
        return replace(e, alert_table=ALERT_TABLE in names, alert_rows=alerts, drift_checks=checks)
    except sa.exc.SQLAlchemyError as exc:
        return _note(e, f"monitoring tables unreadable: {type(exc).__name__}: {exc}")
    finally:
        engine.dispose()


def _rows(conn: sa.Connection, table: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar() or 0)
