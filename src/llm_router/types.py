"""Typed values of a chat exchange: messages, requests, token usage and completions.

request = ChatRequest(messages=(Message("user", "Hello"),), max_tokens=64)
completion = model.complete(request)
completion.text, completion.usage.tokens_out
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What a provider is asked to complete.

    `model` names a model when a provider serves several (None: the provider's own);
    `temperature` None means the provider's configured default (0 for `local`).

        ChatRequest(messages=(Message("system", rules), Message("user", prompt)), max_tokens=256)
    """

    messages: tuple[Message, ...]
    model: str | None = None
    max_tokens: int = 512
    temperature: float | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("a ChatRequest needs at least one message")
        if self.max_tokens <= 0:
            raise ValueError(f"max_tokens must be positive, got {self.max_tokens}")


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens read and written by one call, as the provider reports them or as counted."""

    tokens_in: int
    tokens_out: int

    @property
    def total(self) -> int:
        return self.tokens_in + self.tokens_out


@dataclass(frozen=True, slots=True)
class Completion:
    """A provider's answer to one `ChatRequest`; `usage` is always filled.

    `model` is "provider:model" as it ran (e.g. "local:SmolLM2-135M-Instruct.Q4_1");
    `finish_reason` is "length" when `max_tokens` cut the text short.
    """

    text: str
    model: str
    usage: Usage
    latency_ms: float
    finish_reason: FinishReason = "stop"
