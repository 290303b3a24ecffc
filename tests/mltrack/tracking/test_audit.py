"""The registry's audit log on real stores: the database itself refuses UPDATE and DELETE
(SQLite and PostgreSQL triggers), every row is hash-chained, and an edit made around the
triggers is found and named; a table from before the chain is upgraded in place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from ragline.mltrack.tracking.audit import TABLE, By, audit_row, row_hash
from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker
from ragline.mltrack.tracking.registry import ModelRegistry
from tests.mltrack.conftest import Backend

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*"),
]
PLAN = ExperimentPlan("tiny churn model", "sha256:0", "lightgbm", ("tenure", "spend"), actor="ana")


@pytest.fixture
def registry(backend: Backend) -> Iterator[ModelRegistry]:
    registry = ModelRegistry(backend.config, backend.data_dir)
    yield registry
    registry.close()


def three_rows(registry: ModelRegistry, backend: Backend, model_folder: Path) -> str:
    """Register two versions of a fresh model (three audit rows); its name."""
    with Tracker(backend.config, backend.data_dir) as tracker, tracker.start_run(PLAN) as run:
        pass
    name = backend.model()
    for _ in range(2):
        registry.register(name, model_folder, run_id=run.run_id, actor="ana", command="t")
    return name


def engine_of(registry: ModelRegistry) -> sa.Engine:
    return registry.store.engine(sa.MetaData())


def test_the_database_refuses_update_and_delete(
    registry: ModelRegistry, backend: Backend, model_folder: Path
) -> None:
    name = three_rows(registry, backend, model_folder)
    before = registry.history(name)
    assert [e.action for e in before] == ["register", "archive", "register"]
    engine = engine_of(registry)
    for statement in (
        f"UPDATE {TABLE} SET reason = 'nothing happened' WHERE model = :m",
        f"DELETE FROM {TABLE} WHERE model = :m",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement), {"m": name})
    assert registry.history(name) == before
    report = registry.verify_audit(name)
    assert (report.intact, report.rows, report.models) == (True, 3, 1)


def test_verify_names_the_first_altered_or_removed_row(
    registry: ModelRegistry, backend: Backend, model_folder: Path
) -> None:
    name = three_rows(registry, backend, model_folder)
    ids = [e.id for e in registry.history(name)]
    engine = engine_of(registry)

    def behind_the_triggers(statement: str, row: int) -> None:
        with engine.begin() as conn:
            if backend.kind == "sqlite":  # the test's own file: drop the triggers outright
                for op in ("update", "delete"):
                    conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {TABLE}_no_{op}"))
            else:  # the shared database: skip triggers in this transaction only
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text(statement), {"id": row})

    behind_the_triggers(f"UPDATE {TABLE} SET actor = 'mallory' WHERE id = :id", ids[1])
    broken = registry.verify_audit(name).broken
    assert broken is not None and (broken.row_id, broken.model) == (ids[1], name)
    assert "fields no longer match its hash" in broken.problem

    behind_the_triggers(f"DELETE FROM {TABLE} WHERE id = :id", ids[1])
    broken = registry.verify_audit(name).broken
    assert broken is not None and broken.row_id == ids[2]
    assert f"does not match row {ids[0]}" in broken.problem


def test_a_table_from_before_the_chain_is_upgraded(sqlite_backend: Backend) -> None:
    engine = sa.create_engine(f"sqlite:///{sqlite_backend.data_dir / 'mlflow.db'}")
    legacy = sa.MetaData()
    table = sa.Table(
        TABLE,
        legacy,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        *(sa.Column(c, sa.Text) for c in ("model", "from_stage", "to_stage", "action")),
        *(sa.Column(c, sa.Text) for c in ("actor", "command", "reason")),
        sa.Column("version", sa.Integer),
        sa.Column("ts", sa.DateTime(timezone=True)),
    )
    legacy.create_all(engine)
    rows = [
        audit_row("old", v, None, "development", "register", By("ana", "c"), "r") for v in (1, 2)
    ]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()

    registry = ModelRegistry(sqlite_backend.config, sqlite_backend.data_dir)
    try:
        report = registry.verify_audit()
        assert (report.intact, report.rows) == (True, 2)
        refused = pytest.raises(sa.exc.DBAPIError, match="append-only")
        with refused, engine_of(registry).begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {TABLE}"))
    finally:
        registry.close()


@pytest.mark.unit
def test_the_hash_covers_every_field_and_the_link() -> None:
    row = audit_row("m", 1, None, "development", "register", By("ana", "c"), "r")
    row["ts"] = datetime(2026, 11, 26, 12, 0, 0, 250_000, tzinfo=UTC)
    first = row_hash("", row)
    assert len(first) == 64 and row_hash("", row) == first
    assert row_hash("0" * 64, row) != first
    for key, value in (("version", 2), ("actor", "bob"), ("reason", "r2"), ("to_stage", None)):
        assert row_hash("", row | {key: value}) != first, key
