"""Retraining: decide when a production model is due, train a candidate, gate it, record it all.

    policy = RetrainPolicy(model="adult-income", config=Path("configs/ml/adult.yaml"),
                           schedule_days=30, min_primary=0.85, drift_features=("age",))
    triggers = check_triggers(policy, now, performance=0.83, drift_severity_by_feature={})
    outcome = retrain(policy, triggers[0], MltrackConfig(), Path(".ragline"),
                      recent_data=Path("data/last_30_days.csv"), out_dir=Path("out/retrain"))
    outcome.promoted_to, outcome.archived      # "staging", None  or  None, "refused by ..."

Triggers (`check_triggers`, pure): ``scheduled`` when the production version's training run is
older than `schedule_days` (no production version: no scheduled trigger, there is nothing to
refresh); ``performance`` when the measured primary metric is worse than `min_primary`;
``drift`` when a feature in `drift_features` drifted ``critical``.

`retrain` trains with the production config (`policy.config`, its data pointed at `recent_data` when
given, registered as `policy.model`) through `ragline.mltrack.tabular.jobs.train_job`, then promotes
the new version to staging through `ragline.mltrack.tabular.jobs.promote_job`. A candidate the gates
refuse is archived: its experiment is marked ``archived`` and the registry takes the version out
of development (`ModelRegistry.archive`, audited), so it keeps no stage; a human or a later job
promotes a staged candidate to production.

Every retrain appends to ``ragline_retrain_log`` (in mltrack's tables, next to the registry's
audit log): a ``started`` row when training begins and one row with the outcome (``staged``,
``archived`` or ``failed``), both naming the trigger. Rows are inserted, never updated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import GateRefused, MltrackError
from ragline.mltrack.monitor.config import RetrainPolicy
from ragline.mltrack.tabular.config import TrainConfig, load_train_config
from ragline.mltrack.tabular.jobs import TrainOutcome, promote_job, train_job
from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker
from ragline.mltrack.tracking.mlflow_store import MlflowStore
from ragline.mltrack.tracking.registry import ModelRegistry, Stage

TriggerKind = Literal["scheduled", "performance", "drift"]
RetrainResult = Literal["started", "staged", "archived", "failed"]

_META = sa.MetaData()
RETRAIN_LOG = sa.Table(
    "ragline_retrain_log",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("model", sa.String(256), nullable=False, index=True),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("experiment", sa.String(64)),
    sa.Column("version", sa.Integer),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Trigger:
    """Why a retrain starts.

    Example:
        >>> Trigger("drift", "age drifted critical").kind
        'drift'
    """

    kind: TriggerKind
    reason: str


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """What one `retrain` did: the experiment, the new version and where it went.

    Example:
        >>> RetrainOutcome(Trigger("scheduled", "31 days old"), "EXP-2026-11-26-002", 4,
        ...                "staging", None).summary()
        'scheduled: EXP-2026-11-26-002 -> version 4 in staging'
    """

    trigger: Trigger
    experiment_id: str | None
    version: int | None
    promoted_to: Stage | None
    archived: str | None

    def summary(self) -> str:
        """One line for logs and alert records."""
        head = f"{self.trigger.kind}: {self.experiment_id} -> version {self.version}"
        if self.promoted_to is not None:
            return f"{head} in {self.promoted_to}"
        first_line = next(iter((self.archived or "").splitlines()), "")
        return f"{head} archived ({first_line})"


@dataclass(frozen=True, slots=True)
class RetrainLogEntry:
    """One row of ``ragline_retrain_log``."""

    id: int
    ts: datetime
    model: str
    trigger: str
    reason: str
    experiment: str | None
    version: int | None
    outcome: str
    detail: str


def check_triggers(
    policy: RetrainPolicy,
    now: datetime,
    performance: float | None,
    drift_severity_by_feature: Mapping[str, str],
    *,
    production_trained_at: datetime | None = None,
) -> list[Trigger]:
    """The triggers that hold now (pure); empty when the model is fine.

    Example:
        >>> p = RetrainPolicy(model="m", config=Path("m.yaml"), min_primary=0.85,
        ...                   drift_features=("age",))
        >>> now = datetime(2026, 11, 26, tzinfo=UTC)
        >>> [t.kind for t in check_triggers(p, now, 0.80, {"age": "critical"})]
        ['performance', 'drift']
    """
    found: list[Trigger] = []
    if policy.schedule_days is not None and production_trained_at is not None:
        age = now - production_trained_at
        if age > timedelta(days=policy.schedule_days):
            days = age.total_seconds() / 86400
            found.append(
                Trigger(
                    "scheduled",
                    f"production trained {days:.1f} days ago "
                    f"(schedule {policy.schedule_days:g} days)",
                )
            )
    if policy.min_primary is not None and performance is not None:
        worse = (
            performance < policy.min_primary
            if policy.primary_higher_is_better
            else performance > policy.min_primary
        )
        if worse:
            found.append(
                Trigger(
                    "performance",
                    f"primary metric {performance:.4f} is worse than the "
                    f"floor {policy.min_primary:.4f}",
                )
            )
    drifted = [f for f in policy.drift_features if drift_severity_by_feature.get(f) == "critical"]
    if drifted:
        found.append(Trigger("drift", f"critical drift on {', '.join(drifted)}"))
    return found


def production_trained_at(name: str, ml: MltrackConfig, data_dir: Path) -> datetime | None:
    """When the production version of `name` started training; None without production."""
    store = MlflowStore(ml, data_dir)
    try:
        info = ModelRegistry(ml, data_dir, store=store).current(name, "production")
        if info is None or info.run_id is None:
            return None
        record, _ = Tracker(ml, data_dir, store=store).for_run(info.run_id)
        return record.started_at
    finally:
        store.close()


def recent_config(policy: RetrainPolicy, recent_data: Path | None) -> TrainConfig:
    """The production config, registered as `policy.model`, on `recent_data` when given."""
    config = load_train_config(policy.config)
    experiment = config.experiment.model_copy(update={"register_as": policy.model})
    update: dict[str, object] = {"experiment": experiment}
    if recent_data is not None:
        update["data"] = config.data.model_copy(update={"path": recent_data})
    return config.model_copy(update=update)


def retrain(
    policy: RetrainPolicy,
    trigger: Trigger,
    ml: MltrackConfig,
    data_dir: Path,
    recent_data: Path | None,
    out_dir: Path,
) -> RetrainOutcome:
    """Train a candidate for `trigger` and promote it to staging, or archive it when a gate
    refuses; training failures (quality, leakage, data) are recorded and re-raised."""
    log = RetrainLog(ml, data_dir)
    try:
        data = recent_data or "the config's data"
        log.append(policy.model, trigger, "started", f"training {policy.config} on {data}")
        try:
            outcome = train_job(recent_config(policy, recent_data), ml, data_dir, out_dir)
        except MltrackError as exc:
            log.append(policy.model, trigger, "failed", f"{type(exc).__name__}: {exc}")
            raise
        result = _gate(policy, trigger, outcome, ml, data_dir)
        kind: RetrainResult = "staged" if result.promoted_to else "archived"
        detail = result.archived or f"version {result.version} promoted to staging"
        log.append(policy.model, trigger, kind, detail, result.experiment_id, result.version)
        return result
    finally:
        log.close()


def _gate(
    policy: RetrainPolicy,
    trigger: Trigger,
    trained: TrainOutcome,
    ml: MltrackConfig,
    data_dir: Path,
) -> RetrainOutcome:
    """Promote the trained version to staging; archive the version and its experiment when
    refused."""
    version = trained.version.version if trained.version is not None else None
    if version is None:
        findings = "; ".join(str(f) for f in trained.leakage.findings)
        reason = f"not registered: leakage found ({findings})"
    else:
        try:
            promote_job(policy.model, version, "staging", ml, data_dir)
            return RetrainOutcome(trigger, trained.experiment_id, version, "staging", None)
        except GateRefused as exc:
            reason = str(exc)
    store = MlflowStore(ml, data_dir)
    try:
        if version is not None:  # what the summary says "archived" is archived in the registry
            plan = ExperimentPlan("", "", "")  # only for the actor and command
            first_line = next(iter(reason.splitlines()), reason)
            registry = ModelRegistry(ml, data_dir, store=store)
            registry.archive(policy.model, version, actor=plan.actor, reason=first_line)
        tracker = Tracker(ml, data_dir, store=store)
        record, _ = tracker.for_run(trained.run_id)
        tracker.set_verdict(record, "archived")
    finally:
        store.close()
    return RetrainOutcome(trigger, trained.experiment_id, version, None, reason)


class RetrainLog:
    """The append-only ``ragline_retrain_log`` of one tracking store.

    Example:
        >>> log = RetrainLog(MltrackConfig(), Path(".ragline"))  # opens nothing yet
        >>> [(e.trigger, e.outcome) for e in log.entries("churn")]  # doctest: +SKIP
        [('drift', 'started'), ('drift', 'staged')]
    """

    def __init__(
        self, config: MltrackConfig, data_dir: Path, *, store: MlflowStore | None = None
    ) -> None:
        self.store = store or MlflowStore(config, data_dir)

    def append(
        self,
        model: str,
        trigger: Trigger,
        outcome: RetrainResult,
        detail: str,
        experiment: str | None = None,
        version: int | None = None,
    ) -> None:
        """Insert one row (never updates)."""
        row = {
            "ts": datetime.now(UTC),
            "model": model,
            "trigger": trigger.kind,
            "reason": trigger.reason,
            "experiment": experiment,
            "version": version,
            "outcome": outcome,
            "detail": detail,
        }
        with (
            self.store.errors("appending to the retrain log"),
            self.store.engine(_META).begin() as conn,
        ):
            conn.execute(RETRAIN_LOG.insert().values(**row))

    def entries(self, model: str) -> tuple[RetrainLogEntry, ...]:
        """Every row of `model`, oldest first (timestamps in UTC)."""
        query = sa.select(RETRAIN_LOG).where(RETRAIN_LOG.c.model == model)
        with (
            self.store.errors("reading the retrain log"),
            self.store.engine(_META).connect() as conn,
        ):
            rows = conn.execute(query.order_by(RETRAIN_LOG.c.id)).mappings().all()
        return tuple(
            RetrainLogEntry(**(dict(r) | {"ts": r["ts"].replace(tzinfo=r["ts"].tzinfo or UTC)}))
            for r in rows
        )

    def close(self) -> None:
        """Release mltrack's database connections."""
        self.store.close()
