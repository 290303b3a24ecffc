"""ragline's orchestration and model layer: providers, routing, caches, token counting, cost events.

It imports no other ragline package; the protocols it needs are defined here.

    from ragline.llm_router import ChatRequest, Message, resolve
    model = resolve("extractive")
    model.complete(ChatRequest(messages=(Message("user", prompt),))).text

    router = build_router(LlmConfig(provider="openai:gpt-4o-mini"))   # policy, caches, costs
    router.complete(request, key="alice").cost_usd
"""

from ragline.core.chat import ChatModel, ChatRequest, Completion, Message, StreamChunk, Usage
from ragline.core.costs import CostEvent, CostSink
from ragline.core.pricing import PriceTable
from ragline.llm_router.build import build_router
from ragline.llm_router.config import ExtractiveConfig, LlmConfig, LocalConfig
from ragline.llm_router.errors import (
    AuthError,
    BadRequest,
    BudgetExceeded,
    ProviderError,
    RateLimited,
    ServerError,
    Timeout,
    Unavailable,
    UnknownProvider,
)
from ragline.llm_router.policies import Deployment
from ragline.llm_router.registry import Registry, builtin_registry, resolve
from ragline.llm_router.router import Router

__all__ = [
    "AuthError",
    "BadRequest",
    "BudgetExceeded",
    "ChatModel",
    "ChatRequest",
    "Completion",
    "CostEvent",
    "CostSink",
    "Deployment",
    "ExtractiveConfig",
    "LlmConfig",
    "LocalConfig",
    "Message",
    "PriceTable",
    "ProviderError",
    "RateLimited",
    "Registry",
    "Router",
    "ServerError",
    "StreamChunk",
    "Timeout",
    "Unavailable",
    "UnknownProvider",
    "Usage",
    "build_router",
    "builtin_registry",
    "resolve",
]
