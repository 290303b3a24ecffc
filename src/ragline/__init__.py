"""ragline: an LLM/RAG application framework with a classical-ML track beside it.

    import ragline
    with ragline.Pipeline() as pipeline:               # configs/default.yaml + RAGLINE_* env
        pipeline.ingest(["docs/"], collection="docs")
        result = pipeline.ask("How are point ids computed?", collection="docs")
    settings = ragline.load_settings()                 # the settings tree the CLI uses
    router = ragline.build_router(settings.llm)        # providers, policy, caches, costs
    ragline.__version__

docs/library.md shows each name in a runnable snippet.

Importing ragline is cheap: no torch, no model, no engine. The names below are resolved on
first use from the packages that define them:

    ragline.core        shared types and protocols (Embedder, ChatModel, CostEvent, ...)
    ragline.rag         load -> chunk -> embed -> store -> retrieve -> rerank -> answer
    ragline.llm_router  providers, routing, caches, retries, breaker, token counts, costs
    ragline.evals       metrics, confidence intervals, suites and gates
    ragline.mltrack     experiments, registry, costs ledger, monitoring, classical ML
    ragline.serving     settings, wiring, services, the CLI and the HTTP API
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> "module:attribute", imported on first access
_LAZY = {
    "Pipeline": "ragline.serving.library:Pipeline",
    "Result": "ragline.serving.library:Result",
    "CollectionNotFound": "ragline.serving.library:CollectionNotFound",
    "Settings": "ragline.serving.settings:Settings",
    "load_settings": "ragline.serving.settings:load_settings",
    "ConfigError": "ragline.serving.errors:ConfigError",
    "RaglineError": "ragline.core.errors:RaglineError",
    "ChatModel": "ragline.core.chat:ChatModel",
    "ChatRequest": "ragline.core.chat:ChatRequest",
    "Completion": "ragline.core.chat:Completion",
    "Message": "ragline.core.chat:Message",
    "Tool": "ragline.core.chat:Tool",
    "ToolCall": "ragline.core.chat:ToolCall",
    "Hit": "ragline.core.index:Hit",
    "Usage": "ragline.core.chat:Usage",
    "Embedder": "ragline.core.embedding:Embedder",
    "SparseEncoder": "ragline.core.embedding:SparseEncoder",
    "CostEvent": "ragline.core.costs:CostEvent",
    "CostSink": "ragline.core.costs:CostSink",
    "Prices": "ragline.core.pricing:Prices",
    "Router": "ragline.llm_router.router:Router",
    "build_router": "ragline.llm_router.build:build_router",
    "Ledger": "ragline.mltrack.costs.ledger:Ledger",
    "ModelRegistry": "ragline.mltrack.tracking.registry:ModelRegistry",
    "Registry": "ragline.mltrack.tracking.registry:ModelRegistry",
}

__all__ = [
    "ChatModel",
    "ChatRequest",
    "CollectionNotFound",
    "Completion",
    "ConfigError",
    "CostEvent",
    "CostSink",
    "Embedder",
    "Hit",
    "Ledger",
    "Message",
    "ModelRegistry",
    "Pipeline",
    "Prices",
    "RaglineError",
    "Registry",
    "Result",
    "Router",
    "Settings",
    "SparseEncoder",
    "Tool",
    "ToolCall",
    "Usage",
    "__version__",
    "build_router",
    "load_settings",
]

if TYPE_CHECKING:
    from ragline.core.chat import ChatModel, ChatRequest, Completion, Message, Tool, ToolCall, Usage
    from ragline.core.costs import CostEvent, CostSink
    from ragline.core.embedding import Embedder, SparseEncoder
    from ragline.core.errors import RaglineError
    from ragline.core.index import Hit
    from ragline.core.pricing import Prices
    from ragline.llm_router.build import build_router
    from ragline.llm_router.router import Router
    from ragline.mltrack.costs.ledger import Ledger
    from ragline.mltrack.tracking.registry import ModelRegistry
    from ragline.mltrack.tracking.registry import ModelRegistry as Registry
    from ragline.serving.errors import ConfigError
    from ragline.serving.library import CollectionNotFound, Pipeline, Result
    from ragline.serving.settings import Settings, load_settings


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'ragline' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
