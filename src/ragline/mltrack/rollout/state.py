"""Where rollouts live: one row per rollout in ``ragline_rollouts``, in the registry's database.

    store = RolloutStore(registry.store)               # the MLflow tracking DB, as the audit
    state = store.insert(RolloutState("churn", 4, 3, 5, "running", "", ("start 5%",)))
    store.latest("churn")                              # what every replica and the CLI see
    store.replace(state, dataclasses.replace(state, percent=25))   # None: someone moved first

Several `ragline serve` replicas and the CLI share one state through the database. A change is
a compare-and-set on the row's ``revision`` (UPDATE ... WHERE revision = n): when two replicas
judge the same canary at once, one UPDATE matches and the other gets None, re-reads, and sees
the winner's decision, as the RAG canary's SET NX does in Redis. The history of steps is in the
row (and, append-only, in the registry's audit log).

Each server replica also publishes what its windows hold (``ragline_rollout_signals``: one row per
rollout, replica and role, replaced every few seconds), so `ragline ml rollout status` can show
requests, errors, p95 and KL from another process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Literal, get_args

import sqlalchemy as sa

from ragline.mltrack.errors import TrackingError
from ragline.mltrack.tracking.mlflow_store import MlflowStore

Status = Literal["running", "promoted", "rolled_back", "aborted"]
STATUSES: tuple[Status, ...] = get_args(Status)

METADATA = sa.MetaData()
ROLLOUTS = sa.Table(
    "ragline_rollouts",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(256), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("production_version", sa.Integer),
    sa.Column("percent", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("steps", sa.Text, nullable=False),  # JSON list of strings
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
)


SIGNALS = sa.Table(
    "ragline_rollout_signals",
    METADATA,
    sa.Column("rollout_id", sa.Integer, primary_key=True),
    sa.Column("replica", sa.String(128), primary_key=True),
    sa.Column("role", sa.String(16), primary_key=True),  # canary | production
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("percent", sa.Integer, nullable=False),
    sa.Column("requests", sa.Integer, nullable=False),
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("p95_ms", sa.Float),
    sa.Column("kl", sa.Float),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class SignalReport:
    """What one replica's window held for one role of a rollout, when it last published.

    Example:
        >>> SignalReport("host:41", "canary", 4, 25, 212, 1, 3.1, 0.02, datetime.now(UTC)).role
        'canary'
    """

    replica: str
    role: str
    version: int
    percent: int
    requests: int
    errors: int
    p95_ms: float | None
    kl: float | None
    updated: datetime


@dataclass(frozen=True)
class RolloutState:
    """One rollout: the canary `version` of `name` against `production_version`, its percent
    of callers, where it stands and every step so far (oldest first).

    Example:
        >>> RolloutState("churn", 4, 3, 25, "running", "", ("start 5%", "advance 5% -> 25%"))
        ... .percent
        25

    `id` and `revision` are the store's (0 before it is stored).
    """

    name: str
    version: int
    production_version: int | None
    percent: int
    status: Status
    reason: str
    steps: tuple[str, ...]
    id: int = 0
    revision: int = 0

    @property
    def running(self) -> bool:
        return self.status == "running"


def _state(row: sa.RowMapping) -> RolloutState:
    status = str(row["status"])
    if status not in STATUSES:
        raise TrackingError(f"ragline_rollouts row {row['id']} has unknown status {status!r}")
    return RolloutState(
        name=str(row["model"]),
        version=int(row["version"]),
        production_version=row["production_version"],
        percent=int(row["percent"]),
        status=status,  # checked against STATUSES just above
        reason=str(row["reason"]),
        steps=tuple(json.loads(row["steps"])),
        id=int(row["id"]),
        revision=int(row["revision"]),
    )


def _values(state: RolloutState) -> dict[str, object]:
    return {
        "model": state.name,
        "version": state.version,
        "production_version": state.production_version,
        "percent": state.percent,
        "status": state.status,
        "reason": state.reason,
        "steps": json.dumps(list(state.steps)),
        "updated": datetime.now(UTC),
    }


class RolloutStore:
    """The rollouts table on mltrack's engine (created on first use).

    Example:
        >>> store = RolloutStore(ModelRegistry(config, data_dir).store)  # doctest: +SKIP
        >>> store.latest("churn").status  # doctest: +SKIP
        'running'
    """

    def __init__(self, store: MlflowStore) -> None:
        self._store = store

    def _engine(self) -> sa.Engine:
        return self._store.engine(METADATA)

    def latest(self, name: str) -> RolloutState | None:
        """The newest rollout of `name`, whatever its status; None when it never had one."""
        query = sa.select(ROLLOUTS).where(ROLLOUTS.c.model == name)
        query = query.order_by(ROLLOUTS.c.id.desc()).limit(1)
        with self._store.errors(f"reading the rollout of {name}"), self._engine().connect() as c:
            row = c.execute(query).mappings().first()
        return None if row is None else _state(row)

    def running(self) -> tuple[RolloutState, ...]:
        """Every running rollout (one per model at most)."""
        query = sa.select(ROLLOUTS).where(ROLLOUTS.c.status == "running")
        with self._store.errors("reading running rollouts"), self._engine().connect() as c:
            rows = c.execute(query.order_by(ROLLOUTS.c.id)).mappings().all()
        return tuple(_state(r) for r in rows)

    def insert(self, state: RolloutState) -> RolloutState:
        """Store a new rollout; returns it with its id and revision 1."""
        insert = ROLLOUTS.insert().values(**_values(state), revision=1)
        with (
            self._store.errors(f"starting the rollout of {state.name}"),
            self._engine().begin() as conn,
        ):
            key = conn.execute(insert).inserted_primary_key
        if key is None:  # pragma: no cover - every dialect we support returns it
            raise TrackingError("the database returned no id for the new rollout; retry")
        return replace(state, id=int(key[0]), revision=1)

    def replace(self, old: RolloutState, new: RolloutState) -> RolloutState | None:
        """Write `new` over `old` when the row is still at `old`'s revision; None when another
        writer changed it first (re-read with `latest`)."""
        update = (
            ROLLOUTS.update()
            .where(ROLLOUTS.c.id == old.id, ROLLOUTS.c.revision == old.revision)
            .values(**_values(new), revision=old.revision + 1)
        )
        with (
            self._store.errors(f"updating the rollout of {old.name}"),
            self._engine().begin() as conn,
        ):
            changed = conn.execute(update).rowcount
        return replace(new, id=old.id, revision=old.revision + 1) if changed == 1 else None

    def publish(self, state: RolloutState, reports: list[SignalReport]) -> None:
        """Replace this replica's rows of `state` with `reports` (one per role)."""
        rows = [
            {"rollout_id": state.id, **{f: getattr(r, f) for f in _REPORT_FIELDS}} for r in reports
        ]
        replicas = {r.replica for r in reports}
        delete = SIGNALS.delete().where(
            SIGNALS.c.rollout_id == state.id, SIGNALS.c.replica.in_(replicas)
        )
        with (
            self._store.errors(f"publishing the signals of {state.name}'s rollout"),
            self._engine().begin() as conn,
        ):
            conn.execute(delete)
            if rows:
                conn.execute(SIGNALS.insert(), rows)

    def reports(self, state: RolloutState) -> tuple[SignalReport, ...]:
        """Every replica's last published signals of `state`, by replica and role."""
        query = sa.select(SIGNALS).where(SIGNALS.c.rollout_id == state.id)
        query = query.order_by(SIGNALS.c.replica, SIGNALS.c.role)
        with (
            self._store.errors(f"reading the signals of {state.name}"),
            self._engine().connect() as c,
        ):
            rows = c.execute(query).mappings().all()
        return tuple(
            SignalReport(**{f: r[f] for f in _REPORT_FIELDS} | {"updated": _utc(r["updated"])})
            for r in rows
        )


_REPORT_FIELDS = tuple(f.name for f in fields(SignalReport))


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=ts.tzinfo or UTC)  # SQLite drops the zone; written in UTC
