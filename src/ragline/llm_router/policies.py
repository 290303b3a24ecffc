"""Routing policies: pure functions that order or choose deployments, and decide escalation.

    deployments = [Deployment(model="openai:gpt-4.1-nano", tier="cheap", quality=1),
                   Deployment(model="openai:gpt-4.1", tier="smart", quality=3)]
    cascade_order(deployments, tiers=("cheap", "default", "smart"))   # by tier, then quality
    escalation(completion, min_confidence=0.6, validate=None, abstain_phrases=ABSTAIN)
    ab_order(deployments, sticky_key=user_id)        # the user's arm first, the rest as fallbacks

They take typed values and return new lists, with no I/O, clock or randomness (weighted choice
hashes a sticky key), so the router's behaviour follows from its inputs alone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from ragline.core.chat import Completion
from ragline.core.strict import Strict


class Deployment(Strict):
    """A model the router may send to: "provider:model", its tier, A/B weight and quality rank.

    Deployment(model="anthropic:claude-3-5-haiku-latest", tier="cheap", weight=3, quality=1)
    Deployment(model="vllm:qwen", base_url="http://gpu-2:8000/v1", api_key_env="GPU2_KEY")
    """

    model: str = Field(
        description='"provider:model" (e.g. "openai:gpt-4o-mini"), or "provider" for its default'
    )
    tier: str = Field(
        "default", description="cascade: ranked by llm.cascade.tiers; cost: the pool it picks from"
    )
    weight: float = Field(1.0, gt=0, allow_inf_nan=False, description="share of A/B traffic")
    quality: int = Field(0, description="higher is better; a cascade goes from low to high")
    # Where this deployment's provider is called, over its llm.<provider> section: two
    # deployments of one provider may run on different servers (a LiteLLM model_list).
    base_url: str | None = Field(None, description="null: the provider's llm.<provider>.base_url")
    api_key_env: str | None = Field(
        None, description="env var holding the key; null: the provider's llm.<provider>.api_key_env"
    )

    @field_validator("model")
    @classmethod
    def _provider_model(cls, model: str) -> str:
        # A bare "provider" is the registry's spec for that provider's default model.
        provider, sep, name = model.partition(":")
        if not provider or (sep and not name) or model != model.strip():
            raise ValueError(f'model "{model}" must be "provider:model", e.g. "openai:gpt-4o-mini"')
        return model


def fixed(deployments: Sequence[Deployment], name: str) -> list[Deployment]:
    """The deployment whose model is `name` (the first, if several), alone in a list."""
    for deployment in deployments:
        if deployment.model == name:
            return [deployment]
    known = ", ".join(sorted({d.model for d in deployments})) or "none"
    raise ValueError(f'no deployment for model "{name}"; known models: {known}')


DEFAULT_TIERS = ("cheap", "default", "smart")


def endpoints_by_model(
    deployments: Sequence[Deployment],
) -> dict[str, set[tuple[str | None, str | None]]]:
    """Each model's distinct (base_url, api_key_env) pairs: more than one is ambiguous."""
    found: dict[str, set[tuple[str | None, str | None]]] = {}
    for d in deployments:
        found.setdefault(d.model, set()).add((d.base_url, d.api_key_env))
    return found


def unranked_tiers(deployments: Sequence[Deployment], tiers: Sequence[str]) -> list[str]:
    """The deployments' tiers that `tiers` does not rank, sorted (empty: all are ranked)."""
    return sorted({d.tier for d in deployments} - set(tiers))


