"""Server-sent events of a streamed chat completion, in OpenAI's chunk shape.

    ids = StreamIds("chatcmpl-r1", int(time.time()), include_usage=True)
    StreamingResponse(sse_events(first, pieces, ids, outcome, rid), media_type="text/event-stream")

The role comes first, then text pieces and whole tool calls as they arrive, then the finish
reason (with a rag model's `citations`), the usage when asked for, and `data: [DONE]`. A
provider error after the first byte ends the stream with an `{"error": ...}` event (OpenAI's
shape, the same client-safe message an error status would carry), which OpenAI clients raise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ragline.core.chat import FinishReason, StreamChunk, ToolCall, Usage
from ragline.llm_router.errors import ProviderError
from ragline.serving.api.errors import provider_status
from ragline.serving.api.middleware import error_body
from ragline.serving.api.openai_convert import tool_calls_out, usage
from ragline.serving.api.openai_schemas import (
    ChatCompletionChunk,
    ChunkChoice,
    ChunkDelta,
    CitationField,
)
from ragline.serving.api.services import Outcome
from ragline.serving.logs import ERROR_LOGGER

log = logging.getLogger(ERROR_LOGGER)


@dataclass(frozen=True, slots=True)
class StreamIds:
    """What every chunk of one stream repeats.

    StreamIds("chatcmpl-r1", int(time.time()), include_usage=True).chunk(model, delta)
    """

    id: str
    created: int
    include_usage: bool

    def chunk(
        self, model: str, delta: ChunkDelta, finish: FinishReason | None = None
    ) -> ChatCompletionChunk:
        choice = ChunkChoice(delta=delta, finish_reason=finish)
        return ChatCompletionChunk(id=self.id, created=self.created, model=model, choices=[choice])


def sse_events(
    first: StreamChunk | None,
    pieces: Iterator[StreamChunk],
    stream: StreamIds,
    outcome: Outcome,
    rid: str,
    citations: Sequence[CitationField] | None = None,
    on_done: Callable[[str, tuple[ToolCall, ...]], None] | None = None,
) -> Iterator[str]:
    """`data: {chunk}` events (see the module docstring); `on_done(text, tool_calls)` is called
    with the whole answer once the last piece has arrived (a conversation stores it)."""
    error: ProviderError | None = None
    model = first.model if first else "ragline"
    counts: Usage | None = None
    finish: FinishReason = "stop"
    texts: list[str] = []
    called: tuple[ToolCall, ...] = ()
    try:
        yield _sse(stream.chunk(model, ChunkDelta(role="assistant", content="")))
        for piece in _chain(first, pieces):
            if piece.text:
                texts.append(piece.text)
                yield _sse(stream.chunk(model, ChunkDelta(content=piece.text)))
            called += piece.tool_calls
            if piece.tool_calls:
                calls = tool_calls_out(piece.tool_calls, indexed=True)
                yield _sse(stream.chunk(model, ChunkDelta(tool_calls=calls)))
            finish = piece.finish_reason or finish
            counts = piece.usage or counts
        if on_done is not None:
            on_done("".join(texts).strip(), called)
        last = stream.chunk(model, ChunkDelta(), finish)
        if citations is not None:
            last = last.model_copy(update={"citations": list(citations)})
        yield _sse(last)
        if stream.include_usage:
            yield _sse(
                ChatCompletionChunk(
                    id=stream.id,
                    created=stream.created,
                    model=model,
                    choices=[],
                    usage=usage(counts or Usage(0, 0)),
                )
            )
        yield "data: [DONE]\n\n"
    except ProviderError as exc:
        error = exc
        status, safe_message = provider_status(exc)
        log.warning(
            "provider error mid-stream",
            exc_info=exc,
            extra={"fields": {"request_id": rid, "status": status}},
        )
        yield f"data: {json.dumps(error_body(status, safe_message or str(exc), rid))}\n\n"
    finally:
        outcome.finish(error)


def _chain(first: StreamChunk | None, rest: Iterator[StreamChunk]) -> Iterator[StreamChunk]:
    if first is not None:
        yield first
    yield from rest


def _sse(chunk: ChatCompletionChunk) -> str:
    return f"data: {chunk.model_dump_json()}\n\n"
