"""Prices, and the exact cost of work in `Decimal`: one `Prices` object for every kind of cost.

    prices = Prices(PriceTable.load(Path("configs/pricing.yaml")),
                    embedding_usd_per_1m_tokens=Decimal("0.02"))
    prices.llm_cost("openai:gpt-4o-mini", Usage(tokens_in=1200, tokens_out=300, cached_in=1000))
    # Decimal('0.0003') == (200 * 0.15 + 1000 * 0.075 + 300 * 0.60) / 1_000_000
    prices.embedding_cost(tokens=512)          # Decimal('0.00001024')
    prices.vector_cost(queries=2, writes=0)    # per 1k queries / 1k points written

Prices are read as decimal text (never through binary floats) and the arithmetic is
`Decimal` end to end, so a recorded cost reconciles exactly with its token counts and the
table. A model that is not in the table raises `UnpricedModel`; `Prices.unpriced` says whether
the router may run it anyway. Non-LLM amounts are rounded half-even to whole nano-dollars
(1e-9 USD), the unit the ledger stores.

A LiteLLM `model_prices_and_context_window.json` can fill in models the table lacks:
`table.with_defaults(read_litellm_prices(path))` (the table's own entries win).
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from ragline.core.chat import Usage
from ragline.core.strict import Strict

_PER_MILLION = Decimal(1_000_000)
_PER_THOUSAND = Decimal(1_000)
_HOUR_S = Decimal(3600)
NANO = Decimal("1e-9")


def to_nanos(usd: Decimal) -> int:
    """Whole nano-dollars, rounded half-even: `to_nanos(Decimal("0.00018")) == 180_000`."""
    return int(usd.quantize(NANO, rounding=ROUND_HALF_EVEN).scaleb(9))


def from_nanos(nanos: int) -> Decimal:
    """The exact Decimal of `nanos` nano-dollars: `from_nanos(180_000) == Decimal("0.00018")`."""
    return Decimal(nanos).scaleb(-9).normalize() if nanos else Decimal(0)


def to_nano_amount(usd: Decimal) -> Decimal:
    """`usd` rounded half-even to the nano-dollar, as a Decimal."""
    return usd.quantize(NANO, rounding=ROUND_HALF_EVEN)


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
    retired: bool = False  # still billed if called, never recommended (`ragline llm suggest`)

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
    batch_discount: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("batch_discount")
    @classmethod
    def _discounts(cls, discounts: dict[str, Decimal]) -> dict[str, Decimal]:
        for provider, share in discounts.items():
            if ":" in provider or not share.is_finite() or not 0 <= share <= 1:
                raise ValueError(
                    f'batch_discount "{provider}": {share}; give a provider name (e.g. openai) '
                    "and the share taken off the list price, from 0 to 1 (0.5: half price)"
                )
        return discounts

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

    def __init__(
        self,
        prices: Mapping[str, Price],
        source: Path | None = None,
        batch_discount: Mapping[str, Decimal] | None = None,
    ) -> None:
        self._exact = {k: v for k, v in prices.items() if not _PATTERN_CHARS & set(k)}
        # share of the list price taken off work sent through a provider's batch API
        self.batch_discount: dict[str, Decimal] = dict(batch_discount or {})
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
        return cls(table.models, source=path, batch_discount=table.batch_discount)

    @property
    def models(self) -> list[str]:
        """Every name and pattern in the table, exact names first."""
        return [*self._exact, *(p for p, _ in self._patterns)]

    def with_defaults(self, extra: Mapping[str, Price]) -> PriceTable:
        """This table, plus `extra`'s prices for the models it does not price: its own exact
        names and patterns win (e.g. "vllm:*" keeps self-hosted models free).

        table.with_defaults(read_litellm_prices(Path("model_prices_and_context_window.json")))
        """
        own = {**self._exact, **dict(self._patterns)}
        added = {name: price for name, price in extra.items() if self.price(name) is None}
        return PriceTable({**added, **own}, self.source, self.batch_discount)

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

    def cache_saving(self, model: str, cached_tokens: int) -> Decimal | None:
        """What `cached_tokens` prompt tokens read from the provider's cache saved against the
        input rate, in USD; None when the model is unpriced.

            PriceTable({"m": Price(input=1, output=2, cached_input=0.1)}).cache_saving("m", 10**6)
            # Decimal("0.9")
        """
        price = self.price(model)
        if price is None:
            return None
        return (price.input - price.cached_rate) * cached_tokens / 1_000_000

    def batch_cost(self, model: str, usage: Usage) -> Decimal:
        """The USD cost of one call sent through the provider's batch API, to the nano-dollar:
        the list price less the provider's `batch_discount` (none listed: the list price).

            table.batch_cost("openai:gpt-4o-mini", Usage(1000, 200))   # half of cost(...)
        """
        full = self.cost(model, usage)
        share = self.batch_discount.get(model.partition(":")[0], Decimal(0))
        with decimal.localcontext() as ctx:
            ctx.prec = 60  # as `Price.cost`: no product of realistic numbers is rounded
            # half of a whole nano-dollar amount may not be whole: round once, here, so the
            # event's usd is what the ledger stores
            return to_nano_amount(full * (1 - share))

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


# LiteLLM's provider names (its model prefixes, its price map's litellm_provider) -> ragline's.
LITELLM_PROVIDERS: Mapping[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "hosted_vllm": "vllm",
}


def read_litellm_prices(path: Path) -> dict[str, Price]:
    """The prices in a LiteLLM `model_prices_and_context_window.json` (see `litellm_prices`)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except FileNotFoundError as exc:
        msg = f"LiteLLM price file {path} not found; fix costs.litellm_prices or set it to null"
        raise FileNotFoundError(msg) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"LiteLLM price file {path} is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"LiteLLM price file {path} must hold a JSON object of models")
    return litellm_prices(raw)


