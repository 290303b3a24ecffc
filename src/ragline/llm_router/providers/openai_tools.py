"""Messages, tools and sampling options on the OpenAI wire, both ways.

    params = {"model": m, "messages": wire_messages(request.messages), **wire_options(request)}
    calls = tool_calls_of(response.choices[0].message.tool_calls)     # -> tuple[ToolCall, ...]
    assembly = ToolCallAssembly(); assembly.add(delta.tool_calls) ...; assembly.calls()

A streamed tool call arrives in pieces (the id and name first, then the arguments in
fragments, keyed by `index`); `ToolCallAssembly` joins them so ragline hands on whole calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageParam,
    ChatCompletionMessageToolCall,
    ChatCompletionToolChoiceOptionParam,
)
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall
from openai.types.shared_params import FunctionDefinition

from ragline.core.chat import ChatRequest, Message, Tool, ToolCall


class WireOptions(TypedDict, total=False):
    """The optional request fields ragline passes through (set only when asked)."""

    top_p: float
    seed: int
    frequency_penalty: float
    presence_penalty: float
    logit_bias: dict[str, int]
    user: str
    parallel_tool_calls: bool
    tools: list[ChatCompletionFunctionToolParam]
    tool_choice: ChatCompletionToolChoiceOptionParam


def wire_options(request: ChatRequest) -> WireOptions:
    """The sampling options and tools `request` sets, in OpenAI's field names."""
    s = request.sampling
    options = WireOptions()
    if s.top_p is not None:
        options["top_p"] = s.top_p
    if s.seed is not None:
        options["seed"] = s.seed
    if s.frequency_penalty is not None:
        options["frequency_penalty"] = s.frequency_penalty
    if s.presence_penalty is not None:
        options["presence_penalty"] = s.presence_penalty
    if s.logit_bias is not None:
        options["logit_bias"] = {k: round(v) for k, v in s.logit_bias.items()}
    if s.user is not None:
        options["user"] = s.user
    if request.tools:
        options["tools"] = [wire_tool(t) for t in request.tools]
        if s.parallel_tool_calls is not None:
            options["parallel_tool_calls"] = s.parallel_tool_calls
    if request.tool_choice is not None:
        options["tool_choice"] = wire_tool_choice(request.tool_choice)
    return options


def wire_tool(tool: Tool) -> ChatCompletionFunctionToolParam:
    function: FunctionDefinition = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def wire_tool_choice(choice: str) -> ChatCompletionToolChoiceOptionParam:
    """The keywords ("auto", "none", "required") as they are; a tool's name as OpenAI's named
    choice."""
    if choice == "auto":
        return "auto"
    if choice == "none":
        return "none"
    if choice == "required":
        return "required"
    return {"type": "function", "function": {"name": choice}}


def wire_messages(messages: Sequence[Message]) -> list[ChatCompletionMessageParam]:
    return [wire_message(m) for m in messages]


def wire_message(message: Message) -> ChatCompletionMessageParam:
    """One message in OpenAI's shape ("developer" goes as "system": not every server knows it)."""
    if message.role in ("system", "developer"):
        return {"role": "system", "content": message.content}
    if message.role == "tool":
        call_id = message.tool_call_id or ""
        return {"role": "tool", "content": message.content, "tool_call_id": call_id}
    if message.role == "assistant":
        if message.tool_calls:
            return {
                "role": "assistant",
                "content": message.content,  # "" not null: chat templates (llama.cpp) need text
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in message.tool_calls
                ],
            }
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def tool_calls_of(calls: Sequence[object] | None) -> tuple[ToolCall, ...]:
    """The function calls of an answer's message (other kinds of tool call are skipped)."""
    found: list[ToolCall] = []
    for call in calls or ():
        if isinstance(call, ChatCompletionMessageToolCall) and call.type == "function":
            found.append(ToolCall(call.id, call.function.name, call.function.arguments or "{}"))
    return tuple(found)


class ToolCallAssembly:
    """Joins streamed tool-call fragments by index into whole calls.

    assembly = ToolCallAssembly()
    for chunk in stream: assembly.add(chunk.choices[0].delta.tool_calls)
    assembly.calls()        # -> (ToolCall("call_1", "get_weather", '{"city":"Oslo"}'),)
    """

    def __init__(self) -> None:
        self._parts: dict[int, list[str]] = {}  # index -> [id, name, arguments]

    def add(self, deltas: Sequence[ChoiceDeltaToolCall] | None) -> None:
        for delta in deltas or ():
            part = self._parts.setdefault(delta.index, ["", "", ""])
            part[0] = delta.id or part[0]
            if delta.function is not None:
                part[1] = delta.function.name or part[1]
                part[2] += delta.function.arguments or ""

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(id or f"call_{index}", name, arguments or "{}")
            for index, (id, name, arguments) in sorted(self._parts.items())
            if name
        )
