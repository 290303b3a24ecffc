"""ragline.mltrack.method.llm_choice: model tier by task, exact monthly costs from the shipped
configs/pricing.yaml, and the fine-tuning and self-hosting thresholds at both edges."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from ragline.core.pricing import Price, PriceTable
from ragline.mltrack.errors import DataError
from ragline.mltrack.method.gpu_plan import GpuTable
from ragline.mltrack.method.llm_choice import (
    FEW_SHOT_BELOW,
    FINE_TUNE_MIN_LABELLED,
    LORA_NARROW_MIN_LABELLED,
    PAYBACK_MONTHS,
    SELF_HOST_TOKENS_PER_DAY,
    Candidate,
    Demand,
    SelfHostCosts,
    Verdict,
    catalogue,
    fine_tune_verdict,
    monthly_cost,
    self_host_costs,
    self_host_verdict,
    suggest_llm,
    tier_of,
)
from tests.paths import CONFIGS

pytestmark = pytest.mark.unit
COSTS = SelfHostCosts(Decimal(300), Decimal(500), "test")  # bar: 300 / 3 = 100 a month


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.load(CONFIGS / "pricing.yaml")


def test_the_methodologys_thresholds() -> None:
    assert (FEW_SHOT_BELOW, LORA_NARROW_MIN_LABELLED, FINE_TUNE_MIN_LABELLED) == (100, 500, 1000)
    assert PAYBACK_MONTHS == 3
    assert SELF_HOST_TOKENS_PER_DAY == (1_000_000, 10_000_000)


@pytest.mark.parametrize(
    ("model", "tier"),
    [
        ("openai:gpt-4o-mini", "small"),
        ("anthropic:claude-haiku-4-5", "small"),
        ("openai:gpt-5-nano", "small"),
        ("openai:gpt-4.1-mini", "mid"),
        ("openai:gpt-5-mini", "mid"),
        ("openai:gpt-4o", "frontier"),
        ("anthropic:claude-sonnet-4-5", "frontier"),
        ("openai:text-embedding-3-small", "embedding"),
        ("local:all-MiniLM-L6-v2", "embedding"),
        ("vllm:llama-3.1-8b-instruct", "small"),
        ("local", None),
    ],
)
def test_tiers_by_name(model: str, tier: str | None) -> None:
    assert tier_of(model) == tier


def test_monthly_cost_is_exact_decimal_from_pricing_yaml(prices: PriceTable) -> None:
    # gpt-4o-mini: $0.15 in, $0.60 out per 1M tokens
    per_call, month = monthly_cost("openai:gpt-4o-mini", Demand(1_000, 500, 10), prices)
    assert per_call == Decimal("0.000081")  # (500 x 0.15 + 10 x 0.60) / 1e6
    assert month == Decimal("2.43")  # x 1,000 calls x 30 days
    _, month = monthly_cost("anthropic:claude-sonnet-4-5", Demand(2_000, 1_500, 600), prices)
    assert month == Decimal("810")  # (1,500 x 3 + 600 x 15) / 1e6 x 2,000 x 30


def test_the_catalogue_puts_configured_first_and_drops_snapshots_and_patterns(
    prices: PriceTable,
) -> None:
    names = [c.model for c in catalogue(prices, ["vllm:qwen", "openai:gpt-4o"])]
    assert names[:2] == ["vllm:qwen", "openai:gpt-4o"] and names.count("openai:gpt-4o") == 1
    assert (
        "openai:gpt-4o-2024-11-20" not in names
        and "anthropic:claude-sonnet-4-20250514" not in names
    )
    assert "local:*" not in names and "anthropic:claude-sonnet-4-5" in names
    # retired by the vendor (pricing.yaml marks it): billed if called, never suggested
    assert prices.price("anthropic:claude-opus-4-1") is not None
    assert "anthropic:claude-opus-4-1" not in names and "anthropic:claude-opus-4-5" in names


@pytest.mark.parametrize(
    ("task", "tier", "cheapest"),
    [
        ("classification", "small", "openai:gpt-5-nano"),
        ("extraction", "small", "openai:gpt-5-nano"),
        ("summarization", "mid", "openai:gpt-5-mini"),
        ("generation", "frontier", "openai:gpt-4.1"),
        ("code", "frontier", "openai:gpt-4.1"),
    ],
)
def test_cost_effective_is_the_cheapest_at_the_tasks_tier_best_the_priciest_of_it(
    prices: PriceTable, task: str, tier: str, cheapest: str
) -> None:
    demand = Demand.typical(task, 10_000)  # type: ignore[arg-type]
    advice = suggest_llm(task, demand, catalogue(prices, []), prices)  # type: ignore[arg-type]
    assert (advice.cost_effective.model, advice.cost_effective.tier, advice.best.tier) == (
        cheapest,
        tier,
        tier,
    )
    assert advice.best.usd_per_month >= advice.cost_effective.usd_per_month
    low, high = advice.cascade_usd_month or (None, None)
    assert (low, high) == (
        advice.best.usd_per_month * Decimal("0.30"),
        advice.best.usd_per_month * Decimal("0.60"),
    )


def test_embeddings_choose_between_local_and_api_embedding_models(prices: PriceTable) -> None:
    candidates = catalogue(prices, ["local:all-MiniLM-L6-v2"])
    advice = suggest_llm("embeddings", Demand.typical("embeddings", 10_000), candidates, prices)
    assert (advice.cost_effective.model, advice.cost_effective.usd_per_month) == (
        "local:all-MiniLM-L6-v2",
        Decimal(0),
    )
    assert advice.cost_effective.configured
    assert advice.best.model == "openai:text-embedding-3-large"
    assert advice.best.usd_per_month == Decimal("19.5")  # 500 x 0.13 / 1e6 x 10,000 x 30
    assert advice.cascade_usd_month is None and advice.fine_tune.decision == "n/a"


def test_a_configured_model_wins_a_price_tie_and_unranked_names_are_reported() -> None:
    same = Price(input=Decimal(1), output=Decimal(1))
    table = PriceTable({"a:x-nano": same, "b:y-nano": same, "c:mystery": same})
    candidates = [Candidate("a:x-nano"), Candidate("b:y-nano", True), Candidate("c:mystery", True)]
    advice = suggest_llm("classification", Demand(10, 100, 1), candidates, table)
    assert advice.cost_effective.model == "b:y-nano" and advice.best.model == "b:y-nano"
    assert advice.unranked == ("c:mystery",)


def test_no_priced_model_of_the_tier_says_where_to_add_one() -> None:
    table = PriceTable({"openai:gpt-4o-mini": Price(input=Decimal(1), output=Decimal(1))})
    with pytest.raises(DataError, match=r"llm\.deployments or configs/pricing\.yaml"):
        suggest_llm("code", Demand(10, 1, 1), catalogue(table, []), table)
    with pytest.raises(DataError, match="use one of"):
        suggest_llm("poetry", Demand(10, 1, 1), [], table)  # type: ignore[arg-type]


def verdict(
    task: str, labelled: int, large: str = "1000", costs: SelfHostCosts | None = COSTS
) -> Verdict:
    demand = Demand(1_000, 500, 10, labelled=labelled)
    return fine_tune_verdict(task, demand, Decimal(large), costs)  # type: ignore[arg-type]


def test_under_100_labelled_examples_few_shot() -> None:
    assert verdict("classification", 99).decision == "few-shot"
    assert verdict("classification", 100).decision == "prompt+rag"


def test_999_vs_1000_labelled_flips_the_verdict() -> None:
    assert verdict("summarization", 999).decision == "prompt+rag"
    assert "consider LoRA" in verdict("summarization", 999).reason
    assert verdict("summarization", 1000).decision == "fine-tune"


def test_classification_and_extraction_can_fine_tune_from_500_with_lora() -> None:
    for task in ("classification", "extraction"):
        assert verdict(task, 499).decision == "prompt+rag"
        assert verdict(task, 500).decision == "fine-tune"
    assert verdict("summarization", 500).decision == "prompt+rag"  # others need 1,000


def test_broad_tasks_do_not_fine_tune_whatever_the_examples() -> None:
    for task in ("generation", "code"):
        v = verdict(task, 100_000, large="1000000")
        assert (v.decision, v.pays_off) == ("no", False) and "not a narrow" in v.reason


def test_the_3_month_break_even() -> None:
    # saving = large - hosting 500; bar = training 300 / 3 = 100
    at = verdict("classification", 1000, large="600")
    assert (at.decision, at.pays_off, at.priced) == ("no", False, True)  # 100 is not > 100
    assert "saves $100.00/month ($600.00 API - $500.00 hosting)" in at.reason
    assert "training $300.00 / 3 = $100.00" in at.reason
    above = verdict("classification", 1000, large="600.01")
    assert (above.decision, above.pays_off) == ("fine-tune", True)
    below = verdict("classification", 1000, large="400")
    assert "saves -$100.00/month" in below.reason and not below.pays_off
    assert verdict("classification", 1000, costs=None).decision == "no"


def test_self_hosting_thresholds_are_1m_and_10m_tokens_a_day() -> None:
    def said(tokens_in: int, on_prem: bool = False) -> str:
        return self_host_verdict(Demand(1, tokens_in, 0, on_prem=on_prem), Decimal(584))

    assert "APIs are cheaper" in said(999_999)
    assert "compare" in said(1_000_000) and "compare" in said(9_999_999)
    assert "pays off" in said(10_000_000) and "$584.00/month" in said(10_000_000)
    assert "on-premises" in said(10, on_prem=True)


def test_self_host_costs_come_from_the_gpu_table() -> None:
    table = GpuTable.load(CONFIGS / "gpus.yaml")
    small = self_host_costs(Demand(1_000, 500, 10, labelled=1_000), table)
    # an 8B fp16 model (19.2 GB + 4.3 GB cache) on one L4 24GB all month; LoRA: 1 h on an A100 40GB
    assert small.hosting_usd_per_month == Decimal("0.80") * 730
    assert small.training_usd == Decimal("3.70")
    assert "1 x L4 24GB" in small.note
    # 0.15 x 2,500 tokens/s x 86,400 s = 32.4M tokens a day per L4: 40M needs two
    busy = self_host_costs(replace(Demand(1, 40_000_000, 0)), table)
    assert busy.hosting_usd_per_month == Decimal("0.80") * 730 * 2
