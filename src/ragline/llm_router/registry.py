"""Chat models by name: "provider" or "provider:model" strings resolve to `ChatModel` objects.

    model = resolve("extractive")
    model = resolve("local:/models/qwen2.5-0.5b-instruct-q4_k_m.gguf", LlmConfig())
    model = resolve("openai:gpt-4o-mini")            # also "vllm:<model or LoRA>", "anthropic:..."

A deployment in `config.deployments` that sets `base_url` / `api_key_env` is built with them
over its provider's section (`llm.openai`, `llm.vllm`, `llm.anthropic`).

Built-in providers register exactly as any other would:

    registry = builtin_registry()
    registry.register("echo", lambda model, config: EchoModel())
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from ragline.core.chat import ChatModel
from ragline.llm_router.config import LlmConfig
from ragline.llm_router.errors import Unavailable, UnknownProvider

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
        config = config or LlmConfig()
        return factory(model or None, _endpoint(name, spec.strip(), config))


def builtin_registry() -> Registry:
    """A registry holding ragline's own providers: `local`, `extractive`, `openai`, `vllm`
    and `anthropic`."""
    registry = Registry()
    registry.register("local", _local)
    registry.register("extractive", _extractive)
    registry.register("openai", _openai)
    registry.register("vllm", _vllm)
    registry.register("anthropic", _anthropic)
    return registry


def resolve(spec: str, config: LlmConfig | None = None) -> ChatModel:
    """`builtin_registry().resolve(spec, config)`."""
    return builtin_registry().resolve(spec, config)


def _endpoint(name: str, spec: str, config: LlmConfig) -> LlmConfig:
    """`config` with the deployment `spec`'s own base_url / api_key_env (if it sets any) in
    its provider's section, so deployments of one provider can live on different servers."""
    deployment = next((d for d in config.deployments if d.model == spec), None)
    if deployment is None:
        return config
    update = {
        key: value
        for key, value in (
            ("base_url", deployment.base_url),
            ("api_key_env", deployment.api_key_env),
        )
        if value is not None
    }
    if not update:
        return config
    section = getattr(config, name, None)
    if not isinstance(section, BaseModel) or not set(update) <= set(type(section).model_fields):
        raise UnknownProvider(
            f"deployment {spec!r} sets {', '.join(sorted(update))}, which provider {name!r} "
            "does not take; remove them (only openai, vllm and anthropic call a server)"
        )
    return config.model_copy(update={name: section.model_copy(update=update)})


def _local(model: str | None, config: LlmConfig) -> ChatModel:
    from ragline.llm_router.providers.local import LocalModel

    local = config.local
    if model is not None:
        local = local.model_copy(update={"model_path": Path(model)})
    return LocalModel(local)


def _extractive(model: str | None, config: LlmConfig) -> ChatModel:
    from ragline.llm_router.providers.extractive import ExtractiveModel

    if model not in (None, "bm25"):
        raise UnknownProvider(f"extractive has one model, 'bm25'; got {model!r}")
    return ExtractiveModel(config.extractive)


def _openai(model: str | None, config: LlmConfig) -> ChatModel:
    _require("openai", "openai")
    from ragline.llm_router.providers.openai_chat import OpenAIChatModel

    return OpenAIChatModel(config.openai, model)


def _vllm(model: str | None, config: LlmConfig) -> ChatModel:
    _require("openai", "vllm")
    from ragline.llm_router.providers.vllm_chat import VllmChatModel

    return VllmChatModel(config.vllm, model)


def _anthropic(model: str | None, config: LlmConfig) -> ChatModel:
    _require("anthropic", "anthropic")
    from ragline.llm_router.providers.anthropic_chat import AnthropicChatModel

    return AnthropicChatModel(config.anthropic, model)


def _require(package: str, provider: str) -> None:
    if importlib.util.find_spec(package) is None:
        raise Unavailable(
            f"the {provider} provider needs the {package} package: pip install 'ragline[llm]' "
            "(or choose another provider, e.g. llm.provider: extractive)"
        )
