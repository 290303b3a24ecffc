"""Batch-API prices: the list price less the provider's `batch_discount`, to the nano-dollar."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ragline.core.chat import Usage
from ragline.core.pricing import Price, PriceTable
from tests.paths import REPO

pytestmark = pytest.mark.unit


def test_batch_cost_takes_the_discount_off_and_rounds_once(tmp_path: Path) -> None:
    path = tmp_path / "pricing.yaml"
    path.write_text(
        "batch_discount: {openai: 0.5}\n"
        'models:\n  "openai:m": {input: 0.15, cached_input: 0.075, output: 0.60}\n'
        '  "vllm:*": {input: 1, output: 1}\n'
    )
    table = PriceTable.load(path)
    usage = Usage(1001, 21, cached_in=1)
    assert table.cost("openai:m", usage) == Decimal("0.000162675")
    assert table.batch_cost("openai:m", usage) == Decimal("0.000081338")  # half, half-even
    assert table.batch_cost("vllm:x", Usage(10, 10)) == table.cost("vllm:x", Usage(10, 10))
    extended = table.with_defaults({"openai:other": Price(input=Decimal(1), output=Decimal(1))})
    assert extended.batch_discount == {"openai": Decimal("0.5")}


@pytest.mark.parametrize("bad", ["{openai: 1.5}", "{openai: -0.1}", "{'openai:m': 0.5}"])
def test_a_bad_discount_is_refused_with_the_fix(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "pricing.yaml"
    path.write_text(f'batch_discount: {bad}\nmodels:\n  "openai:m": {{input: 1, output: 1}}\n')
    with pytest.raises(ValueError, match="from 0 to 1"):
        PriceTable.load(path)


def test_the_shipped_table_halves_both_vendors() -> None:
    table = PriceTable.load(REPO / "configs" / "pricing.yaml")
    usage = Usage(1000, 200)
    for model in ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"):
        assert table.batch_cost(model, usage) * 2 == table.cost(model, usage)
