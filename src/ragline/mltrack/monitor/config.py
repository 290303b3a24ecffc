"""The `monitor:` section of the settings: the request and prediction logs, health and model
drift thresholds, alert rules and retraining policies.

    monitor:
      window: 1d
      thresholds: {latency_ratio_critical: 2.0, error_rate_critical: 0.05}
      alerts:
        - {name: p95-slow, metric: latency_p95_ratio, op: ">", threshold: 1.5,
           actions: [{kind: webhook, url: "https://hooks.example/ml"}]}
      retrain:
        - {model: adult-income, config: configs/ml/adult.yaml, schedule_days: 30,
           metric: roc_auc, min_primary: 0.9, eval_data: data/last_week.csv}

Pydantic models only (no I/O), so the settings tree imports them without sqlalchemy or pandas.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragline.mltrack.config import sql_url

Op = Literal[">", ">=", "<", "<="]
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertAction(_Strict):
    """What a firing does: log it, POST it to `url`, retrain `model`, or roll `model` back to
    the production version before the current one (the registry's rollback).

    Example:
        >>> AlertAction(kind="webhook", url="http://127.0.0.1:9000/hook").kind
        'webhook'
    """

    kind: Literal["log", "webhook", "retrain", "rollback"]
    url: str | None = Field(None, description="webhook: where the JSON is POSTed")
    model: str | None = Field(
        None, description="retrain, rollback: the registered model to retrain or roll back"
    )

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == "webhook" and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError("url: a webhook action needs an http(s) URL")
        if self.kind in ("retrain", "rollback") and not self.model:
            raise ValueError(f"model: a {self.kind} action names the registered model to act on")
        return self


class AlertRule(_Strict):
    """Fire when ``metric op threshold`` holds for an observation, once per cool-down per key.

    Example:
        >>> r = AlertRule(name="psi-high", metric="psi", op=">", threshold=0.25)
        >>> r.holds(0.3), r.severity, [a.kind for a in r.actions]
        (True, 'warning', ['log'])
    """

    name: str = Field(min_length=1, max_length=256)
    metric: str = Field(min_length=1)
    op: Op
    threshold: float
    severity: Literal["warning", "critical"] = "warning"
    cooldown_s: float = Field(3600.0, ge=0)
    actions: tuple[AlertAction, ...] = (AlertAction(kind="log"),)

    def holds(self, value: float) -> bool:
        """True when `value` breaches the rule."""
        return _OPS[self.op](value, self.threshold)


class RetrainPolicy(_Strict):
    """When a model is retrained, from which training config, and on which data.

    Example:
        >>> p = RetrainPolicy(model="churn", config=Path("churn.yaml"), min_primary=0.85)
        >>> p.schedule_days is None, p.primary_higher_is_better
        (True, True)
    """

    model: str = Field(min_length=1, description="registered model name")
    config: Path = Field(description="the production training config (YAML)")
    schedule_days: float | None = Field(
        None, gt=0, description="retrain when production's training run is older; null: never"
    )
    metric: str = Field("roc_auc", description="the primary metric measured on eval_data")
    min_primary: float | None = Field(None, description="performance floor of the primary metric")
    primary_higher_is_better: bool = Field(
        True, description="false for error metrics (rmse): then min_primary is a ceiling"
    )
    drift_features: tuple[str, ...] = Field((), description="features whose critical drift counts")
    recent_data: Path | None = Field(None, description="what a retrain trains on; null: config's")
    eval_data: Path | None = Field(
        None, description="labelled recent rows production is scored on (performance trigger)"
    )
    reference_data: Path | None = Field(None, description="drift reference (training rows)")
    current_data: Path | None = Field(None, description="drift current rows (recent traffic)")

    @model_validator(mode="after")
    def _drift_needs_data(self) -> Self:
        if self.drift_features and (self.reference_data is None) != (self.current_data is None):
            raise ValueError("drift: give both reference_data and current_data, or neither")
        return self


class RequestLogConfig(_Strict):
    """Where `ragline serve` logs one row per answered request (the monitors read it).

    Example:
        >>> RequestLogConfig().resolved_url(Path("/srv/.ragline"))
        'sqlite:////srv/.ragline/requests.db'
    """

    enabled: bool = True
    url: str | None = Field(
        None, description="SQLAlchemy URL; null: sqlite:///<data_dir>/requests.db"
    )
    table: str = Field("ragline_requests", pattern=r"^[a-z_][a-z0-9_]{0,47}$")
    batch_size: int = Field(200, ge=1, description="rows written per executemany")
    flush_interval_s: float = Field(1.0, gt=0, description="oldest buffered row's max age")

    def resolved_url(self, data_dir: Path) -> str:
        """The URL, with the SQLite default under `data_dir` and psycopg 3 for PostgreSQL."""
        return sql_url(self.url, data_dir, "requests.db")


class PredictionLogConfig(_Strict):
    """Where served classical predictions (one row per scored row) and their labels are kept.

    Example:
        >>> PredictionLogConfig().labels_table
        'ragline_labels'
    """

    enabled: bool = True
    url: str | None = Field(
        None, description="SQLAlchemy URL; null: sqlite:///<data_dir>/predictions.db"
    )
    table: str = Field("ragline_predictions", pattern=r"^[a-z_][a-z0-9_]{0,47}$")
    labels_table: str = Field("ragline_labels", pattern=r"^[a-z_][a-z0-9_]{0,47}$")
    batch_size: int = Field(500, ge=1, description="rows written per executemany")
    flush_interval_s: float = Field(1.0, gt=0, description="oldest buffered row's max age")

    def resolved_url(self, data_dir: Path) -> str:
        """The URL, with the SQLite default under `data_dir` and psycopg 3 for PostgreSQL."""
        return sql_url(self.url, data_dir, "predictions.db")


class ModelDriftConfig(_Strict):
    """Prediction, label and concept drift of served models (`monitor check`).

    Example:
        >>> ModelDriftConfig().concept_for, ModelDriftConfig().kl_warning
        ('24h', 0.1)
    """

    min_rows: int = Field(100, ge=1, description="scores / labels needed in each window")
    bins: int = Field(10, ge=2, le=100, description="reference quantile bins of the scores")
    kl_warning: float = Field(0.1, gt=0, description="KL(current || reference) of the scores")
    kl_critical: float = Field(0.25, gt=0)
    psi_warning: float = Field(0.1, gt=0)
    psi_critical: float = Field(0.25, gt=0)
    ks_pvalue: float = Field(0.01, gt=0, lt=1, description="KS must be significant to alarm")
    chi2_pvalue: float = Field(0.01, gt=0, lt=1, description="label drift: significance")
    min_cramers_v: float = Field(0.1, ge=0, le=1, description="label drift: smallest effect")
    concept_metric: Literal["auto", "roc_auc", "accuracy", "rmse", "mae"] = Field(
        "auto", description="auto: roc_auc for classifiers, rmse for regressors"
    )
    concept_drop: float = Field(0.05, gt=0, lt=1, description="relative fall vs the baseline")
    concept_for: str = Field("24h", pattern=r"^\d+[mhdw]$", description="sustained this long")
    concept_window: str = Field(
        "6h", pattern=r"^\d+[mhdw]$", description="trailing window of each metric point"
    )
    concept_step: str = Field("1h", pattern=r"^\d+[mhdw]$", description="between metric points")
    min_labels: int = Field(50, ge=2, description="labelled rows a metric point needs")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.kl_warning > self.kl_critical or self.psi_warning > self.psi_critical:
            raise ValueError("model_drift: a warning threshold is above its critical one")
        return self


class HealthThresholds(_Strict):
    """When a serving metric is a warning or critical, current window against reference.

    Ratios are current / reference; error rates are absolute (5xx answers / requests).

    Example:
        >>> HealthThresholds().latency_ratio_critical
        2.0
    """

    min_requests: int = Field(30, ge=1, description="fewer current requests: insufficient data")
    latency_ratio_warning: float = Field(1.5, gt=1)
    latency_ratio_critical: float = Field(2.0, gt=1)
    error_rate_warning: float = Field(0.01, ge=0, le=1)
    error_rate_critical: float = Field(0.05, ge=0, le=1)
    throughput_drop_warning: float = Field(0.5, gt=0, lt=1, description="ratio below: warning")
    throughput_drop_critical: float = Field(0.1, gt=0, lt=1, description="ratio below: critical")
    cache_drop_warning: float = Field(0.2, gt=0, le=1, description="hit-rate fall, in points")
    cost_ratio_warning: float = Field(1.5, gt=1, description="cost per hour, current / reference")
    cost_ratio_critical: float = Field(3.0, gt=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        pairs = (
            ("latency_ratio", self.latency_ratio_warning <= self.latency_ratio_critical),
            ("error_rate", self.error_rate_warning <= self.error_rate_critical),
            ("throughput_drop", self.throughput_drop_critical <= self.throughput_drop_warning),
            ("cost_ratio", self.cost_ratio_warning <= self.cost_ratio_critical),
        )
        for name, ok in pairs:
            if not ok:
                raise ValueError(f"{name}: the warning threshold must come before the critical one")
        return self


class MonitorConfig(_Strict):
    """The `monitor:` section (module docstring)."""

    window: str = Field("1d", pattern=r"^\d+[mhdw]$", description="default window of monitor check")
    request_log: RequestLogConfig = RequestLogConfig()
    prediction_log: PredictionLogConfig = PredictionLogConfig()
    thresholds: HealthThresholds = HealthThresholds()
    model_drift: ModelDriftConfig = ModelDriftConfig()
    alerts: tuple[AlertRule, ...] = ()
    retrain: tuple[RetrainPolicy, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [r.name for r in self.alerts]
        models = [p.model for p in self.retrain]
        if len(set(names)) != len(names):
            raise ValueError(f"alerts: rule names must be unique, got {names}")
        if len(set(models)) != len(models):
            raise ValueError(f"retrain: one policy per model, got {models}")
        return self
