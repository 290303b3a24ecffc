"""The registry's audit log: append-only in the database, and hash-chained so an edit shows.

    ensure_audit(engine)                          # table, chain columns, triggers (idempotent)
    append_rows(engine, [audit_row("churn", 1, None, "development", "register", by, "why")])
    report = verify_chain(engine)                 # report.broken is None while nothing was edited
    report.broken.row_id, report.broken.problem   # the first row that does not add up

Two defences, so that neither a bug nor a hurried operator rewrites history:

- the database refuses UPDATE and DELETE on ``ragline_registry_audit`` (SQLite: two ``BEFORE``
  triggers that abort; PostgreSQL: a row trigger that raises, and a statement trigger for
  TRUNCATE). Other databases get no trigger; the chain still shows an edit there.
- each row stores ``prev_hash`` (the hash of the previous row of the same model, ``""`` for its
  first) and ``row_hash``, the SHA-256 of ``prev_hash`` and the row's fields (its time to the
  second: MySQL keeps no fractions). `verify_chain` recomputes both in id order and names the
  first row whose hash or link does not match. A unique index on (model, prev_hash) refuses a
  fork when two writers append to one model at once; the loser re-reads the chain and retries.

A chain per model keeps one model's history checkable on its own (``ragline ml audit verify
--model NAME``). A table written before the chain existed is upgraded the first time
`ensure_audit` opens it: the two columns are added, its rows hashed in id order, then the
index and triggers are created.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa

from ragline.mltrack.errors import TrackingError

# canary-*: the steps of a gradual rollout (`ragline.mltrack.rollout`); the alias moves only
# when one ends in production, with an ordinary "promote" row; pipeline/approve: a pipeline
# stage's outcome and a person's approval (`ragline.mltrack.pipeline`), moving nothing
Action = Literal[
    "register",
    "promote",
    "refuse",
    "rollback",
    "archive",
    "canary-start",
    "canary-advance",
    "canary-rollback",
    "canary-abort",
    "pipeline",
    "approve",
]
TABLE = "ragline_registry_audit"
_CHAIN_INDEX = "ux_ragline_registry_audit_chain"
_FIELDS = ("model", "version", "from_stage", "to_stage", "action", "actor", "command", "reason")
_APPEND_ATTEMPTS = 20

AUDIT_METADATA = sa.MetaData()
AUDIT = sa.Table(
    TABLE,
    AUDIT_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(256), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("from_stage", sa.String(16)),
    sa.Column("to_stage", sa.String(16)),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("command", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False, server_default=""),
    sa.Column("row_hash", sa.String(64), nullable=False, server_default=""),
    sa.Index(_CHAIN_INDEX, "model", "prev_hash", unique=True),
)

_SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{op.lower()} BEFORE {op} ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {op} refused'); END"
    for op in ("UPDATE", "DELETE")
)
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {TABLE}_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION USING MESSAGE = '{TABLE} is append-only: ' || TG_OP || ' refused';
END $$
"""
_PG_TRIGGER = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{name}'
                 AND tgrelid = '{table}'::regclass) THEN
    CREATE TRIGGER {name} BEFORE {ops} ON {table} FOR EACH {each}
    EXECUTE FUNCTION {table}_refuse();
  END IF;
