"""LlamaIndex chat messages to ragline's, and what a ragline call reports (usage, cost, the
request id of its cost events) in the shape LlamaIndex reads it.

    to_messages([ChatMessage(role="user", content="Hi")])   # (Message("user", "Hi"),)
    report(usage, cost_usd=0.0, model="local:SmolLM2", request_id="ab12")
    # {"model": ..., "usage": {"prompt_tokens": 12, "completion_tokens": 5, ...}, "cost_usd": ...}

`report` goes into a response's `raw` (LlamaIndex's TokenCountingHandler reads `raw["usage"]`)
and, flattened, into its `additional_kwargs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.llms import ChatMessage, MessageRole

from ragline import Message, Usage

_ROLES: dict[MessageRole, str] = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "developer",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}


def to_messages(messages: Sequence[ChatMessage]) -> tuple[Message, ...]:
    """LlamaIndex messages as ragline's (a tool reply keeps its `tool_call_id`)."""
    out: list[Message] = []
    for message in messages:
        role = _ROLES.get(MessageRole(message.role))
        if role is None:  # pragma: no cover - every MessageRole is mapped
            raise ValueError(f"message role {message.role!r} has no ragline equivalent")
        tool_call_id = message.additional_kwargs.get("tool_call_id")
        out.append(
            Message(
                role,  # type: ignore[arg-type]  # one of ragline's roles, by the table above
                message.content or "",
                tool_call_id=str(tool_call_id) if tool_call_id is not None else None,
            )
        )
    if not out:
        raise ValueError("give at least one message to chat with")
    return tuple(out)


def report(
    usage: Usage | None,
    *,
    cost_usd: float,
    model: str,
    request_id: str,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """What one call used and cost, as `raw` (OpenAI-style `usage` keys); see the module."""
    tokens_in = usage.tokens_in if usage is not None else 0
    tokens_out = usage.tokens_out if usage is not None else 0
    return {
        "model": model,
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
            "cached_tokens": usage.cached_in if usage is not None else 0,
            "source": usage.source if usage is not None else "counted",
        },
        "cost_usd": cost_usd,
        "request_id": request_id,
        "finish_reason": finish_reason,
    }


def flat(raw: dict[str, Any]) -> dict[str, Any]:
    """`report`'s dict with the usage counts lifted to the top (for `additional_kwargs`)."""
    usage = raw["usage"]
    return {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
        "cost_usd": raw["cost_usd"],
        "model": raw["model"],
        "request_id": raw["request_id"],
    }
