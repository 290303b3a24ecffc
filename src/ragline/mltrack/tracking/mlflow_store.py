"""One tracking store: an MLflow client plus mltrack's own tables, opened lazily.

    store = MlflowStore(MltrackConfig(), Path(".ragline"))   # cheap: nothing is opened yet
    store.client.search_runs([...])                          # MLflow (tracking + registry)
    engine = store.engine(metadata)                          # mltrack's tables, created once
    store.close()

mltrack's tables (experiment ids, the registry's audit log) live in the tracking database when it
is one SQLAlchemy can open (``sqlite:``, ``postgresql[+driver]:``, ``mysql``, ``mssql``), so one
backup holds everything; for an http tracking server they live in ``<data_dir>/mltrack.db``.
A ``postgresql://`` URI is read as ``postgresql+psycopg://`` when only psycopg 3 is installed
(SQLAlchemy's default driver for it is psycopg2).

A PostgreSQL store is opened with a connect timeout (`bounded_url`) and probed once before MLflow
opens it (MLflow retries a failing first connection ten times over ~100 s): a registry database
that is down fails a command or a request in seconds, with a TrackingError naming it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ragline.core.errors import redact
from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import TrackingError

if TYPE_CHECKING:
    from mlflow import MlflowClient

SQL_SCHEMES = frozenset({"sqlite", "postgresql", "mysql", "mssql"})
CONNECT_TIMEOUT_S = 2  # psycopg's floor; a dead database fails a connection in seconds


def resolve_tracking_uri(config: MltrackConfig, data_dir: Path) -> str:
    """The tracking URI MLflow gets: the configured one or ``sqlite:///<data_dir>/mlflow.db``.

    Example:
        >>> resolve_tracking_uri(MltrackConfig(tracking_uri="postgresql://u@db/ml"), Path("."))
        'postgresql+psycopg://u@db/ml'
    """
    uri = config.resolved_tracking_uri(data_dir)
    for prefix in ("postgresql://", "postgres://"):
        if uri.startswith(prefix) and importlib.util.find_spec("psycopg2") is None:
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri


def ledger_url(tracking_uri: str, data_dir: Path) -> str:
    """Where mltrack's own tables live: the tracking database, or a SQLite file for http URIs.

    Example:
        >>> ledger_url("http://mlflow:5000", Path("/srv/ragline"))
        'sqlite:////srv/ragline/mltrack.db'
    """
    scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in SQL_SCHEMES:
        return tracking_uri
    return f"sqlite:///{(data_dir / 'mltrack.db').resolve()}"


def bounded_url(url: str) -> str:
    """`url` with a connect timeout when it names PostgreSQL and sets none (MLflow takes no
    `connect_args`: the URL is the one way to give its engine a timeout).

    Example:
        >>> bounded_url("postgresql+psycopg://u@db/ml")
        'postgresql+psycopg://u@db/ml?connect_timeout=2'
        >>> bounded_url("sqlite:///x.db")
        'sqlite:///x.db'
    """
    if not _is_postgres(url) or "connect_timeout=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}connect_timeout={CONNECT_TIMEOUT_S}"


def _is_postgres(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0].lower() in {"postgresql", "postgres"}


class MlflowStore:
    """The MLflow client and mltrack's tables for one configuration; both open on first use.

    Example:
        >>> store = MlflowStore(MltrackConfig(), Path(".ragline"))
        >>> store.uri.startswith("sqlite:///")
        True
    """

    def __init__(self, config: MltrackConfig, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        self.uri = resolve_tracking_uri(config, data_dir)
        self.ledger_url = ledger_url(self.uri, data_dir)
        self._engine: sa.Engine | None = None
        self._created: set[int] = set()

    @property
    def shared_ledger(self) -> bool:
        """True when mltrack's tables are in the tracking database itself."""
        return self.ledger_url == self.uri

    @functools.cached_property
    def client(self) -> MlflowClient:
        """The MLflow client (tracking and registry on the same URI); no fluent global state."""
        if self.uri.startswith("sqlite:"):
            self.data_dir.mkdir(parents=True, exist_ok=True)
        # offline by default, and no per-download progress bars in our commands' output
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from mlflow import MlflowClient

        self._probe()
        uri = bounded_url(self.uri)
        with self.errors("opening the tracking store"):
            return MlflowClient(tracking_uri=uri, registry_uri=uri)

    def artifact_location(self, experiment: str) -> str | None:
        """Where a new experiment's artifacts go; None leaves it to an http server."""
        if self.config.artifact_root is None and self.ledger_url != self.uri:
            return None
        root = self.config.resolved_artifact_root(self.data_dir).resolve()
        return (root / experiment).as_uri()

    def engine(self, metadata: sa.MetaData) -> sa.Engine:
        """The SQLAlchemy engine of mltrack's tables, with `metadata`'s tables created."""
        if self._engine is None:
            if self.ledger_url.startswith("sqlite:"):
                self.data_dir.mkdir(parents=True, exist_ok=True)
            self._engine = sa.create_engine(bounded_url(self.ledger_url), pool_pre_ping=True)
        if id(metadata) not in self._created:
            with self.errors("creating mltrack's tables"):
                _create_tables(metadata, self._engine)
            self._created.add(id(metadata))
        return self._engine

    def _probe(self) -> None:
        """One bounded connection to a PostgreSQL store before MLflow opens it (MLflow would
        retry a failing one for ~100 s); TrackingError when it cannot be reached."""
        if not _is_postgres(self.uri):
            return
        engine = sa.create_engine(bounded_url(self.uri), poolclass=sa.pool.NullPool)
        try:
            with self.errors("connecting to the tracking store"), engine.connect():
                pass
        finally:
            engine.dispose()

    @contextlib.contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn MLflow and database failures into TrackingError naming the store and a fix."""
        from mlflow.exceptions import MlflowException

        try:
            yield
        except MlflowException as exc:
            raise TrackingError(
                redact(
                    f"{action} failed on {self.uri}: {exc.message}; check tracking_uri "
                    "and that the store is reachable and writable"
                )
            ) from exc
        except sa.exc.OperationalError as exc:
            raise TrackingError(
                redact(
                    f"{action} failed on {self.ledger_url}: {exc.orig}; check the database is "
                    "reachable and writable"
                )
            ) from exc

    def close(self) -> None:
        """Release database connections held by mltrack (MLflow's stay pooled by MLflow)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._created.clear()


def _create_tables(metadata: sa.MetaData, engine: sa.Engine, attempts: int = 3) -> None:
    """`create_all`, tolerating another process creating the same tables at the same moment
    (its check-then-create is not atomic: the loser sees "already exists" and checks again)."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except sa.exc.OperationalError as exc:
            if "already exists" not in str(exc) or attempt + 1 == attempts:
                raise
        except sa.exc.ProgrammingError as exc:  # PostgreSQL: DuplicateTable
            if "already exists" not in str(exc) or attempt + 1 == attempts:
                raise
