"""The problem brief (``BRIEF.yaml``): what a project is for, how success is measured, when to stop.

    brief = load_brief(Path("configs/briefs/adult-income.yaml"))
    brief.success_metric.metric                     # "roc_auc": what experiments record

A brief is written before any model: the business objective, the success metric and the
baseline it must beat (both refused when empty), the task, who consumes the prediction and how
fast, the data and its gaps, the ethical considerations, and the kill criteria. Every section
forbids unknown keys; `load_brief` turns pydantic's errors into one `BriefError` whose lines
start with the key path and say what to write there.

Kill criteria are checked against recorded experiments by `ragline.mltrack.method.kill`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.method.abtest_rule import AbTestRule
from ragline.mltrack.yaml_file import explain, read_mapping

TaskType = Literal["binary_classification", "multiclass_classification", "regression", "ranking"]
KillKind = Literal["baseline_ratio", "beats_random_by", "metric_below", "not_significant"]
KillStatus = Literal["met", "not_met", "no_evidence"]
# higher is better, perfect score, chance level (None: it depends on the data)
METRIC_SCALES: dict[str, tuple[bool, float, float | None]] = {
    "roc_auc": (True, 1.0, 0.5),
    "pr_auc": (True, 1.0, None),
    "accuracy": (True, 1.0, None),
    "f1": (True, 1.0, None),
    "r2": (True, 1.0, 0.0),
    "log_loss": (False, 0.0, None),
    "brier": (False, 0.0, None),
    "rmse": (False, 0.0, None),
    "mae": (False, 0.0, None),
}
_HINTS = {  # pydantic's wording for the blanks a fresh template has, said as what to do
    "missing": "missing; add it (`ragline frame NEW.yaml` writes a template)",
    "string_too_short": "empty; fill it in",
    "too_short": "empty; list at least one entry",
}


class BriefError(MltrackError):
    """A brief cannot be read or is invalid; each line names the key and what to write."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SuccessMetric(_Section):
    """How success is measured: in business words, and as the metric experiments record.

    Example:
        >>> SuccessMetric(description="letters reach >50K earners", metric="roc_auc").higher
        True
    """

    description: str = Field(description="the business measure, in words")
    metric: str = Field(description="the primary metric training runs record, e.g. roc_auc")
    target: float | None = Field(None, description="the value that counts as success")
    higher_is_better: bool | None = Field(None, description="needed for a metric mltrack lacks")

    @field_validator("description")
    @classmethod
    def _described(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty; say what the business measures, in words")
        return value

    @field_validator("metric")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty; name the metric training records, e.g. roc_auc")
        return value

    @model_validator(mode="after")
    def _direction(self) -> Self:
        if self.metric not in METRIC_SCALES and self.higher_is_better is None:
            known = ", ".join(METRIC_SCALES)
            raise ValueError(
                f"higher_is_better: {self.metric!r} is not one of {known}; set true or false"
            )
        return self

    @property
    def higher(self) -> bool:
        """True when a larger value of the metric is better."""
        if self.higher_is_better is not None:
            return self.higher_is_better
        return METRIC_SCALES[self.metric][0]


class Baseline(_Section):
    """What happens today without the model, and (when measured) its score on the metric.

    Example:
        >>> Baseline(description="hand rules: married and a degree", metric_value=0.78).metric_value
        0.78
    """

    description: str = Field(description="today's process or heuristic the model must beat")
    metric_value: float | None = Field(None, description="its value of the success metric")

    @field_validator("description")
    @classmethod
    def _filled(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty; describe today's process or heuristic the model must beat")
        return value


class Prediction(_Section):
    """What is predicted, and who acts on it: ``Prediction(target="income", consumer="mailer")``."""

    target: str = Field(min_length=1, description="the column or event predicted")
    consumer: str = Field(min_length=1, description="the team or system that acts on it")


class Latency(_Section):
    """How fast a prediction must arrive: ``Latency()`` (batch) or
    ``Latency(mode="online", p95_ms=200)``."""

    mode: Literal["batch", "online"] = "batch"
    p95_ms: float | None = Field(None, gt=0, description="95th-percentile bound for online")

    @model_validator(mode="after")
    def _online_bound(self) -> Self:
        if self.mode == "online" and self.p95_ms is None:
            raise ValueError("p95_ms: online predictions need a latency bound, e.g. 200")
        return self


class DataSources(_Section):
    """The data available, its gaps, and optionally a table ``--decide`` measures:
    ``DataSources(available=("census extract",), path=Path("adult.csv"))``."""

    available: tuple[str, ...] = Field(min_length=1, description="sources, one line each")
    gaps: tuple[str, ...] = ()
    path: Path | None = Field(None, description="CSV/Parquet; relative to the brief's folder")
    labelled_examples: int | None = Field(None, ge=0, description="when no table is given")
    exclude_columns: tuple[str, ...] = Field((), description="ids, leaks: not features")


class Ethics(_Section):
    """Who could be harmed and how (write "none identified, because ..." rather than nothing):
    ``Ethics(considerations=("income differs by sex",), protected_attributes=("sex",))``."""

    considerations: tuple[str, ...] = Field(min_length=1)
    protected_attributes: tuple[str, ...] = ()


class KillCriterion(_Section):
    """A condition under which the project stops (see the module docstring for the kinds).

    Example:
        >>> KillCriterion(kind="baseline_ratio", threshold=0.9).text
        "the baseline reaches more than 90% of the model's metric"
    """

    kind: KillKind
    threshold: float | None = Field(None, ge=0)
    description: str = ""
    random_value: float | None = Field(None, description="beats_random_by: the chance level")

    @model_validator(mode="after")
    def _threshold(self) -> Self:
        if self.kind != "not_significant" and self.threshold is None:
            raise ValueError(f"threshold: {self.kind} needs one, e.g. 0.9 or 0.1")
        return self

    @property
    def text(self) -> str:
        """The description, or one generated from the kind and threshold."""
        if self.description:
            return self.description
        t = self.threshold or 0.0
        return {
            "baseline_ratio": f"the baseline reaches more than {t:.0%} of the model's metric",
            "beats_random_by": f"the model beats random by less than {t:.0%}",
            "metric_below": f"the model's metric is worse than {t:g}",
            "not_significant": "the model's gain over its baseline is not significant",
        }[self.kind]


class DecisionSignals(_Section):
    """Answers for the ML-vs-rules signals the data cannot measure (None: unknown):
    ``DecisionSignals(must_adapt=False, must_be_auditable=True)``."""

    must_adapt: bool | None = Field(None, description="must keep learning from new data")
    must_be_auditable: bool | None = Field(None, description="each decision traceable to a rule")
    changes_faster_than_rules: bool | None = Field(None, description="rules would go stale")
    explainable_in_few_rules: bool | None = Field(None, description="used when no data is given")
    too_complex_for_humans: bool | None = Field(None, description="used when no data is given")


class ProblemBrief(_Section):
    """A whole BRIEF.yaml (`load_brief` reads one; `write_brief_template` starts one).

    Example:
        >>> brief = load_brief(Path("configs/briefs/adult-income.yaml"))  # doctest: +SKIP
        >>> brief.task_type, brief.success_metric.metric  # doctest: +SKIP
        ('binary_classification', 'roc_auc')
    """

    name: str = Field(min_length=1)
    business_objective: str = Field(min_length=1)
    success_metric: SuccessMetric
    baseline: Baseline
    task_type: TaskType
    prediction: Prediction
    latency: Latency = Latency()
    data: DataSources
    ethics: Ethics
    kill_criteria: tuple[KillCriterion, ...] = Field(min_length=1)
    signals: DecisionSignals = DecisionSignals()
    experiment_ids: tuple[str, ...] = Field((), description="only these runs are evidence")
    ab_test: AbTestRule | None = None

    @field_validator("success_metric", mode="before")
    @classmethod
    def _metric_given(cls, value: object) -> object:
        if value in (None, "", {}):
            raise ValueError(
                "empty; say how success is measured: {description: ..., metric: roc_auc}"
            )
        if isinstance(value, str):
            raise ValueError(f"write it as {{description: {value!r}, metric: <metric name>}}")
        return value

    @field_validator("baseline", mode="before")
    @classmethod
    def _baseline_given(cls, value: object) -> object:
        if value in (None, "", {}):
            raise ValueError(
                "empty; describe what happens today without a model (a heuristic, a manual "
                "process, the majority class), e.g. {description: ..., metric_value: 0.7}"
            )
        return {"description": value} if isinstance(value, str) else value


def load_brief(path: Path) -> ProblemBrief:
    """Read and validate a brief; a relative ``data.path`` resolves next to the file."""
    raw = read_mapping(
        path, BriefError, "run `ragline frame` to write one", "name:, business_objective:, ..."
    )
    try:
        brief = ProblemBrief.model_validate(raw)
    except ValidationError as exc:
        lines = explain(exc, _HINTS, indent="  ")
        raise BriefError(f"{path}: invalid problem brief:\n{lines}") from exc
    if brief.data.path is not None and not brief.data.path.is_absolute():
        where = Path(os.path.normpath(path.parent / brief.data.path))  # no "a/../" in messages
        data = brief.data.model_copy(update={"path": where})
        brief = brief.model_copy(update={"data": data})
    return brief


TEMPLATE = """\
# Problem brief: fill in every empty value, then run `ragline frame {name}`.
name: ""
business_objective: ""          # what the business wants to change, in its own words
success_metric:                 # refused while empty
  description: ""               # the business measure, e.g. "share of letters that convert"
  metric: ""                    # what training records as its primary metric: roc_auc, rmse, ...
  target: null                  # the value that counts as success
baseline:                       # refused while empty
  description: ""               # what happens today: a heuristic, a manual process, nothing
  metric_value: null            # its value of success_metric.metric, when measured
task_type: binary_classification  # multiclass_classification | regression | ranking
prediction:
  target: ""                    # the column or event predicted
  consumer: ""                  # who or what acts on the prediction
latency: {{mode: batch, p95_ms: null}}  # online needs p95_ms
data:
  available: []                 # sources, one line each
  gaps: []                      # what is missing, biased or late
  path: null                    # a CSV/Parquet table for `ragline frame --decide`
  exclude_columns: []           # ids and leaks that are not features
ethics:
  considerations: []            # who could be harmed and how ("none identified, because ...")
  protected_attributes: []
kill_criteria:                  # when to stop; checked against recorded experiments
  - {{kind: baseline_ratio, threshold: 0.9}}    # the baseline reaches > 90% of the model
  - {{kind: beats_random_by, threshold: 0.1}}   # the model beats random by < 10%
signals: {{must_adapt: null, must_be_auditable: null, changes_faster_than_rules: null}}
"""


def write_brief_template(path: Path) -> Path:
    """Write an empty brief to `path`; refuses to overwrite an existing file."""
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(TEMPLATE.format(name=path.name))
    except FileExistsError as exc:
        raise BriefError(
            f"{path} exists; validate it with `ragline frame {path}` or remove it first"
        ) from exc
    except OSError as exc:  # no such folder, no permission
        raise BriefError(f"cannot write {path}: {exc}") from exc
    return path
