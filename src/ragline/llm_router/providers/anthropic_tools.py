"""OpenAI-style messages, tools and output formats mapped to Anthropic's Messages API and back.

    turns = conversation(request.messages)         # tool calls -> tool_use, tool -> tool_result
    body = extra_fields(request)                   # top_p, tools, tool_choice, metadata.user_id
    system = system_prompt(request)                # + the JSON instruction for json_schema
    calls = tool_calls_of(message.content)         # tool_use blocks -> ToolCall

Anthropic has no JSON mode: a `json_schema` (or `json_object`) request gets an instruction in
the system prompt, and the router's structured-output path validates and repairs the reply.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import cast

from anthropic.types import MessageParam

from ragline.core.chat import ChatRequest, Message, ToolCall
from ragline.llm_router.errors import BadRequest

HONOURS = frozenset({"top_p", "user", "tools", "tool_choice", "parallel_tool_calls"})


def system_prompt(request: ChatRequest) -> str:
    """The system (and developer) messages, plus how to answer when JSON is asked for."""
    parts = [request.system] if request.system else []
    if request.json_schema is not None:
        schema = json.dumps(dict(request.json_schema), separators=(",", ":"))
        parts.append(f"Reply with only one JSON object that matches this JSON schema: {schema}")
    elif request.json_object:
        parts.append("Reply with only one JSON object.")
    return "\n\n".join(parts)


def conversation(messages: Sequence[Message]) -> list[MessageParam]:
    """The non-system turns: plain text as a string, tool calls and results as blocks;
    consecutive turns of one role merge into one (tool results follow the assistant's tool_use
    as one user turn, as the API requires)."""
    turns: list[dict[str, object]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        role = "assistant" if message.role == "assistant" else "user"
        plain = message.role in ("user", "assistant") and not message.tool_calls
        content: object = message.content if plain else _blocks(message)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] = _as_blocks(turns[-1]["content"]) + _as_blocks(content)
        else:
            turns.append({"role": role, "content": content})
    return [cast(MessageParam, turn) for turn in turns]


def _as_blocks(content: object) -> list[object]:
    if isinstance(content, list):
        return content
    return [{"type": "text", "text": content}] if content else []


def _blocks(message: Message) -> list[object]:
    if message.role == "tool":
        block = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id or "",
            "content": message.content,
        }
        return [block]
    blocks: list[object] = [{"type": "text", "text": message.content}] if message.content else []
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call)})
    return blocks


def _input(call: ToolCall) -> object:
    try:
        return json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        raise BadRequest(
            f"tool call {call.id} has arguments that are not JSON; send them as a JSON object"
        ) from None


def extra_fields(request: ChatRequest) -> dict[str, object]:
    """Body fields the installed SDK has no arguments for: sampling, tools, tool_choice."""
    body: dict[str, object] = {}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.sampling.top_p is not None:
        body["top_p"] = request.sampling.top_p
    if request.sampling.user is not None:
        body["metadata"] = {"user_id": request.sampling.user}
    if request.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": _schema(t.parameters)}
            for t in request.tools
        ]
    choice = _tool_choice(request)
    if choice is not None:
        body["tool_choice"] = choice
    return body


def _schema(parameters: object) -> object:
    return parameters or {"type": "object", "properties": {}}


def _tool_choice(request: ChatRequest) -> dict[str, object] | None:
    choice, parallel = request.tool_choice, request.sampling.parallel_tool_calls
    if choice is None and parallel is None:
        return None
    if choice in (None, "auto"):
        picked: dict[str, object] = {"type": "auto"}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        picked = {"type": "any"}
    else:
        picked = {"type": "tool", "name": choice}
    if parallel is False:
        picked["disable_parallel_tool_use"] = True
    return picked


def tool_calls_of(blocks: Iterable[object]) -> tuple[ToolCall, ...]:
    """The tool_use blocks of an answer as ToolCalls (arguments as JSON text)."""
    calls = []
    for block in blocks:
        if getattr(block, "type", None) == "tool_use":
            arguments = json.dumps(getattr(block, "input", {}))
            name = str(getattr(block, "name", ""))
            calls.append(ToolCall(str(getattr(block, "id", "")), name, arguments))
    return tuple(calls)
