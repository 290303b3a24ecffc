"""mltrack's settings: where experiments and the registry live, and the promotion thresholds.

    MltrackConfig(tracking_uri="postgresql+psycopg://mlflow@db:5432/mlflow", experiment="churn")

A null `tracking_uri` means MLflow on ``sqlite:///<data_dir>/mlflow.db`` (the embedded default);
the registry's audit log lives in the same database, and so does the state of gradual rollouts
(`RolloutPolicy`, `ragline.mltrack.rollout`). `RolloutPolicy` is defined here, not in the rollout
package, so that the settings tree imports no service code (the registry imports this module).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


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


class RolloutPolicy(BaseModel):
    """How a canary of a classical model rolls out on POST /v1/predict (`ml.rollout`).

    Example:
        >>> RolloutPolicy(stages=(10, 100), min_requests=50).stages
        (10, 100)

    The canary serves `stages[i]` percent of callers; after `min_requests` canary requests in
    a stage it is judged on its window: a breach rolls it back, a healthy canary advances
    (when `auto_advance`), and past the last stage becomes production.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: tuple[int, ...] = Field((5, 25, 50, 100), description="canary percents, rising")
    min_requests: int = Field(200, ge=1, description="canary requests in a stage before a verdict")
    window_s: float = Field(900.0, gt=0, description="seconds of signals a verdict looks at")
    max_error_rate: float = Field(0.02, ge=0, le=1, description="canary errors / requests")
    max_latency_ratio: float = Field(1.5, gt=0, description="canary p95 / production p95")
    latency_floor_ms: float = Field(
        5.0, ge=0, description="p95s under this count as this: sub-ms jitter is no breach"
    )
    max_prediction_kl: float = Field(
        0.1, gt=0, description="KL(canary || production) of the score distributions, nats"
    )
    max_metric_drop: float = Field(
        0.05, ge=0, description="relative drop of the primary metric once labels arrive"
    )
    min_labels: int = Field(200, ge=1, description="labelled predictions per version needed")
    auto_advance: bool = Field(True, description="advance a healthy canary without a person")

    @field_validator("stages")
    @classmethod
    def _rising(cls, stages: tuple[int, ...]) -> tuple[int, ...]:
        if not stages or stages[-1] != 100 or any(not 0 < s <= 100 for s in stages):
            raise ValueError("stages: rising percents in 1..100 that end at 100, e.g. [5, 25, 100]")
        if list(stages) != sorted(set(stages)):
            raise ValueError(f"stages must rise strictly, got {list(stages)}")
        return stages


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
    rollout: RolloutPolicy = Field(
        default_factory=RolloutPolicy, description="gradual rollout (canary) of a model version"
    )

    def resolved_tracking_uri(self, data_dir: Path) -> str:
        """The tracking URI, with the embedded default under `data_dir`."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{(data_dir / 'mlflow.db').resolve()}"

    def resolved_artifact_root(self, data_dir: Path) -> Path:
        """The artifact folder, with the default under `data_dir`."""
        return self.artifact_root or (data_dir / "mlartifacts").resolve()
