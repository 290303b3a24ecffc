"""mltrack's settings: where experiments and the registry live, and the promotion thresholds.

    MltrackConfig(tracking_uri="postgresql+psycopg://mlflow@db:5432/mlflow", experiment="churn")

A null `tracking_uri` means MLflow on ``sqlite:///<data_dir>/mlflow.db`` (the embedded default);
the registry's audit log lives in the same database.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


def sql_url(url: str | None, data_dir: Path, filename: str) -> str:
    """`url`, or SQLite's `<data_dir>/<filename>` when it is empty; PostgreSQL URLs get the
    psycopg 3 driver (the one installed).

    >>> sql_url("postgresql://u@db/costs", Path("."), "x.db")
    'postgresql+psycopg://u@db/costs'
    """
    if not url:
        return f"sqlite:///{(data_dir / filename).resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class LedgerConfig(BaseModel):
    """Where the ledger lives and how it batches writes.

    LedgerConfig(url="postgresql://ledger@db:5432/costs", monthly_budget_usd=Decimal("200"))
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(
        None, description="SQLAlchemy URL; null: sqlite:///<data_dir>/ledger.db"
    )
    table: str = Field("cost_ledger", pattern=r"^[a-z_][a-z0-9_]{0,47}$")
    monthly_budget_usd: Decimal | None = Field(None, gt=0, allow_inf_nan=False)
    batch_size: int = Field(500, ge=1, description="entries written per executemany")
    flush_interval_s: float = Field(5.0, gt=0, description="oldest buffered entry's max age")
    embedding_usd_per_hour: Decimal = Field(
        Decimal(0), ge=0, description="compute price of query embedding (0: your own CPU)"
    )
    vector_db_usd_per_1k_ops: Decimal = Field(
        Decimal(0), ge=0, description="price of 1,000 vector-store queries (0: embedded Edge)"
    )
    prediction_usd_per_hour: Decimal = Field(
        Decimal(0), ge=0, description="compute price of classical predictions"
    )

    def resolved_url(self, data_dir: Path) -> str:
        """The URL, with the SQLite default under `data_dir` and psycopg 3 for PostgreSQL."""
        return sql_url(self.url, data_dir, "ledger.db")


class MltrackConfig(BaseModel):
    """The `ml:` section of the settings tree."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; null: sqlite:///<data_dir>/mlflow.db"
    )
    artifact_root: Path | None = Field(
        None, description="where run artifacts go; null: <data_dir>/mlartifacts"
    )
    experiment: str = Field("ragline", description="MLflow experiment runs are logged to")
    min_quality: int = Field(18, ge=0, le=30, description="data-quality score needed to train")
    confidence: float = Field(0.95, gt=0, lt=1, description="CI level of promotion gates")
    ledger: LedgerConfig = LedgerConfig()

    def resolved_tracking_uri(self, data_dir: Path) -> str:
        """The tracking URI, with the embedded default under `data_dir`."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{(data_dir / 'mlflow.db').resolve()}"

    def resolved_artifact_root(self, data_dir: Path) -> Path:
        """The artifact folder, with the default under `data_dir`."""
        return self.artifact_root or (data_dir / "mlartifacts").resolve()
