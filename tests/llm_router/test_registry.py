"""The provider registry and the error tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ragline.llm_router.errors
from ragline.llm_router import (
    ChatModel,
    ChatRequest,
    Completion,
    LlmConfig,
    Message,
    ProviderError,
    RateLimited,
    Registry,
    StreamChunk,
    Timeout,
    Unavailable,
    UnknownProvider,
    Usage,
    builtin_registry,
    resolve,
)
from ragline.llm_router.config import ExtractiveConfig, LocalConfig
from ragline.llm_router.providers.extractive import ExtractiveModel

pytestmark = pytest.mark.unit


class EchoModel:
    """A provider defined outside llm_router, registered like the built-ins."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    @property
    def name(self) -> str:
        return f"echo:{self.suffix}"

    def complete(self, request: ChatRequest) -> Completion:
        text = request.messages[-1].content + self.suffix
        return Completion(text, self.name, Usage(1, 1), 0.1)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        done = self.complete(request)
        yield StreamChunk(done.text, self.name, "stop", done.usage)


def test_builtin_providers_resolve_by_name() -> None:
    assert builtin_registry().names() == ["anthropic", "extractive", "local", "openai", "vllm"]
    model = resolve("extractive")
    assert isinstance(model, ExtractiveModel)
    assert isinstance(model, ChatModel)
    assert resolve(" extractive:bm25 ").name == "extractive:bm25"


def test_config_reaches_the_provider() -> None:
    config = LlmConfig(extractive=ExtractiveConfig(max_sentences=1))
    model = resolve("extractive", config)
    assert isinstance(model, ExtractiveModel)
    assert model._config.max_sentences == 1


def test_unknown_names_say_what_is_known() -> None:
    known = "known: anthropic, extractive, local, openai, vllm"
    with pytest.raises(UnknownProvider, match=rf"'opnai'.*{known}"):
        resolve("opnai:gpt-4o")
    with pytest.raises(UnknownProvider, match="'bm25'"):
        resolve("extractive:tfidf")


def test_a_missing_model_file_names_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(Unavailable, match=r"nope\.gguf not found; set llm\.local\.model_path"):
        resolve(f"local:{missing}")
    config = LlmConfig(local=LocalConfig(model_path=missing))
    with pytest.raises(Unavailable, match="RAGLINE_LLM__LOCAL__MODEL_PATH"):
        resolve("local", config)


def test_other_providers_register_like_the_builtins() -> None:
    registry = Registry()
    registry.register("echo", lambda model, config: EchoModel(model or "!"))
    model = registry.resolve("echo:?")
    assert model.name == "echo:?"
    assert model.complete(ChatRequest(messages=(Message("user", "hi"),))).text == "hi?"
    assert registry.resolve("echo").name == "echo:!"
    with pytest.raises(ValueError, match="no ':'"):
        registry.register("a:b", lambda model, config: EchoModel(""))


def test_error_tree() -> None:
    for leaf in (Unavailable, Timeout, RateLimited, UnknownProvider):
        assert issubclass(leaf, ProviderError)
        assert leaf.__name__ in (ragline.llm_router.errors.__doc__ or "")
    assert RateLimited("slow down", retry_after_s=2.5).retry_after_s == 2.5
    assert RateLimited("slow down").retry_after_s is None


def test_requests_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one message"):
        ChatRequest(messages=())
    with pytest.raises(ValueError, match="max_tokens"):
        ChatRequest(messages=(Message("user", "x"),), max_tokens=0)
