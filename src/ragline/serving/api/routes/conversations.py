"""GET and DELETE /v1/conversations/{id}: a caller's server-side conversation.

    GET /v1/conversations/trip-42     -> 200 {"id": "trip-42", "object": "conversation",
                                              "turns": 2, "messages": [{"role": "user", ...}]}
    DELETE /v1/conversations/trip-42  -> 204; 404 when there is none
    GET /v1/conversations/trip-42?owner=alice   -> an admin key reads alice's conversation

A conversation belongs to the owner of the API key that wrote it (`tenant(request).owner`, the
key's name unless it sets `owner`): another tenant, or the same id after it expired, gets a 404
in OpenAI's error shape, never someone else's messages; an admin key names the owner in the
`owner` query parameter. Reading needs the "read" scope, deleting "write". Messages
come back in OpenAI's chat shape (tool calls as `tool_calls[].function`). The chat route
starts and extends conversations (its `conversation` field or X-Ragline-Conversation header;
`ragline.serving.conversations.service`); `conversation_error` is its answer to a store error.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ragline.core.chat import Message, Role
from ragline.serving.api.context import request_id, tenant
from ragline.serving.api.schemas import error_docs, error_response
from ragline.serving.api.services import ServicesDep
from ragline.serving.api.tenancy.access import denied_response
from ragline.serving.api.tenancy.grants import Denied
from ragline.serving.conversations.history import turn_count
from ragline.serving.conversations.protocol import (
    ConversationError,
    ConversationUnreadable,
    InvalidConversationId,
    check_id,
)
from ragline.serving.serve_config import Scope

router = APIRouter(tags=["conversations"])
log = logging.getLogger(__name__)
OwnerParam = Annotated[
    str | None,
    Query(pattern=r"^[\x21-\x7e]{1,200}$", description="admin keys only: whose conversation"),
]


class FunctionOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    arguments: str


class ToolCallOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    type: Literal["function"] = "function"
    function: FunctionOut


class MessageOut(BaseModel):
    """One stored message, as an OpenAI chat message."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str
    name: str | None = None
    tool_calls: list[ToolCallOut] | None = None
    tool_call_id: str | None = None


class ConversationOut(BaseModel):
    """GET /v1/conversations/{id}: the stored messages, oldest first."""

    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["conversation"] = "conversation"
    turns: int
    messages: list[MessageOut]


def message_out(message: Message) -> MessageOut:
    """`message` in OpenAI's chat shape."""
    calls = [
        ToolCallOut(id=c.id, function=FunctionOut(name=c.name, arguments=c.arguments))
        for c in message.tool_calls
    ]
    return MessageOut(
        role=message.role,
        content=message.content,
        name=message.name,
        tool_calls=calls or None,
        tool_call_id=message.tool_call_id,
    )


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    response_model_exclude_none=True,
    responses=error_docs(400, 403, 404, 503),
)
def get_conversation(
    conversation_id: str, request: Request, services: ServicesDep, owner: OwnerParam = None
) -> Response:
    """The caller's conversation `conversation_id` (404 if none, expired, or another key's)."""
    rid = request_id(request) or uuid.uuid4().hex
    try:
        whose = _owner(request, "read", owner)
        messages = services.conversations.load(check_id(conversation_id), whose)
    except ConversationError as exc:
        return conversation_error(exc, rid)
    except Denied as exc:
        return denied_response(exc, rid)
    if not messages:
        return _not_found(conversation_id, rid)
    out = ConversationOut(
        id=conversation_id, turns=turn_count(messages), messages=[message_out(m) for m in messages]
    )
    return JSONResponse(out.model_dump(mode="json", exclude_none=True))


@router.delete(
    "/conversations/{conversation_id}", status_code=204, responses=error_docs(400, 403, 404, 503)
)
def delete_conversation(
    conversation_id: str, request: Request, services: ServicesDep, owner: OwnerParam = None
) -> Response:
    """Delete the caller's conversation `conversation_id` (204; 404 if there was none)."""
    rid = request_id(request) or uuid.uuid4().hex
    try:
        whose = _owner(request, "write", owner)
        deleted = services.conversations.delete(check_id(conversation_id), whose)
    except ConversationError as exc:
        return conversation_error(exc, rid)
    except Denied as exc:
        return denied_response(exc, rid)
    if not deleted:
        return _not_found(conversation_id, rid)
    return Response(status_code=204)


def _owner(request: Request, scope: Scope, asked: str | None) -> str:
    """The owner whose conversation a request reaches: the key's own, or for an admin key the
    one it names. Another key naming someone else gets its own (so a 404), learning nothing."""
    who = tenant(request)
    who.require(scope)
    return asked if asked is not None and who.admin else who.owner


def conversation_error(exc: ConversationError, rid: str) -> JSONResponse:
    """The answer to a conversation store error: 400 for a bad id (its message says what an
    id may be), 500 for an unreadable conversation (how to recover), else 503 (the details,
    which may name hosts, go to the log only)."""
    if isinstance(exc, InvalidConversationId):
        return error_response(
            400, str(exc), code="invalid_conversation_id", param="conversation", request_id=rid
        )
    if isinstance(exc, ConversationUnreadable):
        return error_response(
            500, str(exc), code="conversation_unreadable", type="server_error", request_id=rid
        )
    log.error("conversation store failed: %s: %s", type(exc).__name__, exc)
    return error_response(
        503,
        "the conversation store is unavailable right now; retry later",
        code="unavailable",
        type="server_error",
        request_id=rid,
    )


def _not_found(conversation_id: str, rid: str) -> JSONResponse:
    return error_response(
        404,
        f"no conversation {conversation_id!r} for this API key: it never existed, expired "
        "(conversations.ttl_s after its last message) or was deleted",
        code="conversation_not_found",
        param="conversation_id",
        request_id=rid,
    )
