"""LangChain messages and tools to ragline's `Message` and `Tool`, and back.

to_message(HumanMessage("Hi")) == ragline.Message("user", "Hi")
to_tool(my_adder_tool)                    # ragline.Tool("my_adder_tool", "...", {...})
tool_calls_of(completion.tool_calls)      # ([{"name", "args", "id", "type"}], invalid)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.utils.function_calling import convert_to_openai_tool

import ragline
from ragline.core.chat import Role

_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "developer",
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "tool": "tool",
}
# Content blocks that carry text, or repeat what `AIMessage.tool_calls` holds (Anthropic's
# "tool_use"); any other (image, audio, file) cannot be sent as text.
_TEXT_BLOCKS = frozenset({"text", "tool_call", "tool_use", "function_call", "reasoning"})


def to_message(message: BaseMessage) -> ragline.Message:
    """ragline's `Message` for a LangChain one: text blocks joined (images and other blocks
    are refused), an AI message's tool calls and a tool message's call id kept."""
    _text_only(message)
    if isinstance(message, ToolMessage):
        return ragline.Message("tool", message.text, tool_call_id=message.tool_call_id)
    if isinstance(message, AIMessage):
        calls = tuple(
            ragline.ToolCall(call["id"] or f"call_{n}", call["name"], json.dumps(call["args"]))
            for n, call in enumerate(message.tool_calls)
        )
        return ragline.Message("assistant", message.text, tool_calls=calls)
    kind = message.role if isinstance(message, ChatMessage) else message.type
    role = _ROLES.get(kind)
    if role is None or not isinstance(message, SystemMessage | HumanMessage | ChatMessage):
        raise ValueError(
            f"RaglineChatModel cannot send a {type(message).__name__} (type {kind!r}); use "
            "system, human, AI or tool messages"
        )
    return ragline.Message(role, message.text, name=message.name)


def _text_only(message: BaseMessage) -> None:
    if isinstance(message.content, str):
        return
    for block in message.content:
        kind = block.get("type") if isinstance(block, Mapping) else "text"
        if kind not in _TEXT_BLOCKS:
            raise ValueError(
                f"RaglineChatModel sends text only, and a {type(message).__name__} holds a "
                f"{kind!r} block; describe it in text or use a multimodal chat model"
            )


def to_tool(tool: Any) -> ragline.Tool:
    """A ragline `Tool` for anything LangChain's `bind_tools` takes: a BaseTool, a function,
    a pydantic model, a TypedDict or an OpenAI tool dict."""
    function = convert_to_openai_tool(tool)["function"]
    return ragline.Tool(
        function["name"],
        function.get("description", ""),
        function.get("parameters", {"type": "object", "properties": {}}),
        function.get("strict"),
    )


def tool_choice_name(choice: Any, tools: Sequence[ragline.Tool]) -> str | None:
    """ragline's tool_choice ("auto", "none", "required" or a tool's name) for LangChain's
    ("any" and True mean required; {"function": {"name": ...}} a named tool)."""
    if choice is None or choice is False:
        return None
    if choice is True or choice == "any":
        return "required"
    if isinstance(choice, Mapping):
        name = choice.get("function", {}).get("name") or choice.get("name")
        if not isinstance(name, str):
            raise ValueError(f"tool_choice {choice!r} names no tool; give a tool's name")
        return name
    if isinstance(choice, str):
        if choice in ("auto", "none", "required") or choice in {t.name for t in tools}:
            return choice
        known = ", ".join(t.name for t in tools) or "none bound"
        raise ValueError(
            f"tool_choice {choice!r} is not auto, none, any, required or a tool's name ({known})"
        )
    raise ValueError(f"tool_choice must be a string, a bool or a dict, not {choice!r}")


def tool_calls_of(
    calls: Sequence[ragline.ToolCall],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """LangChain's tool calls for ragline's; arguments that are no JSON object are invalid."""
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in calls:
        try:
            args = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as exc:
            invalid.append(
                invalid_tool_call(
                    name=call.name,
                    args=call.arguments,
                    id=call.id,
                    error=f"arguments are not JSON: {exc.msg}",
                )
            )
            continue
        if not isinstance(args, dict):
            invalid.append(
                invalid_tool_call(
                    name=call.name,
                    args=call.arguments,
                    id=call.id,
                    error="arguments are not a JSON object",
                )
            )
            continue
        valid.append(tool_call(name=call.name, args=args, id=call.id))
    return valid, invalid
