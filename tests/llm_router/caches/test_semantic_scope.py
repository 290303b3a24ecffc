"""Which requests the semantic cache may answer: never tool or JSON requests."""

from __future__ import annotations

import pytest

from ragline.core.chat import ChatRequest, Message, Tool, ToolCall
from ragline.llm_router.caches.semantic import semantic_cacheable

pytestmark = pytest.mark.unit
ASK = (Message("user", "How do I reset my password?"),)


def test_plain_questions_may_be_answered_by_a_paraphrase() -> None:
    assert semantic_cacheable(ChatRequest(messages=ASK))


@pytest.mark.parametrize(
    "request_",
    [
        ChatRequest(messages=ASK, tools=(Tool("reset", "Reset a password"),)),
        ChatRequest(messages=ASK, json_schema={"type": "object"}),
        ChatRequest(messages=ASK, json_object=True),
        ChatRequest(
            messages=(
                *ASK,
                Message("assistant", "", tool_calls=(ToolCall("c1", "reset", "{}"),)),
                Message("tool", "done", tool_call_id="c1"),
            )
        ),
    ],
)
def test_tool_and_json_requests_never_are(request_: ChatRequest) -> None:
    assert not semantic_cacheable(request_)
