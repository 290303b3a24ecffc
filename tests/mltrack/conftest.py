"""Real MLflow stores for mltrack's tests: SQLite in the test's tmp_path, and this machine's
PostgreSQL (schema ``ragline_mltrack_test`` of the ``test`` database), each test with its own
experiment and model names; plus a tiny real LightGBM model folder.

    def test_x(backend: Backend) -> None:            # runs once per store
        tracker = Tracker(backend.config, backend.data_dir)

Creating MLflow's schema takes seconds (dozens of migrations), so the SQLite schema is built once
per session and copied into each test's folder, and PostgreSQL's is built once per database
(under an advisory lock, so concurrent test sessions do not race on the migrations).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.tracking.artifacts import Feature, ModelArtifact
from ragline.mltrack.tracking.mlflow_store import MlflowStore
from tests.services import POSTGRES_URL, require

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

PG_SCHEMA = "ragline_mltrack_test"


@dataclass(frozen=True)
class Backend:
    """One test's tracking store: its config (unique experiment), folder and a name prefix."""

    kind: str
    config: MltrackConfig
    data_dir: Path
    prefix: str

    def model(self, name: str = "model") -> str:
        """A registered-model name no other test uses."""
        return f"{self.prefix}-{name}"


def postgres_tracking_uri() -> str:
    """This machine's PostgreSQL as an MLflow tracking URI (psycopg 3, the test schema)."""
    url = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite database with the full schema, built once per session."""
    folder = tmp_path_factory.mktemp("mlflow-template")
    store = MlflowStore(MltrackConfig(), folder)
    store.client.search_experiments(max_results=1)  # runs MLflow's migrations
    store.close()
    return folder / "mlflow.db"


@pytest.fixture(scope="session")
def postgres_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The PostgreSQL tracking URI, with the schema and MLflow's tables in place."""
    parsed = urlparse(POSTGRES_URL)
    require("PostgreSQL", parsed.hostname or "127.0.0.1", parsed.port or 5432)
    uri = postgres_tracking_uri()
    engine = sa.create_engine(uri)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(7246810)"))  # one session migrates
        conn.commit()
        try:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}"))
            conn.commit()
            store = MlflowStore(MltrackConfig(tracking_uri=uri), tmp_path_factory.mktemp("pg"))
            store.client.search_experiments(max_results=1)  # runs MLflow's migrations once
            store.close()
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(7246810)"))
            conn.commit()
    engine.dispose()
    return uri


def _sqlite_backend(template: Path, tmp_path: Path, prefix: str) -> Backend:
    shutil.copyfile(template, tmp_path / "mlflow.db")
    return Backend("sqlite", MltrackConfig(experiment=prefix), tmp_path, prefix)


@pytest.fixture
def sqlite_backend(sqlite_template: Path, tmp_path: Path) -> Backend:
    """A SQLite tracking store in this test's tmp_path."""
    return _sqlite_backend(sqlite_template, tmp_path, f"t{uuid.uuid4().hex[:10]}")


def _cleanup_postgres(backend: Backend) -> None:
    """Delete this test's models and experiment, and its rows in mltrack's tables (the shared
    test database would otherwise grow with every run; the code itself never deletes them, and
    the audit table's triggers refuse it)."""
    from mlflow.exceptions import MlflowException

    store = MlflowStore(backend.config, backend.data_dir)
    client, like = store.client, f"{backend.prefix}-%"
    for model in client.search_registered_models(f"name LIKE '{like}'"):
        client.delete_registered_model(model.name)
    experiment = client.get_experiment_by_name(backend.prefix)
    if experiment is not None:
        with contextlib.suppress(MlflowException):  # the test may have deleted it already
            client.delete_experiment(experiment.experiment_id)
    engine = sa.create_engine(store.ledger_url)
    with engine.begin() as conn:
        # the audit table's triggers refuse DELETE; replica mode skips them for this
        # transaction only (the test user is a superuser), and each model's chain is its own
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for table, column, value in (
            ("ragline_registry_audit", "model", like),
            ("ragline_experiment_ids", "experiment", backend.prefix),
        ):
            if sa.inspect(conn).has_table(table):
                conn.execute(sa.text(f"DELETE FROM {table} WHERE {column} LIKE :v"), {"v": value})
    engine.dispose()
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each test using it runs on SQLite and on PostgreSQL."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        yield _sqlite_backend(request.getfixturevalue("sqlite_template"), tmp_path, prefix)
        return
    uri = request.getfixturevalue("postgres_uri")
    config = MltrackConfig(tracking_uri=uri, experiment=prefix, artifact_root=tmp_path / "art")
    backend = Backend("postgresql", config, tmp_path, prefix)
    yield backend
    _cleanup_postgres(backend)


def write_tiny_model(folder: Path) -> Path:
    """A real LightGBM booster (3 trees on 2 features) saved as text in `folder`, with its
    model.json; for tests outside this folder that cannot use the `model_folder` fixture."""
    import lightgbm as lgb
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((80, 2))
    y = (x[:, 0] + 0.1 * rng.random(80) > 0.5).astype(float)
    params = {"objective": "binary", "verbosity": -1, "num_leaves": 4, "deterministic": True}
    data = lgb.Dataset(x, y, feature_name=["tenure", "spend"])
    booster = lgb.train(params, data, num_boost_round=3)
    folder.mkdir(parents=True)
    booster.save_model(str(folder / "model.txt"))
    signature = (Feature("tenure", "float64"), Feature("spend", "float64"))
    ModelArtifact(folder, "lightgbm-text", signature, "churned", (0, 1)).write_metadata()
    return folder


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real LightGBM booster (3 trees on 2 features) saved as text, with its model.json."""
    return write_tiny_model(tmp_path_factory.mktemp("lgb") / "model")
