"""The `ChatModel` protocol: the one seam between ragline and any text generator.

    model: ChatModel = resolve("extractive")
    completion = model.complete(ChatRequest(messages=(Message("user", "hi"),)))
    for chunk in model.stream(request):
        print(chunk.text, end="")

Providers fill `Completion.usage` always: with the counts the engine reports, or counted
with tiktoken (`llm_router.tokens`) when it reports none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from llm_router.types import ChatRequest, Completion, StreamChunk


@runtime_checkable
class ChatModel(Protocol):
    """Anything that turns a `ChatRequest` into text. Errors are `llm_router.errors` types."""

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