def litellm_prices(raw: Mapping[str, object]) -> dict[str, Price]:
    """ragline prices (USD per 1M tokens, exact) from LiteLLM's per-token price map.

        litellm_prices({"gpt-4o-mini": {"litellm_provider": "openai",
                        "input_cost_per_token": Decimal("1.5e-07"), "output_cost_per_token": ...}})
        # {"openai:gpt-4o-mini": Price(input=Decimal("0.15"), ...)}

    Keys become "provider:model" (LiteLLM's "openai/" etc. prefix dropped); only providers
    ragline has (`LITELLM_PROVIDERS`) and entries with an `input_cost_per_token` are kept.
    `cache_read_input_token_cost` becomes `cached_input`. Of two keys naming one model (e.g.
    "gpt-4o" and "openai/gpt-4o"), the first in the file wins. Parse floats as `Decimal`
    (`json.loads(text, parse_float=Decimal)`): the per-1M prices are then exact.
    """
    prices: dict[str, Price] = {}
    for key, entry in raw.items():
        if not isinstance(entry, Mapping):
            continue
        litellm = entry.get("litellm_provider")
        provider = LITELLM_PROVIDERS.get(litellm) if isinstance(litellm, str) else None
        if provider is None or entry.get("input_cost_per_token") is None:
            continue  # a provider ragline has no adapter for, or not priced per token
        name = f"{provider}:{key.removeprefix(f'{litellm}/')}"
        if name in prices or _PATTERN_CHARS & set(name):
            continue
        cached = entry.get("cache_read_input_token_cost")
        output = entry.get("output_cost_per_token")  # absent or null: free (embeddings)
        prices[name] = Price(
            input=_per_million(key, "input_cost_per_token", entry["input_cost_per_token"]),
            output=_per_million(key, "output_cost_per_token", 0 if output is None else output),
            cached_input=None
            if cached is None
            else _per_million(key, "cache_read_input_token_cost", cached),
        )
    return prices


def _per_million(model: str, field: str, value: object) -> Decimal:
    # A float (json.loads without parse_float) goes through its shortest repr: 1.5e-07 -> 0.15.
    text = repr(value) if isinstance(value, float) else value
    try:
        if isinstance(text, bool) or not isinstance(text, int | Decimal | str):
            raise decimal.InvalidOperation
        per_token = Decimal(text)
    except decimal.InvalidOperation:
        raise ValueError(
            f'LiteLLM price "{model}" {field} is {value!r}; it must be a number'
        ) from None
    if not per_token.is_finite() or per_token < 0:
        raise ValueError(f'LiteLLM price "{model}" {field} is {value}; it must be a price >= 0')
    return per_token.scaleb(6)  # exact: moves the exponent, keeps the digits


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


@dataclass(frozen=True, slots=True)
class Prices:
    """Every price ragline bills work at: LLM tokens (`llm`, configs/pricing.yaml), embedding
    tokens, vector-DB operations, prediction and training compute. Built from the `costs:`
    settings.

        prices = Prices(table, vector_usd_per_1k_queries=Decimal(5))
        prices.vector_cost(queries=2)      # Decimal('0.01')

    `unpriced`: what the router does with a model missing from the table ("refuse" it, or bill
    it at 0 as "free").
    """

    llm: PriceTable
    embedding_usd_per_1m_tokens: Decimal = Decimal(0)
    vector_usd_per_1k_queries: Decimal = Decimal(0)
    vector_usd_per_1k_writes: Decimal = Decimal(0)
    prediction_usd_per_hour: Decimal = Decimal(0)
    training_usd_per_hour: Decimal = Decimal(0)
    unpriced: Literal["refuse", "free"] = "refuse"

    def __post_init__(self) -> None:
        for name in (
            "embedding_usd_per_1m_tokens",
            "vector_usd_per_1k_queries",
            "vector_usd_per_1k_writes",
            "prediction_usd_per_hour",
            "training_usd_per_hour",
        ):
            value = getattr(self, name)
            if not value.is_finite() or value < 0:
                raise ValueError(f"costs.{name} must be a price >= 0, got {value}")

    def llm_cost(self, model: str, usage: Usage) -> Decimal:
        """The exact cost of one chat call; `UnpricedModel` when the table has no price."""
        return self.llm.cost(model, usage)

    def embedding_cost(self, tokens: int) -> Decimal:
        """Embedding `tokens` tokens, to the nano-dollar."""
        return to_nano_amount(self.embedding_usd_per_1m_tokens * tokens / _PER_MILLION)

    def vector_cost(self, queries: int = 0, writes: int = 0) -> Decimal:
        """`queries` vector-DB queries and `writes` points written, to the nano-dollar."""
        usd = self.vector_usd_per_1k_queries * queries + self.vector_usd_per_1k_writes * writes
        return to_nano_amount(usd / _PER_THOUSAND)

    def prediction_cost(self, seconds: float) -> Decimal:
        """`seconds` of classical-model compute priced per hour, to the nano-dollar.

        Prices(table, prediction_usd_per_hour=Decimal("0.60")).prediction_cost(1.8)
        # Decimal('0.000300000')
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0 (a duration), got {seconds}")
        return to_nano_amount(Decimal(str(seconds)) * self.prediction_usd_per_hour / _HOUR_S)

    def training_cost(self, seconds: float) -> Decimal:
        """`seconds` of model-training compute (wall clock) priced per hour, to the nano-dollar.

        Prices(table, training_usd_per_hour=Decimal("3.60")).training_cost(10)
        # Decimal('0.010000000')
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0 (a duration), got {seconds}")
        return to_nano_amount(Decimal(str(seconds)) * self.training_usd_per_hour / _HOUR_S)
