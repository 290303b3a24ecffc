"""A chat request's history: stateless (the client sends it) or a server-side conversation.

    memory = memory_for(body.conversation, request, services, who, new_messages)
    prompt = memory.prompt          # stored turns + the new ones, trimmed to the token budget
    ... answer ...
    memory.keep(answer_text, tool_calls)      # stored when the request names a conversation

The budget is `conversations.history_tokens`: the oldest turns go first, instructions and the
last turn always stay (`ragline.llm_router.history.trim_history`). A bad conversation id is a
`Refusal` (400); a conversation backend that cannot be reached is `StoreUnavailable` (503); a
key without the "write" scope naming a conversation is `Denied` (403).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request

from ragline.core.chat import Message, ToolCall
from ragline.llm_router.history import trim_history
from ragline.serving.api.context import tenant
from ragline.serving.api.openai_convert import Refusal
from ragline.serving.api.services import Services
from ragline.serving.conversations.protocol import (
    ConversationError,
    ConversationStore,
    InvalidConversationId,
)
from ragline.serving.conversations.service import (
    CONVERSATION_HEADER,
    conversation_id,
    remember,
    with_history,
)
from ragline.serving.logs import ERROR_LOGGER

log = logging.getLogger(ERROR_LOGGER)


@dataclass(frozen=True, slots=True)
class Memory:
    """One request's view of its conversation (see the module docstring)."""

    store: ConversationStore
    conversation: str | None
    owner: str
    new: tuple[Message, ...]
    prompt: tuple[Message, ...]

    def keep(self, text: str, tool_calls: tuple[ToolCall, ...] = ()) -> None:
        """Store the turn: the new messages and the answer (nothing when stateless). A store
        that fails now is logged: the answer, already paid for, still goes out."""
        answer = Message("assistant", text, tool_calls=tool_calls)
        try:
            remember(self.store, self.conversation, self.owner, self.new, answer)
        except ConversationError as exc:
            log.error("turn of conversation %r not stored: %s", self.conversation, exc)

    def headers(self) -> dict[str, str]:
        return {CONVERSATION_HEADER: self.conversation} if self.conversation else {}


def memory_for(
    field: str | None, request: Request, services: Services, owner: str, new: tuple[Message, ...]
) -> Memory:
    """The history of a request naming conversation `field` (or the header), owned by `owner`."""
    try:
        cid = conversation_id(field, request.headers.get(CONVERSATION_HEADER))
    except InvalidConversationId as exc:
        raise Refusal(str(exc), "invalid_conversation_id", "conversation") from None
    if cid is not None:
        tenant(request).require("write")
    store = services.conversations
    budget = services.settings.conversations.history_tokens
    prompt = trim_history(with_history(store, cid, owner, new), budget)
    return Memory(store, cid, owner, new, prompt)