def cascade_order(
    deployments: Sequence[Deployment], tiers: Sequence[str] = DEFAULT_TIERS
) -> list[Deployment]:
    """Cheapest-first cascade: by tier in the order of `tiers` (lowest first), then quality
    ascending, ties by model name (then as given). A tier `tiers` does not rank is an error:
    guessing its place could put the dearest model first."""
    unknown = unranked_tiers(deployments, tiers)
    if unknown:
        raise ValueError(
            f"deployment tiers {unknown} are not ranked by the cascade's tiers {list(tiers)}; "
            "add them to llm.cascade.tiers (cheapest first) or fix the deployments' tier"
        )
    rank = {tier: position for position, tier in enumerate(tiers)}
    return sorted(deployments, key=lambda d: (rank[d.tier], d.quality, d.model))


EscalationReason = Literal["low_confidence", "invalid_output", "abstained"]

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_SPACE = re.compile(r"\s+")


def _normalise(text: str) -> str:
    # Models write "don’t" as often as "don't", and wrap lines anywhere.
    return _SPACE.sub(" ", text.translate(_QUOTES)).casefold().strip()


def escalation(
    completion: Completion,
    *,
    min_confidence: float | None,
    validate: Callable[[str], bool] | None,
    abstain_phrases: Sequence[str],
) -> EscalationReason | None:
    """Why a cascade should move to the next, larger model; None: keep this answer.

    Precedence when several hold: "abstained" (the model itself said it cannot answer; such a
    text usually fails validation too, and saying so is the more useful reason), then
    "invalid_output" (the answer is unusable), then "low_confidence" (usable but doubtful).
    `validate` is not called for an abstention. An unknown confidence (None) is never low.
    Phrases match case-insensitively, with curly and straight apostrophes alike.
    """
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    phrases = [_normalise(p) for p in abstain_phrases]
    if any(not p for p in phrases):
        raise ValueError(f"abstain_phrases contains an empty phrase: {list(abstain_phrases)}")
    text = _normalise(completion.text)
    if any(p in text for p in phrases):
        return "abstained"
    if validate is not None and not validate(completion.text):
        return "invalid_output"
    confidence = completion.confidence
    if min_confidence is not None and confidence is not None and confidence < min_confidence:
        return "low_confidence"
    return None


def cheapest_in_tier(
    deployments: Sequence[Deployment], tier: str, prices: Callable[[str], Decimal | None]
) -> list[Deployment]:
    """The tier's deployments by blended price (input + output per 1M), cheapest first.

    `prices(model)` gives the blended price, None when unpriced (e.g. `PriceTable.blended`);
    unpriced models come last. Ties go by model name, then as given.
    """
    in_tier = [d for d in deployments if d.tier == tier]
    if not in_tier:
        tiers = ", ".join(sorted({d.tier for d in deployments})) or "none"
        raise ValueError(f'no deployment in tier "{tier}"; tiers: {tiers}')
    priced = [(prices(d.model), d) for d in in_tier]
    ordered = sorted(priced, key=lambda p: (p[0] is None, p[0] or Decimal(0), p[1].model))
    return [d for _, d in ordered]


def _sticky_index(deployments: Sequence[Deployment], sticky_key: str) -> int:
    if not deployments:
        raise ValueError("no deployments to choose from; configure at least one")
    digest = hashlib.sha256(sticky_key.encode("utf-8")).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    total = sum(d.weight for d in deployments)
    cumulative = 0.0
    for index, deployment in enumerate(deployments):
        cumulative += deployment.weight
        if point * total < cumulative:
            return index
    return len(deployments) - 1  # float rounding can leave the last sliver unclaimed


def weighted_choice(deployments: Sequence[Deployment], sticky_key: str) -> Deployment:
    """The arm for `sticky_key`: always the same one for the same key and list, and over many
    keys each arm's share follows its weight. Changing the list (order, weights) reshuffles."""
    return deployments[_sticky_index(deployments, sticky_key)]


def ab_order(deployments: Sequence[Deployment], sticky_key: str) -> list[Deployment]:
    """The key's A/B arm first, then the others in their given order as fallbacks."""
    chosen = _sticky_index(deployments, sticky_key)
    return [deployments[chosen], *(d for i, d in enumerate(deployments) if i != chosen)]
