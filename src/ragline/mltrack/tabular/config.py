"""The typed training configuration behind ``ragline ml train CONFIG.yaml``.

    config = load_train_config(Path("configs/ml/adult.yaml"))
    config.model.kind        # "lightgbm"

Every section forbids unknown keys, so a typo fails at load time; `load_train_config` turns
pydantic's errors into one `TrainConfigError` whose lines start with the key path
(``split.group_column: ...``) and say what to change. A relative ``data.path`` is resolved
against the folder of the YAML file, so a config and its data can move together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ragline.mltrack.anomaly.config import AnomalySpec, anomaly_problems
from ragline.mltrack.data.quality import QualitySpec
from ragline.mltrack.errors import MltrackError
from ragline.mltrack.yaml_file import explain, read_mapping

Task = Literal["classification", "regression", "anomaly"]
ParamValue = int | float | str | bool | None
Cycle = Literal["dayofweek", "month", "hour", "dayofyear"]
RollingStat = Literal["mean", "std", "min", "max", "sum"]
Impute = Literal["all", "numeric", "off"]  # what the feature pipeline imputes
ModelKind = Literal[
    "lightgbm", "xgboost", "sklearn-logreg", "sklearn-rf", "sklearn-hgb", "isolation-forest"
]
# metrics tuning can optimise: each has a native per-round equivalent in LightGBM and XGBoost
TuneMetric = Literal["roc_auc", "pr_auc", "log_loss", "rmse", "mae"]
MAXIMISED = frozenset(
    {"roc_auc", "pr_auc", "accuracy", "f1", "macro_f1", "r2", "precision_at_k", "recall_at_k"}
)
CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "f1")
# a classification target with more than two classes: macro_f1 first; roc_auc is one-vs-rest
MULTICLASS_METRICS = ("macro_f1", "accuracy", "log_loss", "roc_auc")
# models that refuse NaN: `features.impute: null` imputes for these only
NEEDS_IMPUTATION = frozenset({"sklearn-logreg"})
REGRESSION_METRICS = ("rmse", "mae", "r2")
# anomaly detection, scored against labels the model never saw; pr_auc first (rare positives)
ANOMALY_METRICS = ("pr_auc", "roc_auc", "precision_at_k", "recall_at_k")
_MEAN_ONLY: list[RollingStat] = ["mean"]
_SUFFIX_FORMATS = {
    ".csv": "csv",
    ".gz": "csv",
    ".zip": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


class TrainConfigError(MltrackError, ValueError):
    """A training config that cannot be used; each line names a key path and the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSpec(_Section):
    """Where the rows are and what the columns mean."""

    path: Path
    format: Literal["csv", "parquet"] | None = Field(None, description="null: from the suffix")
    target: str
    task: Task
    positive_label: str | int | bool | None = Field(
        None, description="classification: the positive class; null: the larger sorted label"
    )
    protected: str | None = Field(None, description="column for the fairness report")
    id_column: str | None = Field(None, description="entity key (grouped split, temporal)")
    time_column: str | None = Field(None, description="event time (temporal split/features)")
    prediction_time: str | None = Field(
        None, description="when a prediction is made; null: time_column (leakage checks)"
    )
    feature_times: list[str] = Field(
        default_factory=list,
        description="columns saying when each row's feature values were known; a value later "
        "than the prediction time is leakage",
    )

    @model_validator(mode="after")
    def _format_known(self) -> Self:
        if self.format is None and self.path.suffix.lower() not in _SUFFIX_FORMATS:
            raise ValueError(
                f"format: cannot tell the format of {self.path.name!r} from its suffix; "
                "set data.format to csv or parquet"
            )
        return self

    @property
    def file_format(self) -> Literal["csv", "parquet"]:
        """data.format, or the one the path's suffix names."""
        if self.format is not None:
            return self.format
        return "parquet" if _SUFFIX_FORMATS[self.path.suffix.lower()] == "parquet" else "csv"


class SplitSpec(_Section):
    """How rows are divided into train, validation and test."""

    kind: Literal["stratified", "temporal", "grouped"] = "stratified"
    test_size: float = Field(0.2, gt=0, lt=1)
    valid_size: float = Field(0.2, gt=0, lt=1, description="share of all rows")
    seed: int = 0
    group_column: str | None = Field(None, description="grouped: null means data.id_column")


class BinOp(_Section):
    """Quantile binning into ``bin`` bins (edges from the train split); YAML: ``- bin: 10``."""

    bin: int = Field(ge=2, le=1000)


NumericOp = Literal["log", "standardize"] | BinOp


class NumericFeature(_Section):
    """Numeric columns (fnmatch patterns allowed: ``workclass_*``) and ops applied in order.

    ``log`` is sign(x)·log1p(|x|); ``standardize`` uses train mean/std; no ops: passthrough.
    """

    columns: list[str] = Field(min_length=1)
    ops: list[NumericOp] = Field(default_factory=list)


