"""Which LLM for a task: the best and the cost-effective option, their monthly cost at a volume,
and whether fine-tuning or self-hosting would pay off. Pure functions over the price table.

    demand = Demand.typical("classification", calls_per_day=50_000, labelled=1_200)
    costs = self_host_costs(demand, GpuTable.load(Path("configs/gpus.yaml")))
    advice = suggest_llm("classification", demand, catalogue(table, ["openai:gpt-4o-mini"]),
                         table, costs)
    advice.best.model, advice.cost_effective.usd_per_month, advice.fine_tune.decision

The methodology's rules, as named constants below:

- Model by task: classification / extraction -> a small model (GPT-4o-mini / Claude Haiku class);
  summarization -> mid-size; generation and code -> frontier (GPT-4o / Claude Sonnet class);
  embeddings -> an embedding model (local sentence-transformers for cost, an API for quality).
  "Start with the cheapest model that meets the quality bar; route small -> large (saves 40-70%)."
  So `cost_effective` is the cheapest model of the task's tier or above, and `best` the priciest
  of that tier (within a tier, price stands in for capability; no benchmark is consulted).
- Fine-tuning pays off when the task is narrow and stable, there are >= 1,000 labelled examples
  (>= 500 for classification / extraction, with LoRA), and the per-call savings repay training
  within ~3 months: monthly API cost of the large model - monthly cost of the fine-tuned small
  model > training cost / 3. Below 100 examples: few-shot prompting; 100-1,000: prompt
  engineering + RAG first, consider LoRA.
- Self-hosting an open model pays off above roughly 1M-10M tokens/day sustained, or when data must
  stay on-premises; below that APIs are cheaper.

The fine-tuned small model is an 8B open model with a LoRA adapter, served on the cheapest GPU of
the GPU table that holds it (`self_host_costs`): its cost is GPU-hours, not tokens.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Literal, get_args

from ragline.core.chat import Usage
from ragline.core.pricing import PriceTable
from ragline.mltrack.errors import DataError
from ragline.mltrack.method.gpu_plan import GpuTable, Workload, choose_gpu, vram_needed

Task = Literal["classification", "extraction", "summarization", "generation", "code", "embeddings"]
TASKS: tuple[Task, ...] = get_args(Task)
Tier = Literal["small", "mid", "frontier", "embedding"]
Decision = Literal["few-shot", "prompt+rag", "fine-tune", "no", "n/a"]
# methodology: the smallest model tier that usually meets the quality bar for each task
TASK_TIER: dict[Task, Tier] = {
    "classification": "small",
    "extraction": "small",
    "summarization": "mid",
    "generation": "frontier",
    "code": "frontier",
    "embeddings": "embedding",
}
TIER_RANK: dict[Tier, int] = {"small": 1, "mid": 2, "frontier": 3, "embedding": 0}
# A model's tier from its name (after "provider:"); the first tier with a matching pattern wins.
TIER_PATTERNS: tuple[tuple[Tier, tuple[str, ...]], ...] = (
    ("embedding", ("*embedding*", "*embed*", "*minilm*", "bge-*", "*e5-*")),
    ("small", ("gpt-4o-mini*", "*nano*", "*haiku*", "*-1b*", "*-3b*", "*-7b*", "*-8b*")),
    ("mid", ("gpt-4.1-mini*", "gpt-5-mini*", "o4-mini*", "o3-mini*", "*-14b*", "*-32b*")),
    ("frontier", ("gpt-4o*", "gpt-4.1*", "gpt-5*", "o3*", "*sonnet*", "*opus*", "*-70b*")),
)
# Typical tokens per call (in, out) when the caller gives none.
TYPICAL_TOKENS: dict[Task, tuple[int, int]] = {
    "classification": (500, 10),
    "extraction": (1_000, 200),
    "summarization": (3_000, 300),
    "generation": (1_500, 600),
    "code": (2_000, 800),
    "embeddings": (500, 0),
}
FEW_SHOT_BELOW = 100  # methodology: under 100 labelled examples, few-shot prompting
FINE_TUNE_MIN_LABELLED = 1_000  # methodology: >= 1,000 labelled examples to fine-tune
LORA_NARROW_MIN_LABELLED = 500  # methodology: >= 500 can work for classification/extraction (LoRA)
LORA_NARROW_TASKS: frozenset[Task] = frozenset({"classification", "extraction"})
# methodology: fine-tuning needs a narrow, stable task; open-ended generation and code are not
NARROW_TASKS: frozenset[Task] = frozenset({"classification", "extraction", "summarization"})
PAYBACK_MONTHS = 3  # methodology: savings repay the training within ~3 months
SELF_HOST_TOKENS_PER_DAY = (1_000_000, 10_000_000)  # methodology: self-hosting pays off above
CASCADE_SAVINGS = (Decimal("0.40"), Decimal("0.70"))  # methodology: small -> large saves 40-70%
DAYS_PER_MONTH = 30
FINE_TUNED_PARAMS = 8e9  # the fine-tuned small open model (Llama-3.1-8B class)
# Tokens/s (prompt + output) one GPU of throughput 1.0 (A100 80GB) serves an 8B model with
# continuous batching, and trains it with LoRA; estimates, replace them with a measurement.
SERVE_TOKENS_PER_S = 2_500
TRAIN_TOKENS_PER_S = 3_000
TRAIN_EPOCHS = 3
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")  # a dated snapshot of an alias


@dataclass(frozen=True, slots=True)
class Demand:
    """Calls per day, tokens per call, labelled examples at hand, whether data must stay on-prem.

    Example:
        >>> Demand(10_000, 500, 10).tokens_per_day
        5100000
    """

    calls_per_day: int
    tokens_in: int
    tokens_out: int
    labelled: int = 0
    on_prem: bool = False

    @property
    def tokens_per_day(self) -> int:
        """Prompt plus output tokens a day."""
        return self.calls_per_day * (self.tokens_in + self.tokens_out)

    @classmethod
    def typical(cls, task: Task, calls_per_day: int, labelled: int = 0) -> Demand:
        """`calls_per_day` calls of `TYPICAL_TOKENS[task]` each."""
        tokens_in, tokens_out = TYPICAL_TOKENS[task]
        return cls(calls_per_day, tokens_in, tokens_out, labelled)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A model to consider, "provider:model"; `configured`: one of llm's deployments.

    Example:
        >>> Candidate("openai:gpt-4o-mini", configured=True).tier
        'small'
    """

    model: str
    configured: bool = False

    @property
    def tier(self) -> Tier | None:
        """The model's tier (`tier_of`)."""
        return tier_of(self.model)


