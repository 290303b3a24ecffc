"""The price table: the shipped configs/pricing.yaml, exact Decimal costs, pattern precedence."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ragline.core.chat import Usage
from ragline.core.pricing import Price, Prices, PriceTable, UnpricedModel, from_nanos, to_nanos
from tests.paths import REPO

pytestmark = pytest.mark.unit

PRICING = REPO / "configs" / "pricing.yaml"


def _table(tmp_path: Path, text: str) -> PriceTable:
    path = tmp_path / "pricing.yaml"
    path.write_text(text, encoding="utf-8")
    return PriceTable.load(path)


def test_shipped_table_parses_and_cached_input_is_never_dearer() -> None:
    table = PriceTable.load(PRICING)
    assert len(table.models) >= 30
    for name in table.models:
        price = table.price(name)
        assert price is not None, name
        assert price.cached_rate <= price.input, name
        assert price.input >= 0 and price.output >= 0, name


def test_shipped_table_prices_the_models_ragline_names() -> None:
    table = PriceTable.load(PRICING)
    mini = table.price("openai:gpt-4o-mini")
    assert mini == Price(
        input=Decimal("0.15"), output=Decimal("0.60"), cached_input=Decimal("0.075")
    )
    for model in [
        "openai:gpt-4o",
        "openai:gpt-4.1",
        "openai:gpt-4.1-mini",
        "openai:gpt-4.1-nano",
        "openai:o4-mini",
        "anthropic:claude-3-5-haiku-latest",  # AnthropicConfig's default model
        "anthropic:claude-3-5-haiku-20241022",
        "anthropic:claude-sonnet-4-20250514",
        "anthropic:claude-opus-4-20250514",
    ]:
        price = table.price(model)
        assert price is not None and price.output > price.input > 0, model
        assert price.cached_input is not None and price.cached_input < price.input, model
    for free in ["local:SmolLM2-135M-Instruct.Q4_1", "extractive:bm25", "vllm:my-lora"]:
        assert table.cost(free, Usage(10_000, 10_000)) == 0, free


def test_shipped_table_header_says_when_and_where_from() -> None:
    header = PRICING.read_text(encoding="utf-8").split("models:")[0]
    assert re.search(r"as of 20\d\d-\d\d-\d\d", header)
    assert "openai.com/api/pricing" in header and "claude.com" in header
    assert "CHECK" in header


def test_cost_is_exact_with_cached_input() -> None:
    table = PriceTable.load(PRICING)
    usage = Usage(tokens_in=1200, tokens_out=300, cached_in=1000)
    # (200 fresh * 0.15 + 1000 cached * 0.075 + 300 out * 0.60) / 1M
    assert table.cost("openai:gpt-4o-mini", usage) == Decimal("0.000285")
    assert table.cost("openai:gpt-4o-mini", Usage(1_000_000, 0)) == Decimal("0.15")
    assert table.cost("openai:gpt-4o-mini", Usage(0, 1_000_000)) == Decimal("0.60")


def test_cached_input_missing_means_input_price(tmp_path: Path) -> None:
    table = _table(tmp_path, 'models:\n  "p:m": {input: 2, output: 4}\n')
    assert table.cost("p:m", Usage(100, 0, cached_in=100)) == Decimal("0.0002")
    assert table.cost("p:m", Usage(100, 0, cached_in=0)) == Decimal("0.0002")


def test_yaml_prices_are_read_as_decimals_not_floats(tmp_path: Path) -> None:
    table = _table(tmp_path, 'models:\n  "p:m": {input: 0.1, output: 0.7, cached_input: 0.03}\n')
    price = table.price("p:m")
    assert price is not None
    assert (price.input, price.output, price.cached_input) == (
        Decimal("0.1"),
        Decimal("0.7"),
        Decimal("0.03"),
    )
    # float arithmetic would give 3.0000000000000004e-07 here
    assert table.cost("p:m", Usage(3, 0)) == Decimal("0.0000003")


def test_unknown_model_error_names_model_and_file() -> None:
    table = PriceTable.load(PRICING)
    with pytest.raises(UnpricedModel) as info:
        table.cost("openai:gpt-9-turbo", Usage(1, 1))
    assert isinstance(info.value, KeyError)
    assert info.value.model == "openai:gpt-9-turbo"
    message = str(info.value)
    assert '"openai:gpt-9-turbo"' in message and str(PRICING) in message
    assert not message.startswith("'")  # not KeyError's repr-quoted form
    assert table.price("openai:gpt-9-turbo") is None
    assert table.blended("openai:gpt-9-turbo") is None


def test_unknown_model_without_a_file_names_the_table() -> None:
    table = PriceTable({"p:m": Price(input=Decimal(1), output=Decimal(1))})
    with pytest.raises(UnpricedModel, match=r'no price for model "q:m".*price table'):
        table.cost("q:m", Usage(1, 1))


def test_exact_names_win_then_the_longest_pattern(tmp_path: Path) -> None:
    table = _table(
        tmp_path,
        "models:\n"
        '  "openai:*": {input: 9, output: 9}\n'
        '  "openai:gpt-4o*": {input: 5, output: 5}\n'
        '  "openai:gpt-4o-mini*": {input: 1, output: 1}\n'
        '  "openai:gpt-4o-mini": {input: 0.5, output: 0.5}\n'
        '  "openai:gpt-4o-mini-?": {input: 2, output: 2}\n',
    )

    def rate(model: str) -> Decimal | None:
        price = table.price(model)
        return None if price is None else price.input

    assert rate("openai:gpt-4o-mini") == Decimal("0.5")  # exact
    assert rate("openai:gpt-4o-mini-x") == Decimal(2)  # "-?" is the longest match
    assert rate("openai:gpt-4o-mini-2024") == Decimal(1)
    assert rate("openai:gpt-4o-2024-08-06") == Decimal(5)
    assert rate("openai:o3") == Decimal(9)
    assert rate("anthropic:claude") is None
    assert rate("OPENAI:o3") is None  # case matters, as in the providers' ids


def test_blended_is_input_plus_output() -> None:
    table = PriceTable.load(PRICING)
    assert table.blended("openai:gpt-4o-mini") == Decimal("0.75")
    assert table.blended("local:any") == 0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('models:\n  "p:m": {input: 1, output: 1}\n  "p:m": {input: 2, output: 2}\n', "duplicate"),
        ('models:\n  "gpt-4o": {input: 1, output: 1}\n', "provider:model"),
        ('models:\n  "p:m": {input: -1, output: 1}\n', "greater than or equal"),
        ('models:\n  "p:m": {input: 1, output: 1, batch: 0.5}\n', "batch"),
        ('models:\n  "p:m": {input: 1}\n', "output"),
        ('models:\n  "p:m": {input: .inf, output: 1}\n', "not a price"),
        ('prices:\n  "p:m": {input: 1, output: 1}\n', "models"),
        ("models: [\n", "invalid price table"),
    ],
)
def test_bad_price_files_are_refused_with_the_reason(
    tmp_path: Path, text: str, fragment: str
) -> None:
    with pytest.raises(ValueError, match="invalid price table") as info:
        _table(tmp_path, text)
    assert fragment in str(info.value)


def test_missing_price_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        PriceTable.load(tmp_path / "nope.yaml")


def test_price_is_strict_and_frozen() -> None:
    price = Price(input=Decimal(1), output=Decimal(2))
    with pytest.raises(ValidationError):
        Price(input=Decimal(1), output=Decimal(2), cache_write=Decimal(3))  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        price.input = Decimal(0)  # type: ignore[misc]


_counts = st.integers(min_value=0, max_value=2_000_000)


@st.composite
def _usages(draw: st.DrawFn) -> Usage:
    tokens_in = draw(_counts)
    return Usage(tokens_in, draw(_counts), draw(st.integers(0, tokens_in)))


@given(a=_usages(), b=_usages())
def test_cost_is_exactly_additive(a: Usage, b: Usage) -> None:
    # Exact arithmetic: pricing two calls apart equals pricing their summed tokens.
    price = Price(input=Decimal("2.5"), output=Decimal("10"), cached_input=Decimal("1.25"))
    both = Usage(a.tokens_in + b.tokens_in, a.tokens_out + b.tokens_out, a.cached_in + b.cached_in)
    assert price.cost(a) + price.cost(b) == price.cost(both)
    expected = (
        (a.tokens_in - a.cached_in) * Decimal("2.5")
        + a.cached_in * Decimal("1.25")
        + a.tokens_out * Decimal(10)
    ) / 1_000_000
    assert price.cost(a) == expected


# --- the one pricing object -----------------------------------------------------------------------
def test_prices_bill_every_kind_of_work_to_the_nano_dollar() -> None:
    prices = Prices(
        PriceTable.load(PRICING),
        embedding_usd_per_1m_tokens=Decimal(1000),
        vector_usd_per_1k_queries=Decimal(5),
        vector_usd_per_1k_writes=Decimal("0.4"),
        prediction_usd_per_hour=Decimal("0.60"),
    )
    assert prices.embedding_cost(7) == Decimal("0.007")
    assert prices.embedding_cost(1) == Decimal("0.001")
    assert prices.vector_cost(queries=2) == Decimal("0.01")
    assert prices.vector_cost(writes=3) == Decimal("0.0012")
    assert prices.vector_cost(queries=1, writes=1) == Decimal("0.0054")
    assert prices.prediction_cost(1.8) == Decimal("0.0003")
    assert prices.prediction_cost(1) == Decimal("0.000166667")  # 0.6/3600, rounded half-even
    usage = Usage(1200, 300, cached_in=1000)
    assert prices.llm_cost("openai:gpt-4o-mini", usage) == prices.llm.cost(
        "openai:gpt-4o-mini", usage
    )


def test_prices_default_to_free_work_and_refuse_negative_or_odd_prices() -> None:
    prices = Prices(PriceTable({}))
    assert prices.embedding_cost(10**9) == 0 and prices.vector_cost(10**6, 10**6) == 0
    assert prices.unpriced == "refuse"
    with pytest.raises(ValueError, match=r"costs\.vector_usd_per_1k_queries must be a price"):
        Prices(PriceTable({}), vector_usd_per_1k_queries=Decimal(-1))
    with pytest.raises(ValueError, match="embedding_usd_per_1m_tokens"):
        Prices(PriceTable({}), embedding_usd_per_1m_tokens=Decimal("NaN"))
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        prices.prediction_cost(-1)


def test_training_compute_is_priced_per_hour_and_refuses_bad_input() -> None:
    prices = Prices(PriceTable({}), training_usd_per_hour=Decimal("3.60"))
    assert prices.training_cost(10) == Decimal("0.01")
    assert prices.training_cost(1) == Decimal("0.001")
    assert Prices(PriceTable({})).training_cost(3600) == 0  # free by default: your own CPU
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        prices.training_cost(-1)
    with pytest.raises(ValueError, match=r"costs\.training_usd_per_hour must be a price"):
        Prices(PriceTable({}), training_usd_per_hour=Decimal(-1))


@given(st.integers(min_value=0, max_value=10**15))
def test_nanos_round_trip(nanos: int) -> None:
    assert to_nanos(from_nanos(nanos)) == nanos


def test_to_nanos_rounds_half_even() -> None:
    assert to_nanos(Decimal("0.0000000005")) == 0
    assert to_nanos(Decimal("0.0000000015")) == 2
    assert from_nanos(180_000) == Decimal("0.00018")
