"""POST /v1/chat/completions (OpenAI-compatible, streaming as server-sent events), GET /v1/models.

    client = OpenAI(base_url="http://127.0.0.1:8080/v1", api_key=key)
    client.chat.completions.create(model="ragline", messages=[{"role": "user", "content": "Hi"}])
    client.chat.completions.create(model="rag:docs", messages=...)    # answered from "docs"
    for chunk in client.chat.completions.create(model="ragline", messages=..., stream=True): ...

`model` "ragline" (or "default", or empty) goes through the configured router, with its
fallbacks; a configured "provider:model" (llm.provider, llm.deployments, llm.fallbacks) is
asked alone; "rag" (the default collection) and "rag:<collection>" answer from a collection
with verified citations (`rag_chat`); any other name is a 404 `model_not_found`.

The whole OpenAI request schema is accepted (`openai_schemas`): tools and tool calls pass to
the providers and come back in OpenAI's `tool_calls` shape; `response_format` json_schema /
json_object replies are validated against the schema and repaired (`Router.structured`);
parameters the answering provider cannot honour are named in `X-Ragline-Dropped-Params`.
Answers carry `X-Ragline-Arm`, and (not for streams, whose cost is known only at the end)
`X-Ragline-Cost-USD` and `X-Ragline-Cache` (exact | semantic | miss). A `conversation` id
(field or `X-Ragline-Conversation` header) continues a server-side conversation of the key's
owner (the key needs the "write" scope); GET /v1/models lists the collections the key may read.

A stream's first chunk is fetched before the response starts, so a request no model can
serve gets a proper error status.
"""

from __future__ import annotations

import time
import uuid
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ragline.core.chat import ChatRequest, Completion
from ragline.core.costs import cost_scope
from ragline.llm_router.router import Router
from ragline.serving.api.context import caller, request_id, tenant
from ragline.serving.api.openai_convert import (
    Refusal,
    add_dropped,
    chat_request,
    check,
    completion_body,
    output_schema,
    to_messages,
    wants_usage,
)
from ragline.serving.api.openai_schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    ModelCard,
    ModelList,
)
from ragline.serving.api.routes.chat_memory import memory_for
from ragline.serving.api.routes.chat_stream import start_stream, structured_stream
from ragline.serving.api.routes.conversations import conversation_error
from ragline.serving.api.routes.rag_chat import rag_reply
from ragline.serving.api.schemas import CONTROL_ARM, error_docs, error_response, usd_header
from ragline.serving.api.services import Pipeline, ServicesDep
from ragline.serving.api.streaming import StreamIds, sse_events
from ragline.serving.api.tenancy.access import denied_response, readable
from ragline.serving.api.tenancy.grants import Denied, Tenant
from ragline.serving.conversations.protocol import ConversationError
from ragline.serving.services.chat_qa import RAG_MODEL, rag_collection

__all__ = ["StreamIds", "router", "sse_events"]
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
    try:
        check(body)
        owner = tenant(request).owner
        memory = memory_for(body.conversation, request, services, owner, to_messages(body.messages))
        collection = rag_collection(body.model, pipeline.settings.store.collection)
        if collection is not None:
            return rag_reply(body, memory, collection, request, services, arm)
        model = pipeline.chat_model(body.model)
        if model is None:
            return _unknown_model(body.model, pipeline, rid)
        chat = chat_request(body, memory.prompt)
    except Refusal as exc:
        return error_response(400, str(exc), code=exc.code, param=exc.param, request_id=rid)
    except ConversationError as exc:
        return conversation_error(exc, rid)
    except Denied as exc:
        return denied_response(exc, rid)
    headers = {"X-Ragline-Arm": arm or CONTROL_ARM} | memory.headers()
    schema = output_schema(body)
    ids = StreamIds(f"chatcmpl-{rid}", int(time.time()), wants_usage(body))
    outcome = services.outcome(arm)  # records the request once, however it ends
    if body.stream and schema is None:
        return start_stream(model, chat, who, rid, ids, outcome, headers, memory.keep)
    with outcome, cost_scope(rid, key=who) as scope:
        choices = [_answer(model, chat, schema, who, rid) for _ in range(body.n or 1)]
    done = choices[0]
    memory.keep(done.text, done.tool_calls)
    add_dropped(headers, done.dropped)
    if body.stream:  # a validated JSON reply, sent in pieces once it is whole
        return structured_stream(done, ids, outcome, rid, headers)
    headers["X-Ragline-Cost-USD"] = usd_header(float(scope.total_usd()))
    headers["X-Ragline-Cache"] = done.cache or "miss"
    conversation, logprobs = memory.conversation, bool(body.logprobs)
    out = completion_body((ids.id, ids.created), choices, conversation, logprobs=logprobs)
    return JSONResponse(out.model_dump(mode="json", exclude=out.unset_extras()), headers=headers)


def _answer(
    model: Router, chat: ChatRequest, schema: dict[str, Any] | None, who: str, rid: str
) -> Completion:
    """One choice: validated against `schema` (and repaired) when there is one."""
    if schema is not None:
        return model.structured(chat, schema, key=who, request_id=rid).completion
    return model.complete(chat, key=who, request_id=rid)


def _unknown_model(model: str, pipeline: Pipeline, rid: str) -> Response:
    served = ", ".join(["ragline", RAG_MODEL, *pipeline.served_models()])
    return error_response(
        404,
        f"model {model!r} is not served here; use one of: {served} (or rag:<collection>)",
        code="model_not_found",
        param="model",
        request_id=rid,
    )


@router.get("/models", response_model=ModelList)
def list_models(request: Request, services: ServicesDep) -> ModelList:
    """ "ragline" (the configured router), each model a chat request may name, "rag" and
    "rag:<collection>" for each collection the key may read, and the embedding model of POST
    /v1/embeddings."""
    ids = _model_ids(services, tenant(request))
    return ModelList(data=[ModelCard(id=name) for name in ids])


@router.get("/models/{model_id:path}", response_model=ModelCard, responses=error_docs(404))
def get_model(model_id: str, request: Request, services: ServicesDep) -> Response:
    """One model of GET /v1/models; 404 `model_not_found` for any other id."""
    if model_id not in _model_ids(services, tenant(request)):
        return error_response(
            404,
            f"model {model_id!r} is not served here; GET /v1/models lists them",
            code="model_not_found",
            param="model",
            request_id=request_id(request),
        )
    return JSONResponse(ModelCard(id=model_id).model_dump(mode="json"))


def _model_ids(services: ServicesDep, who: Tenant) -> list[str]:
    embedding = PurePath(services.settings.embedding.model).name
    collections = readable(who, services, services.collections())
    rag = [RAG_MODEL, *(f"{RAG_MODEL}:{name}" for name in collections)]
    names = ["ragline", *services.pipeline(None).served_models(), *rag, embedding]
    return list(dict.fromkeys(names))
