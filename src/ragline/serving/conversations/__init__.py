"""Server-side conversations, for clients that keep no history (the chat API's `conversation`
id and X-Ragline-Conversation header, `ragline chat|ask --session NAME`).

    store = open_conversations(settings.conversations, settings.data_dir)   # SQLite by default
    cid = conversation_id(body.conversation, request.headers.get(CONVERSATION_HEADER))
    prompt = trim_history(with_history(store, cid, "alice", new), budget_tokens=3000)
    remember(store, cid, "alice", new, answer_message(completion))
    store.close()

protocol      the `ConversationStore` seam, id rules, the error tree
history       what a conversation holds after a write (instructions, caps), its JSON form
service       the request side: which conversation, history in front, the turn remembered
backends      `conversations.backend` -> an opened store (sqlite, redis, postgres, or yours)
sqlite_store, redis_store, postgres_store   the adapters
testing       the conformance suite every adapter passes (needs pytest)

Trimming a history to a model's budget is `ragline.llm_router.history.trim_history` (it
serves stateless requests too).
"""

from ragline.serving.conversations.backends import open_conversations, register_backend
from ragline.serving.conversations.config import ConversationsConfig
from ragline.serving.conversations.history import Limits, turn_count
from ragline.serving.conversations.protocol import (
    ConversationError,
    ConversationStore,
    ConversationUnreadable,
    InvalidConversationId,
    StoreUnavailable,
    check_id,
)
from ragline.serving.conversations.service import (
    CONVERSATION_HEADER,
    answer_message,
    conversation_id,
    remember,
    with_history,
)

__all__ = [
    "CONVERSATION_HEADER",
    "ConversationError",
    "ConversationStore",
    "ConversationUnreadable",
    "ConversationsConfig",
    "InvalidConversationId",
    "Limits",
    "StoreUnavailable",
    "answer_message",
    "check_id",
    "conversation_id",
    "open_conversations",
    "register_backend",
    "remember",
    "turn_count",
    "with_history",
]