class CategoricalFeature(_Section):
    """Categorical columns, one-hot or K-fold out-of-fold target encoded."""

    columns: list[str] = Field(min_length=1)
    encoding: Literal["onehot", "target"] = "onehot"
    folds: int = Field(5, ge=2, le=50)
    smoothing: float = Field(10.0, ge=0, description="target: prior weight (m-estimate)")
    max_categories: int = Field(50, ge=1, description="onehot: most frequent kept, rest zero")


class Rolling(_Section):
    """Statistics over the previous ``window`` rows of the entity (the current row excluded)."""

    window: int = Field(ge=2)
    stats: list[RollingStat] = Field(default_factory=lambda: _MEAN_ONLY.copy(), min_length=1)


class TemporalFeature(_Section):
    """Past-only features of one column, per entity (data.id_column) in data.time_column order."""

    column: str
    lags: list[int] = Field(default_factory=list)
    rolling: list[Rolling] = Field(default_factory=list)
    time_since: bool = Field(False, description="datetime column: time since the entity's last row")
    unit: Literal["s", "m", "h", "d"] = "d"
    cycles: list[Cycle] = Field(default_factory=list, description="datetime column: sin/cos")

    @model_validator(mode="after")
    def _some(self) -> Self:
        if any(lag < 1 for lag in self.lags):
            raise ValueError("lags: every lag must be >= 1 (a lag of 0 is the current value)")
        if not (self.lags or self.rolling or self.time_since or self.cycles):
            raise ValueError(f"column {self.column!r}: set lags, rolling, time_since or cycles")
        return self


class FeatureSpec(_Section):
    """The feature pipeline; every fitted step is fitted on the train split only.

    ``impute``: true fills missing numeric values with the train median and categorical ones
    with the train's most frequent category, adding a ``COLUMN__missing`` 0/1 feature for each
    column that had missing values in train; null (default) does the numeric part only for
    models that cannot take NaN (sklearn-logreg), so no model that trained before changes;
    false never imputes (categorical gaps stay a ``(missing)`` category, as always).
    """

    numeric: list[NumericFeature] = Field(default_factory=list)
    categorical: list[CategoricalFeature] = Field(default_factory=list)
    temporal: list[TemporalFeature] = Field(default_factory=list)
    impute: bool | None = Field(None, description="null: numeric, for sklearn-logreg only")


class Rule(_Section):
    """``column op value -> predict``; the first matching rule wins."""

    column: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: int | float | str
    predict: bool | int | float | str


class BaselineSpec(_Section):
    """Trained before the model: majority class, train mean, hand-written rules, the value
    ``season`` rows back (``seasonal_naive``, forecasting) or robust z-scores (``zscore``,
    anomaly detection; what ``auto`` picks for ``task: anomaly``)."""

    kind: Literal["auto", "majority", "mean", "rules", "seasonal_naive", "zscore"] = "auto"
    rules: list[Rule] = Field(default_factory=list)
    season: int = Field(
        1, ge=1, description="seasonal_naive: rows back within the entity (52: weekly, yearly)"
    )


class ModelSpec(_Section):
    """The learner and its fixed parameters (tuned ones are searched on top)."""

    kind: ModelKind = "lightgbm"
    params: dict[str, ParamValue] = Field(default_factory=dict)
    rounds: int = Field(500, ge=1, description="lightgbm/xgboost: most boosting rounds")
    early_stopping: int = Field(30, ge=0, description="rounds without gain on valid; 0: off")
    threads: int | None = Field(
        None, ge=1, description="CPU threads; null: the library's default (every core)"
    )


class ParamRange(_Section):
    """One tuned parameter: ``low``/``high`` (``log``, ``integer``) or ``choices``."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: list[ParamValue] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.choices is None and (self.low is None or self.high is None or self.low > self.high):
            raise ValueError("set choices, or low <= high")
        return self


class TuneSpec(_Section):
    """Optuna TPE search; ``trials: 0`` trains once with the model's params."""

    trials: int = Field(0, ge=0)
    timeout_s: float | None = Field(None, gt=0)
    metric: TuneMetric | None = Field(
        None, description="null: roc_auc or rmse by task (log_loss for more than two classes)"
    )
    direction: Literal["maximize", "minimize"] | None = None
    pruning: bool = True
    seed: int = 0
    cv_folds: int = Field(3, ge=2, description="sklearn models: folds reported to the pruner")
    space: dict[str, ParamRange] = Field(default_factory=dict, description="overrides defaults")


