"""LiteLLM's price map under ragline's table: per-token floats to exact per-1M Decimals,
LiteLLM's providers mapped, and ragline's own entries (names and patterns) winning."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from ragline.core.chat import Usage
from ragline.core.pricing import Price, PriceTable, litellm_prices, read_litellm_prices
from ragline.mltrack.costs.config import CostsConfig
from tests.paths import REPO

pytestmark = pytest.mark.unit

# The shape of LiteLLM's model_prices_and_context_window.json (numbers as LiteLLM writes them).
LITELLM_JSON = """{
  "sample_spec": {"max_tokens": "LEGACY parameter", "input_cost_per_token": 0.0,
                  "output_cost_per_token": 0.0, "litellm_provider": "one of litellm_provider"},
  "gpt-4o-mini": {"max_tokens": 16384, "input_cost_per_token": 1.5e-07,
                  "output_cost_per_token": 6e-07, "cache_read_input_token_cost": 7.5e-08,
                  "litellm_provider": "openai", "mode": "chat"},
  "acme-chat": {"input_cost_per_token": 1.1e-06, "output_cost_per_token": 4.4e-06,
                "litellm_provider": "openai", "mode": "chat"},
  "openai/acme-chat": {"input_cost_per_token": 9e-06, "output_cost_per_token": 9e-06,
                       "litellm_provider": "openai", "mode": "chat"},
  "claude-haiku-9": {"input_cost_per_token": 3e-06, "output_cost_per_token": 0.000015,
                     "cache_read_input_token_cost": 3e-07, "litellm_provider": "anthropic"},
  "hosted_vllm/qwen": {"input_cost_per_token": 1e-07, "output_cost_per_token": 2e-07,
                       "litellm_provider": "hosted_vllm"},
  "text-embedding-9": {"input_cost_per_token": 2e-08, "litellm_provider": "openai",
                       "mode": "embedding"},
  "azure/gpt-4o": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
                   "litellm_provider": "azure"},
  "dall-e-9": {"input_cost_per_pixel": 1.9e-08, "litellm_provider": "openai",
               "mode": "image_generation"}
}"""


@pytest.fixture
def price_file(tmp_path: Path) -> Path:
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(LITELLM_JSON, encoding="utf-8")
    return path


def test_per_token_floats_become_exact_per_million_decimals(price_file: Path) -> None:
    prices = read_litellm_prices(price_file)
    mini = prices["openai:gpt-4o-mini"]
    assert (mini.input, mini.output, mini.cached_input) == (
        Decimal("0.15"),
        Decimal("0.6"),
        Decimal("0.075"),
    )
    assert str(mini.input) == "0.15" and str(prices["anthropic:claude-haiku-9"].output) == "15"
    assert prices["anthropic:claude-haiku-9"].cached_input == Decimal("0.3")
    assert prices["openai:text-embedding-9"] == Price(input=Decimal("0.02"), output=Decimal(0))
    # 1.1e-06 as a binary float is 1.1000000000000000e-06 plus noise; as text it stays exact
    assert prices["openai:acme-chat"].cost(Usage(20, 5)) == Decimal("0.000044")


def test_litellm_providers_map_to_ragline_names_and_the_rest_are_left_out(
    price_file: Path,
) -> None:
    prices = read_litellm_prices(price_file)
    assert sorted(prices) == [
        "anthropic:claude-haiku-9",
        "openai:acme-chat",
        "openai:gpt-4o-mini",
        "openai:text-embedding-9",
        "vllm:qwen",
    ]  # azure: no ragline adapter; dall-e: not priced per token; sample_spec: documentation
    assert prices["openai:acme-chat"].input == Decimal("1.1")  # the first of two keys wins


def test_plain_json_floats_are_read_through_their_repr() -> None:
    raw = json.loads('{"m": {"input_cost_per_token": 1.1e-06, "litellm_provider": "openai"}}')
    assert litellm_prices(raw)["openai:m"].input == Decimal("1.1")


@pytest.mark.parametrize("value", ['"cheap"', "-1e-06", "true", "[]"])
def test_a_bad_number_names_the_model_and_field(value: str) -> None:
    text = (
        '{"m": {"input_cost_per_token": 1e-06, "output_cost_per_token": %s, '
        '"litellm_provider": "openai"}}'
    )
    with pytest.raises(ValueError, match='"m" output_cost_per_token'):
        litellm_prices(json.loads(text % value, parse_float=Decimal))
    # LiteLLM leaves out (or nulls) what is free: an embedding model's output
    assert litellm_prices(json.loads(text % "null"))["openai:m"].output == Decimal(0)


def test_ragline_entries_win_over_litellm_and_patterns_count(price_file: Path) -> None:
    ragline = PriceTable(
        {
            "openai:gpt-4o-mini": Price(input=Decimal("0.20"), output=Decimal("0.80")),
            "vllm:*": Price(input=Decimal(0), output=Decimal(0)),
        },
        source=Path("configs/pricing.yaml"),
    )
    merged = ragline.with_defaults(read_litellm_prices(price_file))
    assert merged.price("openai:gpt-4o-mini") == ragline.price("openai:gpt-4o-mini")
    assert merged.price("vllm:qwen") == Price(input=Decimal(0), output=Decimal(0))
    assert merged.price("openai:acme-chat") == Price(input=Decimal("1.1"), output=Decimal("4.4"))
    assert merged.source == Path("configs/pricing.yaml")  # where to add a missing model
    assert ragline.price("openai:acme-chat") is None  # the original is left as it was


def test_the_costs_setting_merges_the_file_under_the_shipped_table(price_file: Path) -> None:
    prices = CostsConfig(litellm_prices=price_file).prices()
    shipped = PriceTable.load(REPO / "configs" / "pricing.yaml")
    assert prices.llm.price("openai:gpt-4o-mini") == shipped.price("openai:gpt-4o-mini")
    assert prices.llm_cost("openai:acme-chat", Usage(1_000_000, 0)) == Decimal("1.1")
    assert prices.llm.price("vllm:qwen") == shipped.price("vllm:qwen")  # "vllm:*" is free
    assert CostsConfig().prices().llm.price("openai:acme-chat") is None


def test_a_missing_or_broken_file_says_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"fix costs\.litellm_prices"):
        read_litellm_prices(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="is not JSON"):
        read_litellm_prices(broken)