def tier_of(model: str) -> Tier | None:
    """small / mid / frontier / embedding by `TIER_PATTERNS`; None for a name none matches.

    Example:
        >>> tier_of("openai:gpt-4.1-mini"), tier_of("anthropic:claude-sonnet-4-5")
        ('mid', 'frontier')
    """
    name = model.partition(":")[2].lower() or model.lower()
    for tier, patterns in TIER_PATTERNS:
        if any(fnmatchcase(name, p) for p in patterns):
            return tier
    return None


def catalogue(prices: PriceTable, configured: Sequence[str]) -> tuple[Candidate, ...]:
    """The configured models, then every priced model by exact name (dated snapshots of an
    alias, patterns such as "local:*" and models marked `retired` left out), each once."""
    seen: dict[str, Candidate] = {m: Candidate(m, configured=True) for m in configured}
    for name in prices.models:
        price = prices.price(name)
        if price is not None and price.retired:  # the vendor no longer serves it
            continue
        if not set("*?[") & set(name) and not _SNAPSHOT.search(name) and name not in seen:
            seen[name] = Candidate(name)
    return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class Option:
    """One recommended model with its cost at the demand and why it was picked.

    Example:
        >>> option.model, option.usd_per_month      # doctest: +SKIP
        ('openai:gpt-5-nano', Decimal('5.70'))
    """

    role: str
    model: str
    tier: Tier
    configured: bool
    usd_per_call: Decimal
    usd_per_month: Decimal
    why: str


def monthly_cost(model: str, demand: Demand, prices: PriceTable) -> tuple[Decimal, Decimal]:
    """(USD per call, USD per month) of `demand` on `model`, exact, from the price table.

    Example:
        >>> monthly_cost("openai:gpt-4o-mini", Demand(1_000, 500, 10), table)  # doctest: +SKIP
        (Decimal('0.000081'), Decimal('2.430000'))
    """
    per_call = prices.cost(model, Usage(demand.tokens_in, demand.tokens_out))
    return per_call, per_call * demand.calls_per_day * DAYS_PER_MONTH


