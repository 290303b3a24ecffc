"""Model prices (USD per 1M tokens) and the exact cost of a call, in `Decimal`.

    table = PriceTable.load(Path("configs/pricing.yaml"))
    table.cost("openai:gpt-4o-mini", Usage(tokens_in=1200, tokens_out=300, cached_in=1000))
    # Decimal('0.0003') == (200 * 0.15 + 1000 * 0.075 + 300 * 0.60) / 1_000_000

Prices are read as decimal text (never through binary floats) and the arithmetic is
`Decimal` end to end, so a recorded cost reconciles exactly with its token counts and the
table. A model that is not in the table raises `UnpricedModel`; the router decides whether an
unpriced model may run.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator

from llm_router.strict import Strict
from llm_router.types import Usage

_PER_MILLION = Decimal(1_000_000)
_PATTERN_CHARS = frozenset("*?[")


class UnpricedModel(KeyError):
    """A model with no entry in the price table; the message names the file to edit."""

    def __init__(self, message: str, model: str) -> None:
        super().__init__(message)
        self.message = message
        self.model = model

    def __str__(self) -> str:  # KeyError would print the message repr-quoted
        return self.message


class Price(Strict):
    """List price of one model in USD per 1M tokens; `cached_input` None: same as `input`.

    Price(input=Decimal("0.15"), output=Decimal("0.60"), cached_input=Decimal("0.075"))
    """

    input: Decimal = Field(ge=0, allow_inf_nan=False)
    output: Decimal = Field(ge=0, allow_inf_nan=False)
    cached_input: Decimal | None = Field(None, ge=0, allow_inf_nan=False)

    @property
    def cached_rate(self) -> Decimal:
        """The price of a cached input token (per 1M)."""
        return self.input if self.cached_input is None else self.cached_input

    @property
    def blended(self) -> Decimal:
        """input + output per 1M tokens: one number to rank models by price."""
        return self.input + self.output

    def cost(self, usage: Usage) -> Decimal:
        """The exact USD cost of `usage` at this price."""
        fresh = usage.tokens_in - usage.cached_in
        # Enough digits that no product of realistic counts and prices is ever rounded.
        with decimal.localcontext() as ctx:
            ctx.prec = 60
            total = fresh * self.input + usage.cached_in * self.cached_rate
            return (total + usage.tokens_out * self.output) / _PER_MILLION


class _PriceFile(Strict):
    models: dict[str, Price]

    @field_validator("models")
    @classmethod
    def _names(cls, models: dict[str, Price]) -> dict[str, Price]:
        for name in models:
            provider, sep, model = name.partition(":")
            if not (sep and provider and model):
                raise ValueError(f'"{name}" is not "provider:model" (e.g. "openai:gpt-4o-mini")')
        return models


class PriceTable:
    """Prices by "provider:model"; exact names first, then fnmatch patterns (longest first).

    table = PriceTable.load(Path("configs/pricing.yaml"))
    table.price("local:qwen2.5-0.5b")            # matched by "local:*"
    table.cost("openai:gpt-4.1", Usage(1000, 200))
    """

    def __init__(self, prices: Mapping[str, Price], source: Path | None = None) -> None:
        self._exact = {k: v for k, v in prices.items() if not _PATTERN_CHARS & set(k)}
        # Longest pattern first: "openai:gpt-4o-mini*" must win over "openai:gpt-4o*".
        patterns = sorted((k for k in prices if k not in self._exact), key=lambda k: (-len(k), k))
        self._patterns = [(p, prices[p]) for p in patterns]
        self.source = source

    @classmethod
    def load(cls, path: Path) -> PriceTable:
        """Read a YAML price file: {"models": {"provider:model": {input, output, cached_input}}}."""
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_DecimalLoader)
            table = _PriceFile.model_validate(raw)
        except FileNotFoundError as exc:
            msg = f"price table {path} not found; fix the path or copy configs/pricing.yaml there"
            raise FileNotFoundError(msg) from exc
        except (yaml.YAMLError, ValidationError) as exc:
            raise ValueError(f"invalid price table {path}: {exc}") from exc
        return cls(table.models, source=path)

    @property
    def models(self) -> list[str]:
        """Every name and pattern in the table, exact names first."""
        return [*self._exact, *(p for p, _ in self._patterns)]

    def price(self, model: str) -> Price | None:
        """The price of "provider:model", or None when nothing in the table matches."""
        exact = self._exact.get(model)
        if exact is not None:
            return exact
        for pattern, price in self._patterns:
            if fnmatchcase(model, pattern):
                return price
        return None

    def blended(self, model: str) -> Decimal | None:
        """input + output per 1M tokens, or None if unpriced (for `policies.cheapest_in_tier`)."""
        price = self.price(model)
        return None if price is None else price.blended

    def cost(self, model: str, usage: Usage) -> Decimal:
        """The exact USD cost of one call; `UnpricedModel` if the table has no price for it."""
        price = self.price(model)
        if price is None:
            where = self.source if self.source is not None else "the price table"
            raise UnpricedModel(
                f'no price for model "{model}": add it under "models:" in {where} '
                f'(e.g. "{model}": {{input: 0.15, output: 0.60}}, USD per 1M tokens)',
                model,
            )
        return price.cost(usage)


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader reading floats as Decimal (0.1 stays 0.1) and refusing duplicate keys."""


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    try:
        return Decimal(text)
    except decimal.InvalidOperation as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f'"{text}" is not a price; write a plain number', node.start_mark
        ) from exc


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[object, object]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f'duplicate key "{key}"; keep one entry', key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)
_DecimalLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
