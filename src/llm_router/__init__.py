"""ragline's orchestration and model layer: providers, routing, caches, token counting, cost events.

It imports no other ragline package; the protocols it needs are defined here.

    from llm_router import ChatRequest, Message, resolve
    model = resolve("extractive")
    model.complete(ChatRequest(messages=(Message("user", prompt),))).text
"""

from llm_router.config import ExtractiveConfig, LlmConfig, LocalConfig
from llm_router.errors import ProviderError, RateLimited, Timeout, Unavailable, UnknownProvider
from llm_router.protocol import ChatModel
from llm_router.registry import Registry, builtin_registry, resolve
from llm_router.types import ChatRequest, Completion, Message, Usage

__all__ = [
    "ChatModel",
    "ChatRequest",
    "Completion",
    "ExtractiveConfig",
    "LlmConfig",
    "LocalConfig",
    "Message",
    "ProviderError",
    "RateLimited",
    "Registry",
    "Timeout",
    "Unavailable",
    "UnknownProvider",
    "Usage",
    "builtin_registry",
    "resolve",
]
