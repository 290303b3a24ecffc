"""POST /v1/chat/completions (OpenAI-compatible, streaming as server-sent events), GET /v1/models.

    client = OpenAI(base_url="http://127.0.0.1:8080/v1", api_key=key)
    client.chat.completions.create(model="ragline", messages=[{"role": "user", "content": "Hi"}])
    for chunk in client.chat.completions.create(model="ragline", messages=..., stream=True): ...

`model` "ragline" (or "default", or empty) goes through the configured router, with its
fallbacks; a configured "provider:model" (llm.provider, llm.deployments, llm.fallbacks) is
asked alone; any other name is a 404 `model_not_found`. Answers carry the headers
`X-Ragline-Arm`, and (not for streams, whose cost is known only at the end)
`X-Ragline-Cost-USD` and `X-Ragline-Cache` (exact | semantic | miss).

A stream's first chunk is fetched before the response starts, so a request no model can
serve gets a proper error status; an error after that ends the stream with an
`{"error": ...}` event, which OpenAI clients raise.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ragline.core.chat import ChatRequest, FinishReason, Message, StreamChunk, Usage
from ragline.core.costs import cost_scope
from ragline.llm_router.errors import ProviderError
from ragline.llm_router.router import Router
from ragline.serving.api.context import caller, request_id
from ragline.serving.api.errors import provider_status
from ragline.serving.api.middleware import error_body
from ragline.serving.api.schemas import (
    CONTROL_ARM,
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatUsage,
    ChunkChoice,
    ChunkDelta,
    ModelCard,
    ModelList,
    error_docs,
    error_response,
    usd_header,
)
from ragline.serving.api.services import Outcome, ServicesDep
from ragline.serving.logs import ERROR_LOGGER

DEFAULT_MAX_TOKENS = 512
log = logging.getLogger(ERROR_LOGGER)
router = APIRouter(tags=["chat"])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "a completion, or a stream"},
        **error_docs(400, 402, 404, 422, 429, 502, 503),
    },
)
def chat_completions(
    body: ChatCompletionRequest, request: Request, services: ServicesDep
) -> Response:
    """An OpenAI chat completion through ragline's router (see the module docstring)."""
    rid = request_id(request) or uuid.uuid4().hex
    who = caller(request)
    arm = services.arm_for(who, body.user)
    pipeline = services.pipeline(arm)
    model = pipeline.chat_model(body.model)
    if model is None:
        served = ", ".join(["ragline", *pipeline.served_models()])
        return error_response(
            404,
            f"model {body.model!r} is not served here; use one of: {served}",
            code="model_not_found",
            param="model",
            request_id=rid,
        )
    chat = to_chat_request(body)
    headers = {"X-Ragline-Arm": arm or CONTROL_ARM}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = StreamIds(f"chatcmpl-{rid}", int(time.time()), include_usage)
        return _start_stream(model, chat, who, rid, stream, services.outcome(arm), headers)
    with services.outcome(arm), cost_scope(rid, key=who) as scope:
        done = model.complete(chat, key=who, request_id=rid)
    headers["X-Ragline-Cost-USD"] = usd_header(float(scope.total_usd()))
    headers["X-Ragline-Cache"] = done.cache or "miss"
    completion = ChatCompletion(
        id=f"chatcmpl-{rid}",
        created=int(time.time()),
        model=done.model,
        choices=[
            ChatChoice(
                message=AssistantMessage(content=done.text), finish_reason=done.finish_reason
            )
        ],
        usage=_usage(done.usage),
    )
    return JSONResponse(completion.model_dump(mode="json"), headers=headers)


@router.get("/models", response_model=ModelList)
def list_models(services: ServicesDep) -> ModelList:
    """ "ragline" (the configured router), each model a chat request may name, and the
    embedding model POST /v1/embeddings serves."""
    return ModelList(data=[ModelCard(id=name) for name in _model_ids(services)])


@router.get("/models/{model_id:path}", response_model=ModelCard, responses=error_docs(404))
def get_model(model_id: str, request: Request, services: ServicesDep) -> Response:
    """One model of GET /v1/models; 404 `model_not_found` for any other id."""
    if model_id not in _model_ids(services):
        return error_response(
            404,
            f"model {model_id!r} is not served here; GET /v1/models lists them",
            code="model_not_found",
            param="model",
            request_id=request_id(request),
        )
    return JSONResponse(ModelCard(id=model_id).model_dump(mode="json"))


def _model_ids(services: ServicesDep) -> list[str]:
    embedding = PurePath(services.settings.embedding.model).name
    names = ["ragline", *services.pipeline(None).served_models(), embedding]
    return list(dict.fromkeys(names))


def to_chat_request(body: ChatCompletionRequest) -> ChatRequest:
    """The router's request for an OpenAI request body (already validated)."""
    return ChatRequest(
        messages=tuple(Message(m.role, m.content) for m in body.messages),
        max_tokens=body.token_limit(DEFAULT_MAX_TOKENS),
        temperature=body.temperature,
        stop=body.stops(),
    )


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


def _start_stream(
    model: Router,
    chat: ChatRequest,
    who: str,
    rid: str,
    stream: StreamIds,
    outcome: Outcome,
    headers: dict[str, str],
) -> Response:
    pieces = model.stream(chat, key=who, request_id=rid)
    try:
        first = next(pieces, None)
    except ProviderError as exc:
        outcome.finish(exc)
        raise  # before any byte is sent: the app's handler answers with the right status
    headers |= {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    events = sse_events(first, pieces, stream, outcome, rid)
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def sse_events(
    first: StreamChunk | None,
    pieces: Iterator[StreamChunk],
    stream: StreamIds,
    outcome: Outcome,
    rid: str,
) -> Iterator[str]:
    """`data: {chunk}` events: the role first, then text pieces, then the finish reason, the
    usage when asked for, and `data: [DONE]`. A provider error ends it with an error event
    (OpenAI's shape, the same client-safe message as an error status would carry)."""
    error: ProviderError | None = None
    model = first.model if first else "ragline"
    usage: Usage | None = None
    finish: FinishReason = "stop"
    try:
        yield _sse(stream.chunk(model, ChunkDelta(role="assistant", content="")))
        for piece in _chain(first, pieces):
            if piece.text:
                yield _sse(stream.chunk(model, ChunkDelta(content=piece.text)))
            finish = piece.finish_reason or finish
            usage = piece.usage or usage
        yield _sse(stream.chunk(model, ChunkDelta(), finish))
        if stream.include_usage:
            last = ChatCompletionChunk(
                id=stream.id,
                created=stream.created,
                model=model,
                choices=[],
                usage=_usage(usage or Usage(0, 0)),
            )
            yield _sse(last)
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


def _usage(usage: Usage) -> ChatUsage:
    return ChatUsage(
        prompt_tokens=usage.tokens_in,
        completion_tokens=usage.tokens_out,
        total_tokens=usage.total,
    )
