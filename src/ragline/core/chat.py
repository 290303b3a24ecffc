"""Typed values of a chat exchange and the `ChatModel` protocol: the one seam between ragline
and any text generator.

    request = ChatRequest(messages=(Message("user", "Hello"),), max_tokens=64)
    completion = model.complete(request)
    completion.text, completion.usage.tokens_out
    for chunk in model.stream(request):
        print(chunk.text, end="")          # the last chunk carries finish_reason and usage

Providers fill `Completion.usage` always: with the counts the engine reports, or counted
with tiktoken (`ragline.llm_router.tokens`) when it reports none. The values are pydantic
dataclasses: frozen, positional or keyword construction, and validated, so
a bad value (a negative token count, an unknown role) fails where it is made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length"]
CacheKind = Literal["exact", "semantic"]
_CONFIG = ConfigDict(extra="forbid", arbitrary_types_allowed=False)


@dataclass(frozen=True, slots=True, config=_CONFIG)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True, config=_CONFIG)
class ChatRequest:
    """What a provider is asked to complete.

    `model` names a model when a provider serves several (None: the provider's own);
    `temperature` None means the provider's configured default (0 for `local`).
    `json_schema` / `regex` constrain the output (vLLM's guided decoding); a provider that
    cannot honour them raises `BadRequest`. `logprobs` asks OpenAI-format servers for token
    log-probabilities, from which `Completion.confidence` is computed (others ignore it).

        ChatRequest(messages=(Message("system", rules), Message("user", prompt)), max_tokens=256)
    """

    messages: tuple[Message, ...]
    model: str | None = None
    max_tokens: int = 512
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    json_schema: Mapping[str, Any] | None = None
    regex: str | None = None
    logprobs: bool = False  # ask for token log-probabilities: Completion.confidence

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("a ChatRequest needs at least one message")
        if self.max_tokens <= 0:
            raise ValueError(f"max_tokens must be positive, got {self.max_tokens}")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")
        if self.json_schema is not None and self.regex is not None:
            raise ValueError("give json_schema or regex, not both")

    def with_default_temperature(self, temperature: float | None) -> ChatRequest:
        """This request, with `temperature` filled in if it names none (a provider's default)."""
        if self.temperature is not None or temperature is None:
            return self
        return dataclasses.replace(self, temperature=temperature)

    @property
    def system(self) -> str:
        """The system messages joined (Anthropic takes them apart from the conversation)."""
        return "\n\n".join(m.content for m in self.messages if m.role == "system")


@dataclass(frozen=True, slots=True, config=_CONFIG)
class Usage:
    """Tokens read and written by one call.

    `source` says whether the provider reported the counts or ragline counted them with
    tiktoken; `cached_in` is the part of `tokens_in` the provider served from its prompt
    cache (priced at the cached-input rate).
    """

    tokens_in: int
    tokens_out: int
    cached_in: int = 0
    source: Literal["provider", "counted"] = "provider"

    def __post_init__(self) -> None:
        if min(self.tokens_in, self.tokens_out, self.cached_in) < 0:
            raise ValueError(f"token counts must be >= 0, got {self}")
        if self.cached_in > self.tokens_in:
            raise ValueError(f"cached_in {self.cached_in} exceeds tokens_in {self.tokens_in}")

    @property
    def total(self) -> int:
        return self.tokens_in + self.tokens_out


@dataclass(frozen=True, slots=True, config=_CONFIG)
class Completion:
    """A provider's answer to one `ChatRequest`; `usage` is always filled.

    `model` is "provider:model" as it ran (e.g. "local:SmolLM2-135M-Instruct.Q4_1");
    `finish_reason` is "length" when `max_tokens` cut the text short. The router fills
    `cost_usd` from the pricing table, `cache` when the answer came from a cache, and
    `attempts` with the deployments it tried in order. `confidence` (0-1) is the mean token
    probability where the provider returns log-probabilities, else None.
    """

    text: str
    model: str
    usage: Usage
    latency_ms: float
    finish_reason: FinishReason = "stop"
    cost_usd: float = 0.0
    cache: CacheKind | None = None
    attempts: tuple[str, ...] = ()
    confidence: float | None = None


@dataclass(frozen=True, slots=True, config=_CONFIG)
class StreamChunk:
    """A piece of a streamed answer. The last chunk has `finish_reason` and `usage` set."""

    text: str
    model: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


@runtime_checkable
class ChatModel(Protocol):
    """Anything that turns a `ChatRequest` into text. Errors are `ragline.llm_router.errors`
    types."""

    @property
    def name(self) -> str:
        """ "provider:model", the name shown in answers, logs and cost events."""
        ...

    def complete(self, request: ChatRequest) -> Completion:
        """The whole answer at once, with token usage and latency."""
        ...

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        """The answer in pieces as they are generated (at temperature 0: `complete`'s text).

        The last chunk carries `finish_reason` and `usage` (its text may be empty)."""
        ...
