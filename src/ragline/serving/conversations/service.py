"""What a chat request does with a server-side conversation (both doors call these).

    cid = conversation_id(body.conversation, request.headers.get(CONVERSATION_HEADER))
    prompt = with_history(store, cid, owner, new_messages)          # stored turns + the new ones
    prompt = trim_history(prompt, settings.conversations.history_tokens)
    completion = router.complete(ChatRequest(messages=prompt, ...))
    remember(store, cid, owner, new_messages, answer_message(completion))

    session = Session(store, "trip", local_owner())          # ragline chat|ask --session trip
    prompt = session.prompt(new_messages, budget_tokens=3000)

Without a conversation id (`cid` None) a request is stateless, as OpenAI clients expect: the
client sends the history itself, `with_history` returns the new messages as they are and
`remember` stores nothing. With one, the client sends only the new messages of the turn (its
instructions too, if they changed: they replace the stored ones).
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass

from ragline.core.chat import Completion, Message
from ragline.llm_router.history import trim_history
from ragline.serving.conversations.history import combined
from ragline.serving.conversations.protocol import (
    ConversationStore,
    InvalidConversationId,
    check_id,
    check_owner,
)

CONVERSATION_HEADER = "X-Ragline-Conversation"


def conversation_id(body_value: str | None, header_value: str | None) -> str | None:
    """The conversation a request names in its `conversation` field or its
    X-Ragline-Conversation header (None: stateless); both given must agree.

    conversation_id(None, "trip-42") == "trip-42"
    conversation_id("a", "b")       # InvalidConversationId: ... name different conversations
    """
    if body_value is not None and header_value is not None and body_value != header_value:
        raise InvalidConversationId(
            f"the conversation field ({body_value!r}) and the {CONVERSATION_HEADER} header "
            f"({header_value!r}) name different conversations; send one of them, or the same id"
        )
    value = body_value if body_value is not None else header_value
    return None if value is None else check_id(value)


def with_history(
    store: ConversationStore, conversation_id: str | None, owner: str, new: Sequence[Message]
) -> tuple[Message, ...]:
    """The messages to send a model: `owner`'s stored conversation followed by `new` (the
    instructions of `new` replacing the stored ones), or `new` alone without a conversation.
    Trim the result to the model's budget with `ragline.llm_router.history.trim_history`."""
    if conversation_id is None:
        return tuple(new)
    return combined(store.load(conversation_id, owner), new)


def remember(
    store: ConversationStore,
    conversation_id: str | None,
    owner: str,
    new: Sequence[Message],
    answer: Message,
) -> tuple[Message, ...]:
    """Store the turn (`new` and the model's `answer`) in `owner`'s conversation; returns what
    the conversation now holds (`()` without a conversation: nothing is stored)."""
    if conversation_id is None:
        return ()
    return store.append(conversation_id, owner, (*new, answer))


def answer_message(completion: Completion) -> Message:
    """The assistant message a completion adds to a conversation (its tool calls included)."""
    return Message("assistant", completion.text, tool_calls=completion.tool_calls)


def local_owner() -> str:
    """The owner of the command line's sessions: "cli:<login name>" ("cli" when the login
    name is unknown). API key names cannot contain ':', so no key reads a CLI session."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return "cli"
    name = "".join(ch for ch in name if 0x21 <= ord(ch) <= 0x7E)
    return f"cli:{name}" if name else "cli"


@dataclass(frozen=True, slots=True)
class Session:
    """A named conversation of one owner: what `ragline chat|ask --session NAME` keep.

    session = Session(open_conversations(config, data_dir), "trip", local_owner())
    prompt = session.prompt([Message("user", "And in May?")], budget_tokens=3000)
    held = session.remember([Message("user", "And in May?")], Message("assistant", "..."))
    """

    store: ConversationStore
    name: str
    owner: str

    def __post_init__(self) -> None:
        check_id(self.name)
        check_owner(self.owner)

    def history(self) -> tuple[Message, ...]:
        """The session's stored messages (`()` for a new or expired session)."""
        return self.store.load(self.name, self.owner)

    def prompt(self, new: Sequence[Message], budget_tokens: int) -> tuple[Message, ...]:
        """The stored history, then `new`, trimmed to `budget_tokens` (oldest turns first)."""
        return trim_history(with_history(self.store, self.name, self.owner, new), budget_tokens)

    def remember(self, new: Sequence[Message], answer: Message) -> tuple[Message, ...]:
        """Store the turn; returns what the session now holds."""
        return remember(self.store, self.name, self.owner, new, answer)
