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

Role = Literal["system", "developer", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls"]
CacheKind = Literal["exact", "semantic"]
_CONFIG = ConfigDict(extra="forbid", arbitrary_types_allowed=False)


@dataclass(frozen=True, slots=True, config=_CONFIG)
class ToolCall:
    """A model's request to call a function: ToolCall("call_1", "get_weather", '{"city": "Oslo"}').

    `arguments` is the JSON text as the model wrote it (it may not parse: the caller checks)."""

    id: str
    name: str
    arguments: str = "{}"


@dataclass(frozen=True, slots=True, config=_CONFIG)
class Tool:
    """A function the model may call: its name, what it does and its JSON-schema parameters.

    Tool("get_weather", "Current weather of a city", {"type": "object", "properties": {...}})
    """

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    strict: bool | None = None


@dataclass(frozen=True, slots=True, config=_CONFIG)
class Message:
    """One chat message. An assistant message may carry `tool_calls`; a "tool" message answers
    one of them (`tool_call_id`). "developer" is OpenAI's newer name for "system"."""

    role: Role
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True, config=_CONFIG)
class Sampling:
    """OpenAI's optional sampling and bookkeeping parameters; None (the default) = not asked.

    A provider that cannot honour one drops it and says so (`Completion.dropped`).
    """

    top_p: float | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: Mapping[str, float] | None = None
    top_logprobs: int | None = None
    user: str | None = None
    metadata: Mapping[str, str] | None = None
    parallel_tool_calls: bool | None = None

    def given(self) -> tuple[str, ...]:
        """The names of the parameters set (not None), in field order."""
        return tuple(f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None)


@dataclass(frozen=True, slots=True, config=_CONFIG)
class ChatRequest:
    """What a provider is asked to complete.

    `model` names a model when a provider serves several (None: the provider's own);
    `temperature` None means the provider's configured default (0 for `local`).
    `json_schema` / `regex` constrain the output (vLLM's guided decoding); a provider that
    cannot honour them raises `BadRequest`; `json_object` asks for any JSON object (OpenAI's
    JSON mode). `logprobs` asks OpenAI-format servers for token log-probabilities, from which
    `Completion.confidence` is computed (others ignore it). `tools` and `tool_choice` ("auto",
    "none", "required" or a tool's name) offer functions to call. `prompt` names the template
    ("grounded-answer@2") the messages were rendered from, for the cost events.

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
    json_object: bool = False
    tools: tuple[Tool, ...] = ()
    tool_choice: str | None = None
    sampling: Sampling = Sampling()
    prompt: str | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("a ChatRequest needs at least one message")
        if self.max_tokens <= 0:
            raise ValueError(f"max_tokens must be positive, got {self.max_tokens}")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")
        if self.json_schema is not None and self.regex is not None:
            raise ValueError("give json_schema or regex, not both")
        if self.tool_choice not in (None, "auto", "none", "required") and self.tool_choice not in {
            t.name for t in self.tools
        }:
            raise ValueError(f"tool_choice {self.tool_choice!r} names no tool of the request")

    def options(self) -> tuple[str, ...]:
        """The optional OpenAI parameters this request sets, by their wire names: what a
        provider compares with what it honours (`unhonoured`)."""
        names = list(self.sampling.given())
        if self.tools:
            names.append("tools")
        if self.tool_choice is not None:
            names.append("tool_choice")
        if self.logprobs:
            names.append("logprobs")
        return tuple(names)

    def with_default_temperature(self, temperature: float | None) -> ChatRequest:
        """This request, with `temperature` filled in if it names none (a provider's default)."""
        if self.temperature is not None or temperature is None:
            return self
        return dataclasses.replace(self, temperature=temperature)

    @property
    def system(self) -> str:
        """The system (and developer) messages joined (Anthropic takes them apart)."""
        return "\n\n".join(m.content for m in self.messages if m.role in INSTRUCTION_ROLES)


INSTRUCTION_ROLES = frozenset({"system", "developer"})


def unhonoured(request: ChatRequest, honours: frozenset[str]) -> tuple[str, ...]:
    """The optional parameters of `request` a provider honouring `honours` drops.

    unhonoured(request, frozenset({"top_p", "seed"}))   # ("metadata",) if metadata was set
    """
    return tuple(name for name in request.options() if name not in honours)


@dataclass(frozen=True, slots=True, config=_CONFIG)
class Usage:
    """Tokens read and written by one call.

    `source` says whether the provider reported the counts or ragline counted them (the
    local model's tokenizer over its chat template, else tiktoken plus template overhead);
    `cached_in` is the part of `tokens_in` the provider served from its prompt cache (priced
    at the cached-input rate).
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
class TokenLogprob:
    """One generated token's log-probability, and the most likely alternatives at its place.

    TokenLogprob("Paris", -0.01, (("Paris", -0.01), ("London", -4.7)))
    """

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True, config=_CONFIG)
class Completion:
    """A provider's answer to one `ChatRequest`; `usage` is always filled.

    `model` is "provider:model" as it ran (e.g. "local:SmolLM2-135M-Instruct.Q4_1");
    `finish_reason` is "length" when `max_tokens` cut the text short. The router fills
    `cost_usd` from the pricing table, `cache` when the answer came from a cache, and
    `attempts` with the deployments it tried in order. `confidence` (0-1) is the mean token
    probability where the provider returns log-probabilities, else None. `tool_calls` holds
    the functions the model asked for (finish_reason "tool_calls"); `dropped` names the
    request's optional parameters the provider could not honour. `logprobs` holds the answer's
    tokens with their log-probabilities when the request asked (`logprobs`) and the provider
    returns them (OpenAI-format servers, the local model).
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
    tool_calls: tuple[ToolCall, ...] = ()
    dropped: tuple[str, ...] = ()
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True, slots=True, config=_CONFIG)
class StreamChunk:
    """A piece of a streamed answer. The last chunk has `finish_reason` and `usage` set; a
    tool call arrives whole, in one chunk; the first chunk names the `dropped` parameters."""

    text: str
    model: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    dropped: tuple[str, ...] = ()


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
