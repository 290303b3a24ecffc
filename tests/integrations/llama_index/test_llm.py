"""`RaglineLLM` on the packaged local model (SmolLM2 on llama.cpp): complete and chat, each
streamed token by token, with usage, cost and the request id of the ledger's events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.llms import ChatMessage, MessageRole

import ragline
from ragline.integrations.llama_index import RaglineLLM
from tests.integrations.llama_index.conftest import settings_in

pytestmark = pytest.mark.integration
PROMPT = "Name three colours."
MESSAGES = [
    ChatMessage(role=MessageRole.SYSTEM, content="You answer in one short sentence."),
    ChatMessage(role=MessageRole.USER, content="What is the capital of France?"),
]


@pytest.fixture
def llm(local_settings: ragline.Settings) -> Iterator[RaglineLLM]:
    model = RaglineLLM(local_settings, max_tokens=24, temperature=0.0)
    yield model
    model.close()


def priced(raw: dict[str, object]) -> float:
    """What `conftest.LOCAL_PRICES` charges for a response's usage."""
    usage = raw["usage"]
    assert isinstance(usage, dict)
    return (usage["prompt_tokens"] * 1000 + usage["completion_tokens"] * 2000) / 1_000_000


def test_metadata_names_the_configured_model(llm: RaglineLLM) -> None:
    assert llm.metadata.model_name == "local"
    assert llm.metadata.is_chat_model and llm.metadata.num_output == 24


def test_complete_reports_usage_cost_and_its_ledger_request(
    llm: RaglineLLM, local_settings: ragline.Settings
) -> None:
    response = llm.complete(PROMPT)
    raw = response.raw
    assert response.text.strip() and raw["model"].startswith("local:")
    assert raw["usage"]["prompt_tokens"] > 0 and 0 < raw["usage"]["completion_tokens"] <= 24
    assert raw["cost_usd"] == pytest.approx(priced(raw)) and raw["cost_usd"] > 0
    assert response.additional_kwargs["completion_tokens"] == raw["usage"]["completion_tokens"]
    llm.close()  # writes what the ledger buffers
    with ragline.Ledger(local_settings.costs.ledger, local_settings.data_dir) as ledger:
        parts = ledger.breakdown(raw["request_id"])
    assert float(sum(parts.values())) == pytest.approx(raw["cost_usd"]) and "llm" in parts


def test_stream_complete_streams_the_completed_text(llm: RaglineLLM) -> None:
    whole = llm.complete(PROMPT)
    pieces = list(llm.stream_complete(PROMPT))
    assert len(pieces) > 2  # token by token, not one chunk
    assert "".join(p.delta or "" for p in pieces) == pieces[-1].text
    assert pieces[-1].text.strip() == whole.text  # the provider trims a completed answer
    last = pieces[-1].raw
    assert last["finish_reason"] is not None and last["usage"]["completion_tokens"] > 0
    assert last["usage"]["prompt_tokens"] == whole.raw["usage"]["prompt_tokens"]
    assert last["cost_usd"] == pytest.approx(priced(last)) and last["cost_usd"] > 0
    assert all(p.raw["cost_usd"] == 0 for p in pieces[:-1])  # charged once, with the usage
    assert last["request_id"] != whole.raw["request_id"]


def test_chat_sends_the_roles_and_streams(llm: RaglineLLM) -> None:
    reply = llm.chat(MESSAGES)
    assert reply.message.role == MessageRole.ASSISTANT and "Paris" in (reply.message.content or "")
    longer = [ChatMessage(role=MessageRole.SYSTEM, content="Be brief. " * 5), MESSAGES[1]]
    more = llm.chat(longer).raw["usage"]["prompt_tokens"]
    assert more > reply.raw["usage"]["prompt_tokens"]  # the system message is sent as such
    pieces = list(llm.stream_chat(MESSAGES))
    assert len(pieces) > 2
    assert "".join(p.delta or "" for p in pieces) == pieces[-1].message.content
    assert (pieces[-1].message.content or "").strip() == reply.message.content
    last = pieces[-1].raw
    assert last["cost_usd"] == pytest.approx(priced(last)) and last["cost_usd"] > 0


def test_per_call_options_and_async(llm: RaglineLLM) -> None:
    short = llm.complete(PROMPT, max_tokens=2)
    assert short.raw["usage"]["completion_tokens"] <= 2 and short.raw["finish_reason"] == "length"
    reply = asyncio.run(llm.achat(MESSAGES))
    assert reply.message.content == llm.chat(MESSAGES).message.content


def test_the_default_router_answers_with_no_model(tmp_path: Path) -> None:
    llm = RaglineLLM(settings_in(tmp_path))  # extractive: always available, free
    try:
        reply = llm.chat([ChatMessage(role=MessageRole.USER, content="Hello?")])
        assert reply.raw["model"].startswith("extractive") and reply.raw["cost_usd"] == 0.0
    finally:
        llm.close()
