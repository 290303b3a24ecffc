"""The pure mappings of the LangChain integration: messages, tools, tool choices, tool calls,
filters, hits to Documents, and the cost-scoped stream on its worker thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel

import ragline
from ragline.core.chat import StreamChunk, Usage
from ragline.core.costs import current_scope
from ragline.core.index import Hit
from ragline.integrations.langchain._pipeline import filter_list, to_document
from ragline.integrations.langchain.messages import (
    to_message,
    to_tool,
    tool_calls_of,
    tool_choice_name,
)
from ragline.integrations.langchain.streaming import scoped_stream

pytestmark = pytest.mark.unit


class Weather(BaseModel):
    """Current weather of a city."""

    city: str


def test_messages_map_to_ragline_roles_with_tool_calls_and_answers() -> None:
    call = AIMessage("", tool_calls=[{"name": "Weather", "args": {"city": "Oslo"}, "id": "c1"}])

    assert to_message(SystemMessage("Be brief.")) == ragline.Message("system", "Be brief.")
    assert to_message(HumanMessage("Hi", name="al")) == ragline.Message("user", "Hi", name="al")
    assert to_message(ChatMessage("x", role="developer")).role == "developer"
    assert to_message(call).tool_calls == (ragline.ToolCall("c1", "Weather", '{"city": "Oslo"}'),)
    assert to_message(ToolMessage("4", tool_call_id="c1")) == ragline.Message(
        "tool", "4", tool_call_id="c1"
    )
    with pytest.raises(ValueError, match="use system, human, AI or tool messages"):
        to_message(FunctionMessage("x", name="f"))
    with pytest.raises(ValueError, match="'image' block"):
        to_message(HumanMessage([{"type": "image", "url": "https://x/y.png"}]))


def test_tools_and_tool_choices() -> None:
    tool = to_tool(Weather)
    tools = [tool]

    assert (tool.name, tool.description) == ("Weather", "Current weather of a city.")
    assert tool.parameters["properties"] == {"city": {"type": "string"}}
    assert [tool_choice_name(c, tools) for c in ("any", True, None, "auto", "Weather")] == [
        "required",
        "required",
        None,
        "auto",
        "Weather",
    ]
    assert tool_choice_name({"type": "function", "function": {"name": "Weather"}}, tools) == (
        "Weather"
    )
    with pytest.raises(
        ValueError, match=r"not auto, none, any, required or a tool's name \(Weather\)"
    ):
        tool_choice_name("Forecast", tools)


def test_tool_calls_come_back_valid_or_invalid() -> None:
    calls = (
        ragline.ToolCall("1", "Weather", '{"city": "Oslo"}'),
        ragline.ToolCall("2", "Weather", '{"city": '),
        ragline.ToolCall("3", "Weather", "[1]"),
    )

    valid, invalid = tool_calls_of(calls)

    assert [(c["id"], c["args"]) for c in valid] == [("1", {"city": "Oslo"})]
    assert [(c["id"], c["error"]) for c in invalid] == [
        ("2", "arguments are not JSON: Expecting value"),
        ("3", "arguments are not a JSON object"),
    ]


def test_filters_as_ragline_expressions() -> None:
    assert filter_list(None) == []
    assert filter_list("page_number>=2") == ["page_number>=2"]
    assert filter_list({"source_document": "a,b.md", "page_number": 2, "draft": False}) == [
        'source_document="a,b.md"',
        "page_number=2",
        "draft=false",
    ]
    with pytest.raises(ValueError, match="double quote"):
        filter_list({"title": 'say "hi"'})


def test_a_hit_becomes_a_document_with_or_without_provenance() -> None:
    hit = Hit("p1", 0.5, {"text": "Bread.", "source_document": "a.md", "chunk_index": 0, "k": 1})

    full, bare = to_document(hit), to_document(hit, provenance=False)

    assert (full.id, full.page_content) == ("a.md", "Bread.")
    assert full.metadata == {
        "source_document": "a.md",
        "chunk_index": 0,
        "k": 1,
        "chunk_id": "p1",
        "score": 0.5,
    }
    assert bare.metadata == {"k": 1}


def _pieces(request_id: str, seen: list[str], closed: threading.Event) -> Iterator[StreamChunk]:
    scope = current_scope()
    seen.append(scope.request_id if scope else "none")
    try:
        for word in ("one ", "two ", "three"):
            yield StreamChunk(word, "local:x")
        yield StreamChunk("", "local:x", "stop", Usage(3, 3))
    finally:
        closed.set()


def test_the_stream_runs_inside_its_own_cost_scope_and_stops_when_closed() -> None:
    seen: list[str] = []
    closed = threading.Event()

    got = list(scoped_stream(lambda rid: _pieces(rid, seen, closed), key="k"))

    assert "".join(p.text for p, _ in got) == "one two three"
    assert seen[0] != "none" and current_scope() is None  # opened on the worker, not here
    assert closed.wait(2)

    closed.clear()
    early = scoped_stream(lambda rid: _pieces(rid, seen, closed))
    next(early)
    early.close()
    assert closed.wait(2)  # the router's stream is closed too


def test_a_stream_error_reaches_the_consumer() -> None:
    def failing(request_id: str) -> Iterator[StreamChunk]:
        yield StreamChunk("a", "local:x")
        raise RuntimeError("engine died")

    with pytest.raises(RuntimeError, match="engine died"):
        list(scoped_stream(failing))
