"""What a conversation holds after a write, and how messages are stored: pure functions every
adapter shares, so all backends keep the same messages.

    kept = appended(stored, new, Limits(ttl_s=3600, max_messages=200, max_tokens=None))
    raw = encode(kept); decode(raw, "trip-42") == kept

Instructions (system and developer messages) are the latest request's: new messages that
carry instructions replace the stored ones, and instructions always come first. The other
messages follow in the order they were written, capped by `Limits` (oldest whole turns
dropped first, the instructions and the newest turn always kept:
`ragline.llm_router.history.trim_history`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from ragline.core.chat import INSTRUCTION_ROLES, Message
from ragline.llm_router.history import trim_history, turns
from ragline.serving.conversations.protocol import ConversationUnreadable

_MESSAGES = TypeAdapter(tuple[Message, ...])


@dataclass(frozen=True, slots=True)
class Limits:
    """How long a conversation lives after its last write and how large it may grow (None:
    no cap on that measure; tokens are tiktoken cl100k counts).

    Limits(ttl_s=86_400, max_messages=200, max_tokens=32_000).fit(messages)
    """

    ttl_s: float = 7 * 86_400.0
    max_messages: int | None = 200
    max_tokens: int | None = 32_000

    def __post_init__(self) -> None:
        if self.ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {self.ttl_s}")

    def fit(self, messages: Sequence[Message]) -> tuple[Message, ...]:
        """`messages` without the oldest turns that break the caps."""
        return trim_history(messages, self.max_tokens, max_messages=self.max_messages)


DEFAULT_LIMITS = Limits()


def combined(stored: Sequence[Message], new: Sequence[Message]) -> tuple[Message, ...]:
    """The conversation `stored` followed by `new`: the instructions of `new` if it has any
    (else the stored ones) first, then the stored turns, then the new ones.

    combined([system_a, q1, a1], [system_b, q2]) == (system_b, q1, a1, q2)
    """
    fresh = [m for m in new if m.role in INSTRUCTION_ROLES]
    rules = fresh or [m for m in stored if m.role in INSTRUCTION_ROLES]
    said = [m for m in (*stored, *new) if m.role not in INSTRUCTION_ROLES]
    return (*rules, *said)


def appended(
    stored: Sequence[Message], new: Sequence[Message], limits: Limits
) -> tuple[Message, ...]:
    """What a conversation holds after `new` is appended to `stored`: `combined`, then capped."""
    if not new:
        raise ValueError("nothing to append: give at least one message")
    return limits.fit(combined(stored, new))


def turn_count(messages: Sequence[Message]) -> int:
    """How many turns (a user message and what answers it) `messages` holds."""
    return len(turns(messages))


def encode(messages: Sequence[Message]) -> str:
    """`messages` as JSON text (every field, tool calls included)."""
    return _MESSAGES.dump_json(tuple(messages)).decode()


def decode(raw: str | bytes, conversation_id: str) -> tuple[Message, ...]:
    """The messages `encode` wrote; `ConversationUnreadable` (saying how to fix it) otherwise."""
    try:
        return _MESSAGES.validate_json(raw)
    except ValidationError as exc:
        raise ConversationUnreadable(
            f"stored conversation {conversation_id!r} cannot be read "
            f"({exc.errors()[0]['msg']}); delete it (DELETE /v1/conversations/"
            f"{conversation_id}) and start again"
        ) from None
