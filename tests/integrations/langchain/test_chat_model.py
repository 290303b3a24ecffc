"""RaglineChatModel on the packaged local model (SmolLM2-135M via llama.cpp, in-process):
token streaming, tool calls both ways, structured output, usage and the ledger's cost in the
metadata; and LangChain's standard chat-model unit tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_tests.unit_tests import ChatModelUnitTests
from pydantic import BaseModel

import ragline
from ragline.integrations.langchain import RaglineChatModel
from ragline.integrations.langchain.messages import to_message

pytestmark = pytest.mark.integration
PRICES = """models:
  "local:*": {input: 100.0, output: 200.0}
"""


@tool
def add(a: int, b: int) -> int:
    """Add two integers a and b."""
    return a + b


class Person(BaseModel):
    name: str
    age: int


@pytest.fixture
def local(settings: ragline.Settings, tmp_path: Path) -> Iterator[RaglineChatModel]:
    """The chat model on the local provider, priced (so costs are not all zero)."""
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES, encoding="utf-8")
    priced = settings.model_copy(
        update={
            "llm": settings.llm.model_copy(update={"provider": "local"}),
            "costs": settings.costs.model_copy(update={"pricing": prices}),
        }
    )
    llm = RaglineChatModel(settings=priced, max_tokens=24, temperature=0)
    yield llm
    llm.close()


def test_invoke_fills_usage_and_the_ledger_cost(local: RaglineChatModel) -> None:
    reply = local.invoke([SystemMessage("Be brief."), HumanMessage("Say hello.")])

    usage, meta = reply.usage_metadata, reply.response_metadata
    assert reply.content and usage is not None and usage["output_tokens"] > 0
    expected = (usage["input_tokens"] * 100 + usage["output_tokens"] * 200) / 1e6
    assert meta["cost_usd"] == pytest.approx(expected)
    assert meta["model_name"].startswith("local:") and meta["finish_reason"] in ("stop", "length")
    assert local.model_name == "local"


def test_streaming_yields_tokens_as_they_come_and_ends_with_usage_and_cost(
    local: RaglineChatModel,
) -> None:
    whole = local.invoke("Count from one to ten.")
    chunks = list(local.stream("Count from one to ten."))

    assert len(chunks) > 3  # tokens, not one block
    merged: AIMessageChunk = sum(chunks[1:], chunks[0])  # type: ignore[assignment]
    assert merged.content == whole.content  # temperature 0: the same text
    assert merged.usage_metadata == whole.usage_metadata
    assert chunks[-1].response_metadata["cost_usd"] == whole.response_metadata["cost_usd"] > 0


def test_async_stream_and_invoke(local: RaglineChatModel) -> None:
    async def both() -> tuple[list[AIMessageChunk], Any]:
        return [c async for c in local.astream("Say hi.")], await local.ainvoke("Say hi.")

    chunks, reply = asyncio.run(both())

    assert "".join(str(c.content) for c in chunks) == reply.content


def test_bound_tools_come_back_as_tool_calls_and_answers_go_back(
    local: RaglineChatModel,
) -> None:
    asked = [HumanMessage("What is 3 plus 4?")]
    call = local.bind_tools([add], tool_choice="add").invoke(asked)

    [made] = call.tool_calls
    assert made["name"] == "add" and set(made["args"]) == {"a", "b"}
    assert call.response_metadata["finish_reason"] == "tool_calls"
    answer = ToolMessage(str(add.invoke(made["args"])), tool_call_id=made["id"])
    sent = [to_message(m) for m in [*asked, call, answer]]
    assert sent[1].tool_calls[0].name == "add" and sent[2].tool_call_id == made["id"]
    assert sent[1].tool_calls[0].arguments == json.dumps(made["args"])
    # the history goes back to the local model: the tool-calling turn is sent with "" content
    # (llama.cpp's chat templates cannot render null), and the model answers
    reply = local.invoke([*asked, call, answer])
    assert isinstance(reply.content, str) and reply.response_metadata["finish_reason"]


def test_streamed_tool_calls_arrive_whole(local: RaglineChatModel) -> None:
    chunks = list(local.bind_tools([add], tool_choice="any").stream("Add 2 and 5."))

    merged: AIMessageChunk = sum(chunks[1:], chunks[0])  # type: ignore[assignment]
    assert [c["name"] for c in merged.tool_calls] == ["add"]


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_structured_output_by_each_method(local: RaglineChatModel, method: str) -> None:
    llm = local.model_copy(update={"max_tokens": 64})
    prompt = "Alice is 30 years old. Give her name and age as JSON with keys name and age."

    raw = llm.with_structured_output(Person, method=method, include_raw=True).invoke(prompt)

    assert raw["parsing_error"] is None, raw["raw"]
    assert isinstance(raw["parsed"], Person) and raw["parsed"].name == "Alice"


def test_bad_requests_say_what_to_fix(local: RaglineChatModel) -> None:
    with pytest.raises(ValueError, match="tool_choice 'subtract' is not auto"):
        local.bind_tools([add], tool_choice="subtract")
    with pytest.raises(TypeError, match="does not take top_k"):
        local.invoke("hi", top_k=3)
    with pytest.raises(ValueError, match="sends text only"):
        local.invoke([HumanMessage([{"type": "image", "url": "https://x/y.png"}])])


class TestRaglineChatModelUnit(ChatModelUnitTests):
    """LangChain's standard chat-model unit tests (construction, binding; no model call)."""

    @property
    def chat_model_class(self) -> type[RaglineChatModel]:
        return RaglineChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "local"}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # ragline reads provider keys from the env var its settings name, never a parameter
        params = super().standard_chat_model_params
        params.pop("api_key")
        return params
