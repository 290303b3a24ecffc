"""Chat models by name: "provider" or "provider:model" strings resolve to `ChatModel` objects.

    model = resolve("extractive")
    model = resolve("local:/models/qwen2.5-0.5b-instruct-q4_k_m.gguf", LlmConfig())

Built-in providers register exactly as any other would:

    registry = builtin_registry()
    registry.register("echo", lambda model, config: EchoModel())
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llm_router.config import LlmConfig
from llm_router.errors import UnknownProvider
from llm_router.protocol import ChatModel

# (the part after "provider:", or None; the whole model-layer config) -> a ChatModel
ProviderFactory = Callable[[str | None, LlmConfig], ChatModel]


class Registry:
    """A name -> factory table. Factories are cheap; models load their weights lazily."""

    def __init__(self) -> None:
        self._factories: dict[str, ProviderFactory] = {}

    def register(self, name: str, factory: ProviderFactory) -> None:
        if not name or ":" in name:
            raise ValueError(f"provider name {name!r} must be non-empty and have no ':'")
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def resolve(self, spec: str, config: LlmConfig | None = None) -> ChatModel:
        """The model `spec` names ("extractive", "local", "local:/path/model.gguf")."""
        name, _, model = spec.strip().partition(":")
        factory = self._factories.get(name)
        if factory is None:
            raise UnknownProvider(
                f"unknown provider {name!r} in {spec!r}; known: {', '.join(self.names())} "
                "(write 'provider' or 'provider:model', e.g. 'local:/path/model.gguf')"
            )
        return factory(model or None, config or LlmConfig())


def builtin_registry() -> Registry:
    """A registry holding ragline's own providers: `local` and `extractive`."""
    registry = Registry()
    registry.register("local", _local)
    registry.register("extractive", _extractive)
    return registry


def resolve(spec: str, config: LlmConfig | None = None) -> ChatModel:
    """`builtin_registry().resolve(spec, config)`."""
    return builtin_registry().resolve(spec, config)


def _local(model: str | None, config: LlmConfig) -> ChatModel:
    from llm_router.local import LocalModel

    local = config.local
    if model is not None:
        local = local.model_copy(update={"model_path": Path(model)})
    return LocalModel(local)


def _extractive(model: str | None, config: LlmConfig) -> ChatModel:
    from llm_router.extractive import ExtractiveModel

    if model not in (None, "bm25"):
        raise UnknownProvider(f"extractive has one model, 'bm25'; got {model!r}")
    return ExtractiveModel(config.extractive)