class MetricsSpec(_Section):
    """Test-set metrics with bootstrap CIs, calibration and fairness."""

    primary: str | None = Field(
        None, description="null: roc_auc or rmse by task (macro_f1 for more than two classes)"
    )
    secondary: list[str] = Field(default_factory=list, description="empty: all for the task")
    resamples: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0
    threshold: float = Field(0.5, gt=0, lt=1, description="probability -> positive label")
    calibration_bins: int = Field(10, ge=2)
    fairness_min_count: int = Field(30, ge=1)
    top_k: int | None = Field(
        None, ge=1, description="anomaly: K of precision@K; null: the test split's anomalies"
    )


class FairnessSpec(_Section):
    """Protected attributes the ``fairness`` promotion gate enforces on the test split
    (`ragline.mltrack.tracking.fairness`); ``data.protected`` alone only reports."""

    protected: list[str] = Field(default_factory=list, description="columns, e.g. [sex, race]")
    min_disparate_impact: float = Field(0.8, ge=0, le=1, description="the 80% rule")
    max_calibration_gap: float = Field(
        0.05, ge=0, description="largest spread of mean score - positive rate across groups"
    )


class ExperimentSpec(_Section):
    """What the run is for and where its model goes (``ragline ml train`` reads it)."""

    hypothesis: str = Field("", description="what this run tests; shown in the experiment list")
    register_as: str | None = Field(None, description="registry model name; null: not registered")
    intended_use: str | None = Field(None, description="for the model card")
    out_of_scope: str | None = Field(None, description="for the model card")
    limitations: list[str] = Field(default_factory=list, description="for the model card")
    owner: str | None = Field(None, description="team or person answerable for the model")
    notes: str | None = Field(None, description="free text kept on the experiment record")
    retraining: str | None = Field(
        None, description="model card, maintenance: retraining cadence or trigger"
    )
    monitoring: str | None = Field(
        None, description="model card, maintenance: the monitoring in place (drift, alerts)"
    )
    ethical_considerations: list[str] = Field(
        default_factory=list, description="model card: risks, affected groups, mitigations"
    )
    contact: str | None = Field(None, description="model card: where to send questions/issues")


