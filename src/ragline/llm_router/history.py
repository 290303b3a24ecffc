"""Chat histories cut to size: the newest whole turns that fit a token budget.

    trimmed = trim_history(messages, budget_tokens=3000)        # tiktoken cl100k counts
    capped = trim_history(messages, None, max_messages=200)     # a message-count cap only
    turns(messages)                                             # the turns, oldest first

A *turn* starts at a user message and runs to the next one: the user's message, the
assistant's answer, and any tool calls and tool results in between. Trimming drops whole
turns, oldest first, so an assistant message carrying `tool_calls` is never separated from
the tool messages answering it, and a kept history never starts with an orphan answer.
System and developer messages (the instructions) and the last turn (the question being asked
now, with any tool round-trips that follow it) are always kept, even when they alone exceed
the budget: without them there is nothing to answer. Messages keep their original order.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragline.core.chat import INSTRUCTION_ROLES, Message
from ragline.llm_router.tokens import TokenCounter, count_tokens

# The chat-template framing of one message (role markers, separators), in tokens: OpenAI
# documents 3 per message plus the reply's priming; 4 errs on the side of fitting.
MESSAGE_OVERHEAD = 4


def message_tokens(message: Message, count: TokenCounter = count_tokens) -> int:
    """Tokens `message` takes in a prompt: content, name, tool calls, and the framing.

    message_tokens(Message("user", "Hello")) == 1 + MESSAGE_OVERHEAD
    """
    calls = sum(count(call.name) + count(call.arguments) for call in message.tool_calls)
    return count(message.content) + count(message.name or "") + calls + MESSAGE_OVERHEAD


def history_tokens(messages: Sequence[Message], count: TokenCounter = count_tokens) -> int:
    """The tokens of every message of `messages` (`message_tokens` summed)."""
    return sum(message_tokens(m, count) for m in messages)


def turns(messages: Sequence[Message]) -> list[list[int]]:
    """The indices of the non-instruction messages of `messages`, grouped in turns (oldest
    first). Messages before the first user message (a greeting) form a turn of their own.

    turns([system, user1, answer1, user2]) == [[1, 2], [3]]
    """
    out: list[list[int]] = []
    for i, message in enumerate(messages):
        if message.role in INSTRUCTION_ROLES:
            continue
        if message.role == "user" or not out:
            out.append([])
        out[-1].append(i)
    return out


def trim_history(
    messages: Sequence[Message],
    budget_tokens: int | None,
    count: TokenCounter = count_tokens,
    *,
    max_messages: int | None = None,
) -> tuple[Message, ...]:
    """`messages` without their oldest turns, so that at most `budget_tokens` tokens (None: no
    token limit) and `max_messages` messages (None: no count limit) remain, where possible.

    Instructions and the last turn stay whatever they cost (see the module docstring); older
    turns are kept newest first while they fit, and the first that does not fit ends the
    history (no gaps). `count` counts a text's tokens (the model's tokenizer, if you have it).

    trim_history([system, q1, a1, q2, a2, q3], budget_tokens=40)   # (system, q2, a2, q3)
    """
    if budget_tokens is not None and budget_tokens < 0:
        raise ValueError(f"budget_tokens must be >= 0, got {budget_tokens}")
    if max_messages is not None and max_messages < 1:
        raise ValueError(f"max_messages must be >= 1, got {max_messages}")
    groups = turns(messages)
    if len(groups) <= 1:
        return tuple(messages)
    kept = {i for i, m in enumerate(messages) if m.role in INSTRUCTION_ROLES} | set(groups[-1])
    tokens = sum(message_tokens(messages[i], count) for i in kept)
    for group in reversed(groups[:-1]):
        cost = sum(message_tokens(messages[i], count) for i in group)
        over_budget = budget_tokens is not None and tokens + cost > budget_tokens
        over_count = max_messages is not None and len(kept) + len(group) > max_messages
        if over_budget or over_count:
            break
        kept.update(group)
        tokens += cost
    return tuple(m for i, m in enumerate(messages) if i in kept)


__all__ = ["MESSAGE_OVERHEAD", "history_tokens", "message_tokens", "trim_history", "turns"]
