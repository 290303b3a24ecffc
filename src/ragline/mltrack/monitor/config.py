"""The `monitor:` section of the settings: the request log, health thresholds, alert rules and
retraining policies.

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
    """What a firing does: log it, POST it to `url`, or retrain `model`.

    Example:
        >>> AlertAction(kind="webhook", url="http://127.0.0.1:9000/hook").kind
        'webhook'
    """

    kind: Literal["log", "webhook", "retrain"]
    url: str | None = Field(None, description="webhook: where the JSON is POSTed")
    model: str | None = Field(None, description="retrain: the registered model to retrain")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == "webhook" and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError("url: a webhook action needs an http(s) URL")
        if self.kind == "retrain" and not self.model:
            raise ValueError("model: a retrain action names the registered model to retrain")
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
    thresholds: HealthThresholds = HealthThresholds()
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
