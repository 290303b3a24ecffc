"""The `ConversationStore` seam: a conversation's messages by (owner, id), and its errors.

    store.append("trip-42", "alice", [Message("user", "Hi"), Message("assistant", "Hello!")])
    store.load("trip-42", "alice")        # the two messages back (tool calls included)
    store.load("trip-42", "bob")          # (): bob's "trip-42" is another conversation
    store.delete("trip-42", "alice")      # True; False when there was nothing to delete
    store.close()

A conversation belongs to its owner (the API key's name; the CLI's user): the owner is part
of its key, so another owner never reads, extends or deletes it; the same id under another
owner is simply another conversation. An unknown, expired or someone else's conversation
loads as `()`. Every adapter refuses bad ids (`check_id`) before touching its backend.

ConversationError
 ├── InvalidConversationId   a blank, too long or odd id; the message says what ids may be
 ├── ConversationUnreadable  a stored conversation that no longer parses; delete it
 └── StoreUnavailable        the backend cannot be reached; the message names the setting
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ragline.core.chat import Message
from ragline.serving.errors import ServingError

MAX_ID_LENGTH = 128
MAX_OWNER_LENGTH = 200
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
_OWNER = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII without spaces


class ConversationError(ServingError):
    """Root of the conversation store's errors."""


class InvalidConversationId(ConversationError, ValueError):
    """A conversation id the store refuses; the message says what an id may be.

    check_id("my trip")     # InvalidConversationId: ... letters, digits, '.', '_', ':' or '-'
    """


class ConversationUnreadable(ConversationError):
    """A stored conversation that does not parse (written by an incompatible version)."""


class StoreUnavailable(ConversationError):
    """The conversation backend cannot be reached; the message names what to check."""


def check_id(conversation_id: str) -> str:
    """`conversation_id` if the store accepts it: 1-128 letters, digits, '.', '_', ':' or '-',
    starting with a letter or digit (a UUID, "conv_42", "support:2024-06-01")."""
    if not isinstance(conversation_id, str) or not conversation_id.strip():
        raise InvalidConversationId("the conversation id is blank; give one, e.g. a UUID")
    if len(conversation_id) > MAX_ID_LENGTH:
        raise InvalidConversationId(
            f"the conversation id is {len(conversation_id)} characters long; use at most "
            f"{MAX_ID_LENGTH}"
        )
    if not _ID.match(conversation_id):
        raise InvalidConversationId(
            f"conversation id {conversation_id!r} is not valid: use letters, digits, '.', '_', "
            "':' or '-', starting with a letter or digit (e.g. a UUID)"
        )
    return conversation_id


def check_owner(owner: str) -> str:
    """`owner` if it can own conversations: 1-200 printable ASCII characters, no spaces."""
    if not isinstance(owner, str) or len(owner) > MAX_OWNER_LENGTH or not _OWNER.match(owner):
        raise ValueError(
            f"conversation owner {owner!r} is not valid: use 1-{MAX_OWNER_LENGTH} printable "
            "ASCII characters without spaces (an API key's name)"
        )
    return owner


@runtime_checkable
class ConversationStore(Protocol):
    """Conversations by (id, owner). Adapters: `SqliteConversations` (the default, one file),
    `RedisConversations` and `PostgresConversations` (shared by replicas); each passes
    `ragline.serving.conversations.testing.ConversationStoreConformance`.
    """

    def load(self, conversation_id: str, owner: str) -> tuple[Message, ...]:
        """The stored messages, oldest first; `()` when unknown, expired or not `owner`'s."""
        ...

    def append(
        self, conversation_id: str, owner: str, messages: Sequence[Message]
    ) -> tuple[Message, ...]:
        """Add `messages` (creating the conversation), restart its TTL, apply the size caps;
        returns what is now stored (`ragline.serving.conversations.history.appended`)."""
        ...

    def delete(self, conversation_id: str, owner: str) -> bool:
        """Remove `owner`'s conversation; False when there was none."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...
