"""mltrack's settings: where experiments and the registry live, and the promotion thresholds.

    MltrackConfig(tracking_uri="postgresql+psycopg://mlflow@db:5432/mlflow", experiment="churn")

A null `tracking_uri` means MLflow on ``sqlite:///<data_dir>/mlflow.db`` (the embedded default);
the registry's audit log lives in the same database.
"""

from __future__ import annotations

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

    def resolved_tracking_uri(self, data_dir: Path) -> str:
        """The tracking URI, with the embedded default under `data_dir`."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{(data_dir / 'mlflow.db').resolve()}"

    def resolved_artifact_root(self, data_dir: Path) -> Path:
        """The artifact folder, with the default under `data_dir`."""
        return self.artifact_root or (data_dir / "mlartifacts").resolve()