@dataclass(frozen=True, slots=True)
class SelfHostCosts:
    """What the fine-tuned small open model costs: one-off LoRA training, GPUs held all month.

    Example:
        >>> SelfHostCosts(Decimal("3.70"), Decimal("584"), "LoRA on 1 x A100 40GB").training_usd
        Decimal('3.70')
    """

    training_usd: Decimal
    hosting_usd_per_month: Decimal
    note: str


def self_host_costs(
    demand: Demand, gpus: GpuTable, params: float = FINE_TUNED_PARAMS
) -> SelfHostCosts:
    """LoRA training (labelled examples x epochs on the cheapest GPU that holds it, whole hours,
    at least one) and serving replicas for `demand`'s tokens a day, from the GPU table."""
    serve = choose_gpu(vram_needed(params, Workload(context=4096, batch=8)), gpus).choice
    per_replica = serve.throughput * SERVE_TOKENS_PER_S * 86_400
    replicas = max(1, math.ceil(demand.tokens_per_day / per_replica))
    train = choose_gpu(vram_needed(params, Workload(context=2048, batch=4, purpose="lora")), gpus)
    tokens = max(demand.labelled, 1) * (demand.tokens_in + demand.tokens_out) * TRAIN_EPOCHS
    hours = max(1, math.ceil(tokens / (train.choice.throughput * TRAIN_TOKENS_PER_S) / 3600))
    note = (
        f"LoRA {params / 1e9:g}B: {hours} h on {train.choice.count} x {train.choice.gpu.name}; "
        f"served on {replicas * serve.count} x {serve.gpu.name} all month"
    )
    hosting = serve.usd_per_month * replicas
    return SelfHostCosts(train.choice.usd_per_hour * hours, hosting, note)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The fine-tuning decision, with the numbers behind it.

    Example:
        >>> fine_tune_verdict("classification", Demand(10, 500, 10, labelled=50),
        ...                   Decimal(1), None).decision
        'few-shot'
    """

    decision: Decision
    pays_off: bool
    reason: str
    priced: bool = False  # the 3-month break-even was computed


def fine_tune_verdict(
    task: Task, demand: Demand, large_usd_month: Decimal, costs: SelfHostCosts | None
) -> Verdict:
    """The methodology's table: examples first, then narrowness, then the 3-month break-even
    (`large_usd_month` - hosting > training / `PAYBACK_MONTHS`)."""
    n = demand.labelled
    if task == "embeddings":
        return Verdict("n/a", False, "the fine-tuning table covers generative tasks")
    if n < FEW_SHOT_BELOW:
        return Verdict("few-shot", False, f"{n:,} labelled < {FEW_SHOT_BELOW}: few-shot prompting")
    needed = LORA_NARROW_MIN_LABELLED if task in LORA_NARROW_TASKS else FINE_TUNE_MIN_LABELLED
    if n < needed:
        why = f"{n:,} labelled < {needed:,}: prompt engineering + RAG first, consider LoRA"
        return Verdict("prompt+rag", False, why)
    if task not in NARROW_TASKS:
        why = f"{task} is not a narrow, stable task: prompt + RAG on a frontier model instead"
        return Verdict("no", False, why)
    if costs is None:
        return Verdict("no", False, "no GPU table to price training and hosting")
    saving = large_usd_month - costs.hosting_usd_per_month
    bar = costs.training_usd / PAYBACK_MONTHS
    hosting = costs.hosting_usd_per_month
    numbers = (
        f"saves {_usd(saving)}/month (${large_usd_month:,.2f} API - ${hosting:,.2f} hosting)"
        f" vs training ${costs.training_usd:,.2f} / {PAYBACK_MONTHS} = ${bar:,.2f}"
    )
    if saving > bar:
        return Verdict(
            "fine-tune", True, f"{numbers}: pays back within {PAYBACK_MONTHS} months", True
        )
    return Verdict(
        "no", False, f"{numbers}: does not pay back within {PAYBACK_MONTHS} months", True
    )


def _usd(amount: Decimal) -> str:
    """-$284.00 rather than $-284.00."""
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


def self_host_verdict(demand: Demand, hosting_usd_month: Decimal | None = None) -> str:
    """APIs, or an open model on your GPUs, by tokens a day (and on-prem data)."""
    low, high = SELF_HOST_TOKENS_PER_DAY
    tokens = demand.tokens_per_day
    gpu = "" if hosting_usd_month is None else f" (GPUs ${hosting_usd_month:,.2f}/month)"
    if demand.on_prem:
        return f"data must stay on-premises: self-host an open model{gpu}"
    if tokens < low:
        return f"{tokens:,} tokens/day < {low:,}: APIs are cheaper than self-hosting"
    if tokens < high:
        return f"{tokens:,} tokens/day in {low:,}-{high:,}: compare the API cost with GPUs{gpu}"
    return f"{tokens:,} tokens/day >= {high:,}: self-hosting an open model pays off{gpu}"


@dataclass(frozen=True, slots=True)
class LlmAdvice:
    """`suggest_llm`'s answer: two options, the cascade's range, two verdicts, what was skipped."""

    task: Task
    demand: Demand
    best: Option
    cost_effective: Option
    cascade_usd_month: tuple[Decimal, Decimal] | None
    fine_tune: Verdict
    self_host: str
    unranked: tuple[str, ...]


def _priced(
    candidates: Sequence[Candidate], tier: Tier, demand: Demand, prices: PriceTable
) -> list[tuple[Candidate, Tier, Decimal, Decimal]]:
    """Candidates that meet `tier` (same tier for embeddings) and have a price."""
    rows = []
    for c in candidates:
        t = c.tier
        if t is None or prices.price(c.model) is None:
            continue
        meets = (
            t == tier
            if tier == "embedding"
            else t != "embedding" and TIER_RANK[t] >= TIER_RANK[tier]
        )
        if meets:
            rows.append((c, t, *monthly_cost(c.model, demand, prices)))
    return rows


def suggest_llm(
    task: Task,
    demand: Demand,
    candidates: Sequence[Candidate],
    prices: PriceTable,
    costs: SelfHostCosts | None = None,
) -> LlmAdvice:
    """Best (the priciest of the task's tier) and cost-effective (the cheapest at or above it)
    among `candidates`, with the fine-tuning and self-hosting verdicts. DataError when no
    priced candidate meets the tier."""
    if task not in TASKS:
        raise DataError(f"task {task!r}: use one of {', '.join(TASKS)}")
    tier = TASK_TIER[task]
    rows = _priced(candidates, tier, demand, prices)
    if not rows:
        raise DataError(
            f"no priced {tier} model for {task}: add one to llm.deployments or configs/pricing.yaml"
        )
    # configured first on ties: what is already wired beats an equal stranger
    cheap = min(rows, key=lambda r: (r[3], not r[0].configured, r[0].model))
    same_tier = [r for r in rows if r[1] == tier]
    best = max(same_tier, key=lambda r: (r[3], r[0].configured, r[0].model))
    best_opt = Option(
        "best",
        best[0].model,
        best[1],
        best[0].configured,
        best[2],
        best[3],
        f"the priciest {tier} model (price stands in for capability)",
    )
    cheap_opt = Option(
        "cost-effective",
        cheap[0].model,
        cheap[1],
        cheap[0].configured,
        cheap[2],
        cheap[3],
        f"the cheapest at {tier} or above: start here",
    )
    cascade = None
    if tier != "embedding" and best_opt.model != cheap_opt.model:
        low, high = CASCADE_SAVINGS
        cascade = (best_opt.usd_per_month * (1 - high), best_opt.usd_per_month * (1 - low))
    # the hosting figure is an 8B chat model's; an embedding model runs on far less
    hosting = costs.hosting_usd_per_month if costs is not None and tier != "embedding" else None
    return LlmAdvice(
        task,
        demand,
        best_opt,
        cheap_opt,
        cascade,
        fine_tune_verdict(task, demand, best_opt.usd_per_month, costs),
        self_host_verdict(demand, hosting),
        tuple(c.model for c in candidates if c.configured and c.tier is None),
    )
