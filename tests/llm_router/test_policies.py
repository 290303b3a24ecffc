"""Routing policies: pure functions, tested exhaustively and with property tests."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ragline.core.chat import Completion, Usage
from ragline.core.pricing import PriceTable
from ragline.llm_router.policies import (
    DEFAULT_TIERS,
    Deployment,
    ab_order,
    cascade_order,
    cheapest_in_tier,
    escalation,
    fixed,
    unranked_tiers,
    weighted_choice,
)
from tests.paths import REPO

pytestmark = pytest.mark.unit

PRICING = REPO / "configs" / "pricing.yaml"
NANO = Deployment(model="openai:gpt-4.1-nano", tier="cheap", quality=1)
MINI = Deployment(model="openai:gpt-4o-mini", tier="cheap", quality=2)
HAIKU = Deployment(model="anthropic:claude-3-5-haiku-latest", tier="cheap", quality=2)
BIG = Deployment(model="openai:gpt-4.1", tier="smart", quality=5)
ABSTAIN = ("I don't have enough information", "cannot answer")


def _answer(text: str = "Paris [1]", confidence: float | None = None) -> Completion:
    return Completion(text, "openai:gpt-4o-mini", Usage(10, 3), 12.0, confidence=confidence)


# --- Deployment --------------------------------------------------------------------------------


def test_deployment_defaults_and_validation() -> None:
    d = Deployment(model="vllm:llama-3.1-8b/lora-a")
    assert (d.tier, d.weight, d.quality) == ("default", 1.0, 0)
    assert Deployment(model="extractive").model == "extractive"  # the provider's default model
    for bad in [":gpt-4o", "openai:", "", " openai:gpt-4o"]:
        with pytest.raises(ValidationError, match="provider:model"):
            Deployment(model=bad)
    for weight in [0.0, -1.0, float("inf"), float("nan")]:
        with pytest.raises(ValidationError):
            Deployment(model="p:m", weight=weight)
    with pytest.raises(ValidationError):
        Deployment(model="p:m", priority=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        d.weight = 2.0  # type: ignore[misc]


# --- fixed --------------------------------------------------------------------------------------


def test_fixed_returns_the_named_deployment() -> None:
    assert fixed([NANO, MINI, BIG], "openai:gpt-4o-mini") == [MINI]
    twin = Deployment(model=MINI.model, tier="other")
    assert fixed([twin, MINI], MINI.model) == [twin]  # the first of several


def test_fixed_unknown_name_lists_the_known_models() -> None:
    with pytest.raises(ValueError, match="gpt-5") as info:
        fixed([NANO, BIG], "openai:gpt-5")
    assert "known models: openai:gpt-4.1, openai:gpt-4.1-nano" in str(info.value)
    with pytest.raises(ValueError, match="known models: none"):
        fixed([], "openai:gpt-5")
    with pytest.raises(ValueError):
        fixed([NANO], "gpt-4.1-nano")  # the provider is part of the name
    with pytest.raises(ValueError):
        fixed([NANO], "openai")  # a bare provider is not any of its models


# --- cascade_order -----------------------------------------------------------------------------


def test_cascade_goes_from_low_to_high_quality_ties_by_name() -> None:
    assert cascade_order([BIG, MINI, NANO, HAIKU]) == [NANO, HAIKU, MINI, BIG]
    assert cascade_order([]) == []
    given_order = [BIG, NANO]
    cascade_order(given_order)
    assert given_order == [BIG, NANO]  # the input is not reordered in place


def test_cascade_orders_by_tier_before_quality() -> None:
    rated_high = Deployment(model="openai:gpt-4.1-nano", tier="cheap", quality=9)
    rated_low = Deployment(model="openai:gpt-4.1", tier="smart", quality=0)
    middle = Deployment(model="vllm:llama-8b", quality=5)  # tier "default"
    assert DEFAULT_TIERS == ("cheap", "default", "smart")
    assert cascade_order([rated_low, middle, rated_high]) == [rated_high, middle, rated_low]
    custom = ("smart", "cheap", "default")  # a ranking of one's own, lowest first
    assert cascade_order([rated_high, middle, rated_low], custom) == [rated_low, rated_high, middle]


def test_cascade_refuses_a_tier_it_cannot_rank() -> None:
    fast = Deployment(model="openai:gpt-4o-mini", tier="fast")
    with pytest.raises(ValueError, match=r"tiers \['fast'\] are not ranked.*llm\.cascade\.tiers"):
        cascade_order([NANO, fast])
    assert unranked_tiers([NANO, fast, BIG], ("cheap",)) == ["fast", "smart"]
    assert cascade_order([fast, NANO], ("fast", "cheap")) == [fast, NANO]


_models = st.sampled_from(["a:x", "a:y", "b:x", "c:long-model-name", "d:1"])
_deployments = st.builds(
    Deployment,
    model=_models,
    tier=st.sampled_from(["default", "cheap", "smart"]),
    weight=st.floats(min_value=0.01, max_value=100, allow_nan=False),
    quality=st.integers(min_value=-3, max_value=3),
)


@given(st.lists(_deployments, max_size=12))
def test_cascade_order_properties(deployments: list[Deployment]) -> None:
    ordered = cascade_order(deployments)
    assert Counter(map(repr, ordered)) == Counter(map(repr, deployments))  # a permutation

    def key(d: Deployment) -> tuple[int, int, str]:
        return (DEFAULT_TIERS.index(d.tier), d.quality, d.model)

    keys = [key(d) for d in ordered]
    assert keys == sorted(keys)
    assert cascade_order(ordered) == ordered  # idempotent
    reversed_keys = [key(d) for d in cascade_order(deployments[::-1])]
    assert reversed_keys == keys  # the input order only matters between equal deployments
    for k in set(keys):  # ...and there it is kept (a stable sort)
        given_ids = [id(d) for d in deployments if key(d) == k]
        assert [id(d) for d in ordered if key(d) == k] == given_ids


# --- escalation --------------------------------------------------------------------------------


def _escalate(
    completion: Completion,
    min_confidence: float | None = 0.6,
    validate: Callable[[str], bool] | None = None,
    phrases: tuple[str, ...] = ABSTAIN,
) -> str | None:
    return escalation(
        completion, min_confidence=min_confidence, validate=validate, abstain_phrases=phrases
    )


def test_no_reason_keeps_the_answer() -> None:
    assert _escalate(_answer(confidence=0.9), validate=lambda t: True) is None
    assert _escalate(_answer(confidence=0.6)) is None  # at the threshold is not below it
    assert _escalate(_answer(confidence=None)) is None  # unknown confidence is never low
    assert _escalate(_answer(confidence=0.1), min_confidence=None) is None
    assert _escalate(_answer("I cannot answer"), phrases=()) is None


def test_each_reason_alone() -> None:
    assert _escalate(_answer(confidence=0.59)) == "low_confidence"
    assert _escalate(_answer(confidence=0.9), validate=lambda t: False) == "invalid_output"
    text = "Sorry, I don't have enough information to say."
    assert _escalate(_answer(text, confidence=0.9)) == "abstained"


@pytest.mark.parametrize(
    "text",
    [
        "I DON'T HAVE ENOUGH INFORMATION.",
        "i don\u2019t have enough information",  # curly apostrophe, as models often write
        "I don't have\nenough   information",  # wrapped lines
        "The context does not say, so I cannot answer.",
    ],
)
def test_abstain_phrases_match_case_quotes_and_spacing_insensitively(text: str) -> None:
    assert _escalate(_answer(text)) == "abstained"


def test_precedence_abstained_then_invalid_then_low_confidence() -> None:
    calls: list[str] = []

    def invalid(text: str) -> bool:
        calls.append(text)
        return False

    abstaining = _answer("I cannot answer that.", confidence=0.1)
    assert _escalate(abstaining, validate=invalid) == "abstained"
    assert calls == []  # the validator is not run on an abstention
    assert _escalate(_answer("{oops", confidence=0.1), validate=invalid) == "invalid_output"
    assert calls == ["{oops"]
    assert _escalate(_answer("{}", confidence=0.1), validate=lambda t: True) == "low_confidence"


def test_escalation_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="min_confidence"):
        _escalate(_answer(), min_confidence=1.5)
    with pytest.raises(ValueError, match="empty phrase"):
        _escalate(_answer(), phrases=("cannot answer", "  "))


# --- cheapest_in_tier --------------------------------------------------------------------------


def test_cheapest_in_tier_orders_by_blended_price_with_unpriced_last() -> None:
    prices = {"openai:gpt-4.1-nano": Decimal("0.5"), "openai:gpt-4o-mini": Decimal("0.75")}
    unpriced = Deployment(model="openai:mystery", tier="cheap")
    ordered = cheapest_in_tier([unpriced, MINI, BIG, NANO], "cheap", prices.get)
    assert ordered == [NANO, MINI, unpriced]


def test_cheapest_in_tier_with_the_real_price_table() -> None:
    table = PriceTable.load(PRICING)
    local = Deployment(model="local:qwen", tier="cheap")
    ordered = cheapest_in_tier([HAIKU, MINI, NANO, local], "cheap", table.blended)
    assert ordered == [local, NANO, MINI, HAIKU]  # 0 < 0.50 < 0.75 < 4.80


def test_cheapest_in_tier_ties_go_by_name_then_given_order() -> None:
    a1 = Deployment(model="p:a", tier="t", quality=1)
    a2 = Deployment(model="p:a", tier="t", quality=2)
    b = Deployment(model="p:b", tier="t")
    c = Deployment(model="p:c", tier="t")
    same: dict[str, Decimal] = {"p:a": Decimal(1), "p:b": Decimal(1), "p:c": Decimal(1)}
    assert cheapest_in_tier([b, a1, c, a2], "t", same.get) == [a1, a2, b, c]

    def unpriced(model: str) -> Decimal | None:
        return None

    assert cheapest_in_tier([c, b], "t", unpriced) == [b, c]


def test_cheapest_in_tier_unknown_or_empty_tier_names_the_tiers() -> None:
    with pytest.raises(ValueError, match='no deployment in tier "fast"; tiers: cheap, smart'):
        cheapest_in_tier([NANO, BIG, MINI], "fast", lambda m: Decimal(0))
    with pytest.raises(ValueError, match="tiers: none"):
        cheapest_in_tier([], "cheap", lambda m: Decimal(0))


# --- weighted_choice / ab_order ----------------------------------------------------------------


def test_weighted_choice_is_sha256_of_the_key_against_cumulative_weights() -> None:
    arms = [Deployment(model="p:a", weight=1), Deployment(model="p:b", weight=3)]
    for key in ["alice", "bob", "", "ключ", "user-42"]:
        digest = hashlib.sha256(key.encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        expected = arms[0] if point < 0.25 else arms[1]
        assert weighted_choice(arms, key) == expected, key
        assert weighted_choice(arms, key) == weighted_choice(list(arms), key)  # sticky


def test_weighted_choice_split_follows_the_weights_over_10k_keys() -> None:
    arms = [
        Deployment(model="p:a", weight=1),
        Deployment(model="p:b", weight=2),
        Deployment(model="p:c", weight=7),
    ]
    counts = Counter(weighted_choice(arms, f"user-{n}").model for n in range(10_000))
    # Binomial sd at 10k keys is <= 0.5%: 2% is four sd or more.
    assert counts["p:a"] / 10_000 == pytest.approx(0.1, abs=0.02)
    assert counts["p:b"] / 10_000 == pytest.approx(0.2, abs=0.02)
    assert counts["p:c"] / 10_000 == pytest.approx(0.7, abs=0.02)


def test_weighted_choice_edge_cases() -> None:
    only = Deployment(model="p:only", weight=0.001)
    assert all(weighted_choice([only], f"k{n}") == only for n in range(100))
    with pytest.raises(ValueError, match="no deployments"):
        weighted_choice([], "alice")
    with pytest.raises(ValueError, match="no deployments"):
        ab_order([], "alice")
    tiny = [Deployment(model="p:rare", weight=1e-9), Deployment(model="p:common", weight=1)]
    picks = {weighted_choice(tiny, f"k{n}").model for n in range(2000)}
    assert picks == {"p:common"}


def test_ab_order_puts_the_chosen_arm_first_and_keeps_the_rest_as_fallbacks() -> None:
    arms = [NANO, MINI, BIG, HAIKU]
    for n in range(200):
        key = f"user-{n}"
        ordered = ab_order(arms, key)
        chosen = weighted_choice(arms, key)
        assert ordered[0] == chosen
        assert ordered[1:] == [d for d in arms if d != chosen]
    twins = [Deployment(model="p:a"), Deployment(model="p:a")]
    assert ab_order(twins, "k") == twins  # equal arms are both kept


@given(st.lists(_deployments, min_size=1, max_size=8), st.text(max_size=20))
def test_weighted_choice_properties(deployments: list[Deployment], key: str) -> None:
    chosen = weighted_choice(deployments, key)
    assert any(chosen is d for d in deployments)
    assert weighted_choice(deployments, key) is chosen  # deterministic
    ordered = ab_order(deployments, key)
    assert ordered[0] is chosen
    assert sorted(map(id, ordered)) == sorted(map(id, deployments))  # a permutation


@given(st.text(max_size=30))
def test_an_arm_with_all_the_weight_is_always_chosen(key: str) -> None:
    arms = [Deployment(model="p:a", weight=1e-300), Deployment(model="p:b", weight=1e300)]
    assert weighted_choice(arms, key).model == "p:b"