END $$
"""
_PG_TRIGGERS = (
    _PG_TRIGGER.format(
        name=f"{TABLE}_append_only", table=TABLE, ops="UPDATE OR DELETE", each="ROW"
    ),
    _PG_TRIGGER.format(name=f"{TABLE}_no_truncate", table=TABLE, ops="TRUNCATE", each="STATEMENT"),
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log: who moved which version from which stage to which, and why.

    Example:
        >>> [(e.action, e.version, e.to_stage) for e in registry.history("churn")]  # doctest: +SKIP
        [('register', 1, 'development'), ('promote', 1, 'staging'), ...]
    """

    id: int
    model: str
    version: int
    from_stage: str | None
    to_stage: str | None
    action: str
    actor: str
    command: str
    reason: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class BrokenRow:
    """The first audit row whose link or hash does not match, and what is wrong with it."""

    row_id: int
    model: str
    version: int
    action: str
    problem: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What `verify_chain` checked; ``broken`` is None when every row adds up.

    Example:
        >>> ChainReport(rows=12, models=2, broken=None).intact
        True
    """

    rows: int
    models: int
    broken: BrokenRow | None

    @property
    def intact(self) -> bool:
        """True when no row was altered, and none removed from inside a chain."""
        return self.broken is None


@dataclass(frozen=True, slots=True)
class By:
    """Who acts, and the command line they ran: ``By("ana", "ragline ml promote churn 3")``."""

    actor: str
    command: str


def audit_row(
    name: str,
    version: int,
    from_stage: str | None,
    to_stage: str | None,
    action: Action,
    by: By,
    reason: str,
) -> dict[str, object]:
    """A row to append, stamped now (UTC); `append_rows` adds its chain hashes."""
    return {
        "model": name,
        "version": version,
        "from_stage": from_stage,
        "to_stage": to_stage,
        "action": action,
        "actor": by.actor,
        "command": by.command,
        "reason": reason,
        "ts": datetime.now(UTC),
    }


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=ts.tzinfo or UTC).astimezone(UTC)  # SQLite drops the zone


def row_hash(prev_hash: str, row: Mapping[str, object]) -> str:
    """The SHA-256 (hex) of `prev_hash` and `row`'s fields, its time to the second.

    Example:
        >>> row = {"model": "m", "version": 1, "from_stage": None, "to_stage": "development",
        ...        "action": "register", "actor": "ana", "command": "c", "reason": "r",
        ...        "ts": datetime(2026, 11, 26, tzinfo=UTC)}
        >>> row_hash("", row) == row_hash("", row | {"ts": datetime(2026, 11, 26)})
        True
    """
    ts = row["ts"]
    if not isinstance(ts, datetime):
        raise TypeError(f"audit row time must be a datetime, got {type(ts).__name__}")
    fields = [prev_hash, *(row[f] for f in _FIELDS), _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")]
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _last_hash(conn: sa.Connection, model: str) -> str:
    query = sa.select(AUDIT.c.row_hash).where(AUDIT.c.model == model)
    return conn.execute(query.order_by(AUDIT.c.id.desc()).limit(1)).scalar() or ""


def _chained(conn: sa.Connection, rows: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    last: dict[str, str] = {}
    out: list[dict[str, object]] = []
    for row in rows:
        model = str(row["model"])
        prev = last[model] if model in last else _last_hash(conn, model)
        last[model] = row_hash(prev, dict(row))
        out.append({**row, "prev_hash": prev, "row_hash": last[model]})
    return out


def append_rows(engine: sa.Engine, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert `rows` in one transaction, each chained to its model's last row."""
    for _ in range(_APPEND_ATTEMPTS):
        try:
            with engine.begin() as conn:
                conn.execute(AUDIT.insert(), _chained(conn, rows))
            return
        except sa.exc.IntegrityError:  # a concurrent writer extended the chain first
            continue
    raise TrackingError(
        f"could not append to {TABLE} after {_APPEND_ATTEMPTS} tries: other writers keep "
        "extending the same model's chain; retry"
    )


def verify_chain(engine: sa.Engine, model: str | None = None) -> ChainReport:
    """Recompute every chain (or `model`'s) in id order; the first mismatch is `broken`."""
    query = sa.select(AUDIT).order_by(AUDIT.c.id)
    if model is not None:
        query = query.where(AUDIT.c.model == model)
    expected: dict[str, tuple[str, int | None]] = {}  # model -> (last hash, its row id)
    count = 0
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            count += 1
            prev, prev_id = expected.get(row["model"], ("", None))
            problem = None
            if row["prev_hash"] != prev:
                after = "it is the model's first row" if prev_id is None else f"row {prev_id}"
                problem = (
                    f"its prev_hash does not match {after}: a row before it was removed or altered"
                )
            elif row["row_hash"] != row_hash(prev, dict(row)):
                problem = "its fields no longer match its hash: the row was altered"
            if problem is not None:
                broken = BrokenRow(row["id"], row["model"], row["version"], row["action"], problem)
                return ChainReport(count, len(expected) + 1, broken)
            expected[row["model"]] = (row["row_hash"], row["id"])
    return ChainReport(count, len(expected), None)


def ensure_audit(engine: sa.Engine) -> None:
    """Give an existing audit table the chain columns (hashing its rows) and the triggers."""
    columns = {c["name"] for c in sa.inspect(engine).get_columns(TABLE)}
    dialect = engine.dialect.name
    with engine.begin() as conn:
        if "row_hash" not in columns:
            _add_chain(conn)
        if dialect == "sqlite":
            for ddl in _SQLITE_TRIGGERS:
                conn.exec_driver_sql(ddl)
        elif dialect == "postgresql":
            for ddl in (_PG_FUNCTION, *_PG_TRIGGERS):
                conn.exec_driver_sql(ddl)


def _add_chain(conn: sa.Connection) -> None:
    """Upgrade a table from before the chain: add the columns, hash the rows in id order."""
    for column in ("prev_hash", "row_hash"):
        conn.exec_driver_sql(f"ALTER TABLE {TABLE} ADD COLUMN {column} VARCHAR(64) DEFAULT ''")
    last: dict[str, str] = {}
    rows = conn.execute(sa.select(AUDIT).order_by(AUDIT.c.id)).mappings().all()
    for row in rows:
        prev = last.get(row["model"], "")
        last[row["model"]] = row_hash(prev, dict(row))
        update = AUDIT.update().where(AUDIT.c.id == row["id"])
        conn.execute(update.values(prev_hash=prev, row_hash=last[row["model"]]))
    chain = next(i for i in AUDIT.indexes if i.name == _CHAIN_INDEX)
    conn.execute(sa.schema.CreateIndex(chain))
