"""POST /v1/completions: OpenAI's legacy text completions, for clients that still use them.

    client.completions.create(model="ragline", prompt="Say hello.", max_tokens=16)
    OpenAILike(api_base=..., model="ragline")         # LlamaIndex's default (is_chat_model=False)

The prompt goes to the same router and models as POST /v1/chat/completions, as one user
message (ragline's providers are chat models; a chat template wraps the prompt), so the text
is the model's reply to the prompt rather than a raw continuation of it. `echo` puts the
prompt in front of the text; `suffix` and `logprobs` are dropped (X-Ragline-Dropped-Params);
`n` / `best_of` above 1 and more than one prompt are refused (400): send one request each.
Streaming sends `text_completion` chunks and `data: [DONE]`.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ragline.core.chat import ChatRequest, FinishReason, Message, StreamChunk, Usage
from ragline.core.costs import cost_scope
from ragline.llm_router.errors import ProviderError
from ragline.serving.api.context import caller, request_id
from ragline.serving.api.errors import provider_status
from ragline.serving.api.middleware import error_body
from ragline.serving.api.openai_convert import (
    DEFAULT_MAX_TOKENS,
    add_dropped,
    sampling_of,
    usage,
)
from ragline.serving.api.openai_schemas import CompletionRequest, TextChoice, TextCompletion
from ragline.serving.api.schemas import CONTROL_ARM, error_docs, error_response, usd_header
from ragline.serving.api.services import Outcome, ServicesDep

router = APIRouter(tags=["chat"])


@router.post(
    "/completions",
    response_model=TextCompletion,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "a completion, or a stream"},
        **error_docs(400, 402, 404, 422, 429, 502, 503),
    },
)
def completions(body: CompletionRequest, request: Request, services: ServicesDep) -> Response:
    """A legacy text completion (see the module docstring)."""
    rid = request_id(request) or uuid.uuid4().hex
    who = caller(request)
    arm = services.arm_for(who, body.user)
    pipeline = services.pipeline(arm)
    problem = _refusal(body)
    if problem is not None:
        message, param = problem
        return error_response(400, message, code="unsupported_parameter", param=param)
    model = pipeline.chat_model(body.model)
    if model is None:
        served = ", ".join(["ragline", *pipeline.served_models()])
        message = f"model {body.model!r} is not served here; use one of: {served}"
        return error_response(404, message, code="model_not_found", param="model")
    prompt = body.prompt if isinstance(body.prompt, str) else body.prompt[0]
    chat = ChatRequest(
        messages=(Message("user", prompt or " "),),
        max_tokens=body.token_limit(DEFAULT_MAX_TOKENS),
        temperature=body.temperature,
        stop=body.stops(),
        sampling=sampling_of(body),
    )
    dropped = [name for name in ("suffix", "logprobs") if getattr(body, name) is not None]
    headers = {"X-Ragline-Arm": arm or CONTROL_ARM}
    shape = TextCompletion(id=f"cmpl-{rid}", created=int(time.time()), model="", choices=[])
    echo = prompt if body.echo else ""
    if body.stream:
        pieces = model.stream(chat, key=who, request_id=rid)
        outcome = services.outcome(arm)
        try:
            first = next(pieces, None)
        except ProviderError as exc:
            outcome.finish(exc)
            raise
        add_dropped(headers, [*dropped, *(first.dropped if first else ())])
        events = _events(first, pieces, shape, echo, outcome, rid)
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    with services.outcome(arm), cost_scope(rid, key=who) as scope:
        done = model.complete(chat, key=who, request_id=rid)
    add_dropped(headers, [*dropped, *done.dropped])
    headers["X-Ragline-Cost-USD"] = usd_header(float(scope.total_usd()))
    headers["X-Ragline-Cache"] = done.cache or "miss"
    text = TextChoice(text=echo + done.text, finish_reason=_finish(done.finish_reason))
    update = {"model": done.model, "choices": [text], "usage": usage(done.usage)}
    out = shape.model_copy(update=update)
    return JSONResponse(out.model_dump(mode="json"), headers=headers)


def _refusal(body: CompletionRequest) -> tuple[str, str] | None:
    if isinstance(body.prompt, list) and len(body.prompt) != 1:
        return "send exactly one prompt per request (a list of one, or a string)", "prompt"
    for name in ("n", "best_of"):
        count = getattr(body, name)
        if count is not None and count > 1:
            return f"{name}={count}: ragline answers one choice; send {count} requests", name
    return None


def _finish(reason: FinishReason) -> FinishReason:
    return "stop" if reason == "tool_calls" else reason


def _events(
    first: StreamChunk | None,
    pieces: Iterator[StreamChunk],
    shape: TextCompletion,
    echo: str,
    outcome: Outcome,
    rid: str,
) -> Iterator[str]:
    model = first.model if first else "ragline"
    counts: Usage | None = None
    error: ProviderError | None = None

    def event(text: str, finish: FinishReason | None = None, done: Usage | None = None) -> str:
        update: dict[str, object] = {
            "model": model,
            "choices": [TextChoice(text=text, finish_reason=finish)],
        }
        if done is not None:
            update["usage"] = usage(done)
        return f"data: {shape.model_copy(update=update).model_dump_json()}\n\n"

    try:
        if echo:
            yield event(echo)
        finish: FinishReason = "stop"
        for piece in itertools.chain([first] if first else [], pieces):
            if piece.text:
                yield event(piece.text)
            finish = piece.finish_reason or finish
            counts = piece.usage or counts
        yield event("", _finish(finish), counts or Usage(0, 0))
        yield "data: [DONE]\n\n"
    except ProviderError as exc:
        error = exc
        status, safe = provider_status(exc)
        yield f"data: {json.dumps(error_body(status, safe or str(exc), rid))}\n\n"
    finally:
        outcome.finish(error)
