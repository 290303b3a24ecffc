"""ragline's orchestration and model layer: providers, routing, caches, token counting, cost events.

It imports no other ragline package; the protocols it needs are defined here.

    from llm_router import ChatRequest, Message, resolve
    model = resolve("extractive")
    model.complete(ChatRequest(messages=(Message("user", prompt),))).text

    router = build_router(LlmConfig(provider="openai:gpt-4o-mini"))   # policy, caches, costs
    router.complete(request, key="alice").cost_usd
"""

from llm_router.build import build_router
from llm_router.config import ExtractiveConfig, LlmConfig, LocalConfig
from llm_router.costs import CostEvent, CostSink
from llm_router.errors import (
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
from llm_router.policies import Deployment
from llm_router.pricing import PriceTable
from llm_router.protocol import ChatModel
from llm_router.registry import Registry, builtin_registry, resolve
from llm_router.router import Router
from llm_router.types import ChatRequest, Completion, Message, StreamChunk, Usage

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
