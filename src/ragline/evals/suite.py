"""Evaluation suites: a YAML file naming a dataset, the system under test, metrics and gates.

    suite = load_suite(Path("configs/evals/manpages.yaml"))
    results = evaluate_gates(aggregates, suite.gates)
    failed = [g for g in results if not g.passed]

Pure: parsing and checking only. ``system`` is a mapping of settings overrides that the caller
(``ragline eval``) layers over its own settings; evals never interprets it.

Two kinds of dataset: ``beir`` (corpus, queries, qrels: retrieval metrics) and ``golden`` (a
JSONL QA set plus the documents to ingest, ``corpus``: retrieval metrics against each item's
gold sources, generation metrics on the system's answers and, with a ``judge``, LLM-judged
ones). ``anchors`` are published or reference figures shown beside the run's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ragline.core.prompts import PromptError
from ragline.evals.judges.judge import DEFAULT_PROMPT_VERSION, MetricName, judge_prompt
from ragline.evals.judges.judge import METRICS as JUDGE_METRICS
from ragline.evals.metrics import generation
from ragline.evals.result import Aggregate
from ragline.evals.stats import Statistic, mean, median, p95

RETRIEVAL_AT_K = ("hit", "precision", "recall", "mrr", "ndcg")
RETRIEVAL_PLAIN = ("mrr", "map")
GENERATION_METRICS = (
    generation.EXACT_MATCH,
    generation.TOKEN_F1,
    generation.CITATION_PRECISION,
    generation.CITATION_RECALL,
    generation.ABSTENTION_ACCURACY,
    generation.ABSTENTION_PRECISION,
    generation.ABSTENTION_RECALL,
    generation.CONTEXT_OVERLAP,
    generation.EMBEDDING_SIMILARITY,
)
# what the system costs per item, measured on every golden run (not deterministic: a rerun's
# latency differs): seconds from question to checked answer, and the answer's dollars
LATENCY_P50, LATENCY_P95, COST_PER_QUERY = "latency_p50", "latency_p95", "cost_per_query"
SYSTEM_METRICS = (LATENCY_P50, LATENCY_P95, COST_PER_QUERY)
# the RAG checklist's latency bounds: an interactive answer within 3 s, a complex one within 30 s
INTERACTIVE_P95_S, COMPLEX_P95_S = 3.0, 30.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SuiteError(ValueError):
    """A suite file that cannot be used as it stands; the message names the file and key path.

    Example:
        >>> str(SuiteError(Path("s.yaml"), "gates.0.metric: unknown"))
        's.yaml: gates.0.metric: unknown'
    """

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_Strict):
    """Where the labelled data is; relative paths are relative to the suite file.

    ``beir``: ``path`` is a BEIR folder (its corpus is ingested). ``golden``: ``path`` is a
    JSONL QA set and ``corpus`` the files or folder to ingest (sources are ``source_document``
    values, i.e. paths relative to the ingest root).
    """

    kind: Literal["beir", "golden"] = "beir"
    path: Path
    split: str = "test"
    corpus: Path | None = None

    @model_validator(mode="after")
    def _corpus(self) -> DatasetSpec:
        if self.kind == "golden" and self.corpus is None:
            raise ValueError("a golden dataset needs corpus: the documents to ingest and ask")
        if self.kind == "beir" and self.corpus is not None:
            raise ValueError("corpus is for golden datasets; a BEIR folder holds its own")
        return self


class JudgeSpec(_Strict):
    """Who grades the LLM-judged metrics: a router model, through our prompts or ragas.

    `prompt_version` picks our templates, configs/prompts/judge-<metric>/v<N>.yaml, for every
    judged metric (one version number for the family; ragas brings its own prompts).

    Example:
        >>> JudgeSpec(model="openai:gpt-4o-mini", via="ragas").workers
        4
    """

    model: str | None = None  # "provider:model"; null: the system's own llm settings
    via: Literal["ragline", "ragas"] = "ragline"
    workers: int = Field(4, ge=1, le=64)
    max_tokens: int | None = Field(None, ge=16)
    retry_unparseable: bool = True
    prompt_version: int = Field(DEFAULT_PROMPT_VERSION, ge=1)


class Anchor(_Strict):
    """A reference figure shown beside the run's own, e.g. a published baseline.

    Example:
        >>> Anchor(metric="ndcg@10", value=0.66, source="BEIR paper, BM25 on SciFact").value
        0.66
    """

    metric: str
    value: float
    source: str


class Gate(_Strict):
    """A threshold a metric must meet: ``min <= value <= max`` (give at least one bound).

    Example:
        >>> Gate(metric="ndcg@10", min=0.85).min
        0.85
    """

    metric: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Gate:
        if self.min is None and self.max is None:
            raise ValueError(f"gate on {self.metric!r} has no bound; give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"gate on {self.metric!r}: min {self.min} is above max {self.max}")
        return self


class LimitsSpec(_Strict):
    """The golden suite's service bounds, checked as gates on every run: p95 answer latency
    (3 s, the RAG checklist's interactive bound; 30 s for complex questions; null: no gate)
    and the mean answer cost per question against a budget (null: no gate).

    Example:
        >>> [(g.metric, g.max) for g in LimitsSpec(cost_per_query_usd=0.002).gates()]
        [('latency_p95', 3.0), ('cost_per_query', 0.002)]
    """

    latency_p95_s: float | None = Field(INTERACTIVE_P95_S, gt=0)
    cost_per_query_usd: float | None = Field(None, ge=0)

    def gates(self) -> tuple[Gate, ...]:
        """The bounds as gates (metric <= bound)."""
        out = []
        if self.latency_p95_s is not None:
            out.append(Gate(metric=LATENCY_P95, max=self.latency_p95_s))
        if self.cost_per_query_usd is not None:
            out.append(Gate(metric=COST_PER_QUERY, max=self.cost_per_query_usd))
        return tuple(out)


class BootstrapSpec(_Strict):
    """Seeded percentile-bootstrap settings for every confidence interval of the run."""

    resamples: int = Field(1000, ge=1)
    seed: int = 0


class SuiteConfig(_Strict):
    """One evaluation suite, as read from ``configs/evals/<name>.yaml``.

    Example:
        >>> suite = SuiteConfig(name="demo", dataset={"path": "data/demo"}, ks=[1, 10])
        >>> suite.collection_name, suite.metrics[0]
        ('eval-demo', 'ndcg@10')
    """

    name: str
    dataset: DatasetSpec
    system: dict[str, object] = Field(default_factory=dict)  # settings overrides (YAML mapping)
    collection: str | None = None
    ks: tuple[int, ...] = (1, 3, 10, 100)
    metrics: tuple[str, ...] = ("ndcg@10", "recall@10", "mrr@10", "map")
    gates: tuple[Gate, ...] = ()
    slice_by: tuple[str, ...] = ()  # query metadata fields to slice the metrics by (e.g. kind)
    bootstrap: BootstrapSpec = BootstrapSpec()
    judge: JudgeSpec | None = None
    anchors: tuple[Anchor, ...] = ()
    plots: bool = True  # PNGs beside the reports: PR curve, calibration, per-slice bars
    limits: LimitsSpec = LimitsSpec()  # golden suites: latency and cost-per-question gates

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' (it names folders and runs)")
        return value

    @field_validator("ks")
    @classmethod
    def _ks(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(k < 1 for k in value):
            raise ValueError("give one or more positive cut-offs, e.g. [1, 3, 10, 100]")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _names_known(self) -> SuiteConfig:
        known = known_metrics(self.ks, self.dataset.kind)
        for i, metric in enumerate(self.metrics):
            if metric not in known:
                raise ValueError(f"metrics.{i}: {_unknown(metric, self.ks, self.dataset.kind)}")
            if metric in JUDGE_METRICS and self.judge is None:
                raise ValueError(
                    f"metrics.{i}: {metric!r} is LLM-judged; add judge: {{model: provider:model}}"
                )
        if not self.metrics:
            raise ValueError("metrics is empty; list what to report, e.g. [ndcg@10, map]")
        for i, gate in enumerate(self.gates):
            if gate.metric not in self.measured_metrics:
                raise ValueError(
                    f"gates.{i}.metric: {gate.metric!r} is not computed by this suite; "
                    f"add it to metrics (now {', '.join(self.metrics)}) or fix the name"
                )
        return self

    @model_validator(mode="after")
    def _judge_prompts_exist(self) -> SuiteConfig:
        """Every judged metric's template at the chosen version, found and usable, before
        anything is ingested or asked."""
        version = self.judge.prompt_version if self.judge is not None else DEFAULT_PROMPT_VERSION
        for metric in self.judge_prompts:
            try:
                judge_prompt(metric, version)
            except PromptError as exc:
                raise ValueError(f"judge.prompt_version: {exc}") from None
        return self

    @property
    def collection_name(self) -> str:
        """The collection the suite's corpus is ingested into."""
        return self.collection or f"eval-{self.name}"

    @property
    def measured_metrics(self) -> tuple[str, ...]:
        """`metrics`, then (golden suites) the system metrics the suite did not list: latency
        and cost are measured on every answered run, so its limits can gate them."""
        if self.dataset.kind != "golden":
            return self.metrics
        return (*self.metrics, *(m for m in SYSTEM_METRICS if m not in self.metrics))

    @property
    def all_gates(self) -> tuple[Gate, ...]:
        """`gates`, then (golden suites) `limits` as gates on metrics no listed gate bounds."""
        if self.dataset.kind != "golden":
            return self.gates
        listed = {g.metric for g in self.gates}
        return (*self.gates, *(g for g in self.limits.gates() if g.metric not in listed))

    @property
    def depth(self) -> int:
        """How many documents to retrieve per query: the largest cut-off."""
        return max(self.ks)

    @property
    def judged_metrics(self) -> tuple[str, ...]:
        """The suite's LLM-judged metrics, in its order."""
        return tuple(m for m in self.metrics if m in JUDGE_METRICS)

    @property
    def judge_prompts(self) -> tuple[MetricName, ...]:
        """The judged metrics graded through our templates (none when ragas judges)."""
        if self.judge is None or self.judge.via != "ragline":
            return ()
        return tuple(m for m in JUDGE_METRICS if m in self.metrics)


def statistic_of(metric: str) -> Statistic:
    """How a metric's per-item values become its figure: a percentile for the latency metrics,
    the mean for every other one.

    Example:
        >>> statistic_of("latency_p95") is p95, statistic_of("ndcg@10") is mean
        (True, True)
    """
    return {LATENCY_P50: median, LATENCY_P95: p95}.get(metric, mean)


def known_metrics(ks: Sequence[int], kind: str = "beir") -> frozenset[str]:
    """Every metric name a suite with these cut-offs and this kind of dataset can report."""
    retrieval = frozenset(RETRIEVAL_PLAIN) | {f"{m}@{k}" for m in RETRIEVAL_AT_K for k in ks}
    if kind == "golden":
        return retrieval | set(GENERATION_METRICS) | set(JUDGE_METRICS) | set(SYSTEM_METRICS)
    return retrieval


def _unknown(metric: str, ks: Sequence[int], kind: str) -> str:
    base, _, k = metric.partition("@")
    if base in RETRIEVAL_AT_K and k.isdigit():
        return f"{metric!r} needs cut-off {k}; add {k} to ks (now {list(ks)})"
    if kind == "beir" and metric in (*GENERATION_METRICS, *JUDGE_METRICS, *SYSTEM_METRICS):
        return f"{metric!r} scores answers; it needs a golden dataset (kind: golden)"
    names = ", ".join((*RETRIEVAL_PLAIN, *(f"{m}@K" for m in RETRIEVAL_AT_K)))
    if kind == "golden":
        names += ", " + ", ".join((*GENERATION_METRICS, *JUDGE_METRICS, *SYSTEM_METRICS))
    return f"unknown metric {metric!r}; {kind} suites report {names}"


def load_suite(path: Path) -> SuiteConfig:
    """Read and check a suite file; the dataset path comes back resolved against its folder."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SuiteError(
            path, f"cannot read the suite file ({exc.strerror}); check the path"
        ) from None
    except yaml.YAMLError as exc:
        raise SuiteError(path, f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SuiteError(path, "must hold a YAML mapping (name, dataset, metrics, gates, ...)")
    try:
        suite = SuiteConfig.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(path, _explain(exc)) from None
    spec = suite.dataset
    update = {"path": _beside(path, spec.path)}
    if spec.corpus is not None:
        update["corpus"] = _beside(path, spec.corpus)
    return suite.model_copy(update={"dataset": spec.model_copy(update=update)})


def _beside(suite_file: Path, path: Path) -> Path:
    return path if path.is_absolute() else (suite_file.parent / path).resolve()


def _explain(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key; remove it or fix its spelling"
        # cross-field checks carry their own key path in the message (loc is empty)
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)


@dataclass(frozen=True, slots=True)
class GateResult:
    """Whether one gate held; ``reason`` says why it failed (empty when it passed).

    Example:
        >>> agg = Aggregate("map", 0.5, measured=4, unmeasured=0)
        >>> evaluate_gates({"map": agg}, [Gate(metric="map", min=0.6)])[0].reason
        'map = 0.5000 is below min 0.6'
    """

    metric: str
    value: float | None
    min: float | None
    max: float | None
    passed: bool
    reason: str


def evaluate_gates(aggregates: Mapping[str, Aggregate], gates: Sequence[Gate]) -> list[GateResult]:
    """Check each gate; a metric that was not measured (None or absent) fails, never passes."""
    results = []
    for gate in gates:
        agg = aggregates.get(gate.metric)
        value = agg.value if agg is not None else None
        reason = ""
        if agg is None:
            reason = f"{gate.metric} was not computed in this run"
        elif value is None:
            reason = (
                f"{gate.metric} could not be measured on any item ({agg.unmeasured} unmeasured)"
            )
        elif gate.min is not None and value < gate.min:
            reason = f"{gate.metric} = {value:.4f} is below min {gate.min}"
        elif gate.max is not None and value > gate.max:
            reason = f"{gate.metric} = {value:.4f} is above max {gate.max}"
        results.append(GateResult(gate.metric, value, gate.min, gate.max, not reason, reason))
    return results