class TrainConfig(_Section):
    """One training run; `load_train_config` reads it from YAML.

    Example:
        >>> c = TrainConfig.model_validate({
        ...     "data": {"path": "rows.parquet", "target": "y", "task": "regression"},
        ...     "features": {"numeric": [{"columns": ["x"], "ops": ["log"]}]}})
        >>> c.data.file_format, c.primary_metric, c.baseline.kind
        ('parquet', 'rmse', 'auto')
    """

    data: DataSpec
    split: SplitSpec = Field(default_factory=SplitSpec)
    features: FeatureSpec
    baseline: BaselineSpec = Field(default_factory=BaselineSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    tune: TuneSpec = Field(default_factory=TuneSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    experiment: ExperimentSpec = Field(default_factory=ExperimentSpec)
    fairness: FairnessSpec = Field(default_factory=FairnessSpec)
    anomaly: AnomalySpec = Field(default_factory=AnomalySpec)
    golden: Path | None = Field(
        None, description="labelled rows candidate and production both score at promotion"
    )
    quality: QualitySpec | None = Field(
        None, description="data-quality rubric inputs; null: target and time column only"
    )

    @property
    def primary_metric(self) -> str:
        """The metric named by metrics.primary, or the task's default."""
        default = {"classification": "roc_auc", "regression": "rmse", "anomaly": "pr_auc"}
        return self.metrics.primary or default[self.data.task]

    @property
    def tune_metric(self) -> TuneMetric:
        """The metric tuning optimises, or the task's default."""
        return self.tune.metric or ("rmse" if self.data.task == "regression" else "roc_auc")

    @property
    def impute(self) -> Impute:
        """What the feature pipeline imputes: features.impute resolved for model.kind."""
        if self.features.impute is None:
            return "numeric" if self.model.kind in NEEDS_IMPUTATION else "off"
        return "all" if self.features.impute else "off"

    def for_classes(self, n_classes: int) -> TrainConfig:
        """This config for a target of `n_classes` classes: for more than two, defaults become
        macro_f1 (metrics.primary) and log_loss (tune.metric), and binary-only choices fail
        with a `TrainConfigError` naming the key to change; otherwise the config unchanged."""
        if self.data.task != "classification" or n_classes <= 2:
            return self
        problems = _multiclass_checks(self, n_classes)
        if problems:
            raise TrainConfigError("\n".join(problems))
        metrics = self.metrics.model_copy(update={"primary": self.metrics.primary or "macro_f1"})
        tune = self.tune.model_copy(update={"metric": "log_loss"})
        return self.model_copy(update={"metrics": metrics, "tune": tune})

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = _cross_checks(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _cross_checks(c: TrainConfig) -> list[str]:
    """Checks spanning sections; each message starts with the key path to change."""
    out: list[str] = []
    task, kind = c.data.task, c.split.kind
    if kind == "temporal" and not c.data.time_column:
        out.append("data.time_column: a temporal split needs the event-time column")
    if kind == "grouped" and not (c.split.group_column or c.data.id_column):
        out.append("split.group_column: a grouped split needs it (or data.id_column)")
    if c.split.test_size + c.split.valid_size >= 0.9:
        out.append("split: test_size + valid_size must leave at least 10% of rows to train on")
    if c.data.feature_times and not (c.data.prediction_time or c.data.time_column):
        out.append("data.prediction_time: feature_times are compared with it; name the column")
    if c.features.temporal and not c.data.time_column:
        out.append("data.time_column: temporal features are computed in time order; name it")
    if not (c.features.numeric or c.features.categorical or c.features.temporal):
        out.append("features: list at least one numeric, categorical or temporal feature")
    base = c.baseline.kind
    if (base == "majority" and task == "regression") or (base == "mean" and task != "regression"):
        out.append(f"baseline.kind: {base!r} does not fit a {task} task; use 'auto'")
    if c.model.kind == "sklearn-logreg" and task == "regression":
        out.append("model.kind: sklearn-logreg is a classifier; use lightgbm or sklearn-hgb")
    if base == "rules" and not c.baseline.rules:
        out.append("baseline.rules: a rules baseline needs at least one rule")
    allowed: tuple[str, ...] = REGRESSION_METRICS if task == "regression" else ANOMALY_METRICS
    if task == "classification":
        allowed = tuple(dict.fromkeys(CLASSIFICATION_METRICS + MULTICLASS_METRICS))
    for name in [c.primary_metric, *c.metrics.secondary]:
        if name not in allowed:
            out.append(f"metrics: {name!r} is not a {task} metric; choose from {list(allowed)}")
    tune_ok = {"roc_auc", "pr_auc", "log_loss"} if task != "regression" else {"rmse", "mae"}
    if c.tune_metric not in tune_ok:
        out.append(f"tune.metric: {c.tune_metric!r} is not a {task} metric; use {sorted(tune_ok)}")
    wanted = "maximize" if c.tune_metric in MAXIMISED else "minimize"
    if c.tune.direction is not None and c.tune.direction != wanted:
        out.append(f"tune.direction: {c.tune_metric} must {wanted}; drop direction or fix it")
    return out + _task_checks(c)


def _task_checks(c: TrainConfig) -> list[str]:
    """Forecasting and anomaly-detection choices that only fit their task."""
    out: list[str] = []
    task, base = c.data.task, c.baseline.kind
    if base == "seasonal_naive" and (task != "regression" or not c.data.time_column):
        out.append("baseline.kind: seasonal_naive needs task: regression and data.time_column")
    target_encoded = any(cat.encoding == "target" for cat in c.features.categorical)
    return out + anomaly_problems(task, base, c.model.kind, c.tune.trials, target_encoded)


def _multiclass_checks(c: TrainConfig, n_classes: int) -> list[str]:
    where = f"data.target: {c.data.target!r} has {n_classes} classes"
    out = [
        f"features.categorical: {where}; target encoding needs a binary or numeric target, "
        f"use encoding: onehot for {cat.columns}"
        for cat in c.features.categorical
        if cat.encoding == "target"
    ]
    for name in [c.metrics.primary or "macro_f1", *c.metrics.secondary]:
        if name not in MULTICLASS_METRICS:
            out.append(f"metrics: {where}; {name!r} is binary-only, use {list(MULTICLASS_METRICS)}")
    if c.tune.metric not in (None, "log_loss") or c.tune.direction == "maximize":
        out.append(f"tune: {where}; multiclass tuning minimises log_loss, drop metric/direction")
    return out


def load_train_config(path: Path) -> TrainConfig:
    """Read and validate a training YAML file; relative data paths resolve next to it.

    Example:
        >>> from pathlib import Path
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "t.yaml"
        >>> _ = f.write_text("data: {path: rows.csv, target: y, task: regression}\\n"
        ...                  "features: {numeric: [{columns: [x]}]}\\n")
        >>> load_train_config(f).data.path == f.parent / "rows.csv"
        True
    """
    raw = read_mapping(path, TrainConfigError, "check the path", "data:, features:, ... at the top")
    try:
        config = TrainConfig.model_validate(raw)
    except ValidationError as exc:
        raise TrainConfigError(f"{path}: invalid training config:\n{explain(exc)}") from exc
    if not config.data.path.is_absolute():
        data = config.data.model_copy(update={"path": path.parent / config.data.path})
        config = config.model_copy(update={"data": data})
    if config.golden is not None and not config.golden.is_absolute():
        config = config.model_copy(update={"golden": (path.parent / config.golden).resolve()})
    return config
