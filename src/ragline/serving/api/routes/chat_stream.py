"""Starting a chat completion stream: the first chunk before the response, so errors get a status.

    return start_stream(router, chat, who, rid, ids, services.outcome(arm), headers)
    return structured_stream(completion, ids, outcome, rid, headers)   # a finished answer

The first chunk names the parameters the provider dropped, so they go in the response
headers (`X-Ragline-Dropped-Params`) before the body starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from starlette.responses import Response, StreamingResponse

from ragline.core.chat import ChatRequest, Completion, StreamChunk, ToolCall
from ragline.llm_router.errors import ProviderError
from ragline.llm_router.router import Router
from ragline.serving.api.openai_convert import add_dropped
from ragline.serving.api.openai_schemas import CitationField
from ragline.serving.api.services import Outcome
from ragline.serving.api.streaming import StreamIds, sse_events

_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def start_stream(
    model: Router,
    chat: ChatRequest,
    who: str,
    rid: str,
    ids: StreamIds,
    outcome: Outcome,
    headers: dict[str, str],
    on_done: Callable[[str, tuple[ToolCall, ...]], None] | None = None,
) -> Response:
    pieces = model.stream(chat, key=who, request_id=rid)
    try:
        first = next(pieces, None)
    except ProviderError as exc:
        outcome.finish(exc)
        raise  # before any byte is sent: the app's handler answers with the right status
    if first is not None:
        add_dropped(headers, first.dropped)
    events = sse_events(first, pieces, ids, outcome, rid, on_done=on_done)
    return StreamingResponse(
        events, media_type="text/event-stream", headers=headers | _STREAM_HEADERS
    )


def structured_stream(
    done: Completion,
    ids: StreamIds,
    outcome: Outcome,
    rid: str,
    headers: dict[str, str],
    citations: Sequence[CitationField] | None = None,
) -> Response:
    """A finished (validated or verified) answer sent as a stream: text in word-sized pieces,
    tool calls, the finish reason (and `citations`), usage."""
    pieces = _pieces(done)
    events = sse_events(next(pieces, None), pieces, ids, outcome, rid, citations)
    return StreamingResponse(
        events, media_type="text/event-stream", headers=headers | _STREAM_HEADERS
    )


def _pieces(done: Completion) -> Iterator[StreamChunk]:
    words = done.text.split(" ")
    for at, word in enumerate(words):
        text = word if at == len(words) - 1 else f"{word} "
        if text:
            yield StreamChunk(text, done.model)
    yield StreamChunk("", done.model, done.finish_reason, done.usage, done.tool_calls)
