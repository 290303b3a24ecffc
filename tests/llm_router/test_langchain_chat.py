"""RouterChatModel: a LangChain chat model over a real Router whose `openai` deployment talks to
an HTTP-level fake of the OpenAI API (message mapping, usage and cost, the exact cache, the
async path, errors)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import httpx2
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration

from ragline.core.chat import Message
from ragline.core.costs import MemorySink
from ragline.core.pricing import Price, Prices, PriceTable
from ragline.llm_router.caches.exact import SqliteCache
from ragline.llm_router.config import LlmConfig
from ragline.llm_router.errors import BadRequest
from ragline.llm_router.guards.breaker import CircuitBreaker
from ragline.llm_router.guards.budgets import Budgets
from ragline.llm_router.langchain_chat import RouterChatModel, RouterChatUsage, to_message
from ragline.llm_router.providers.openai_chat import OpenAIChatModel
from ragline.llm_router.registry import builtin_registry
from ragline.llm_router.router import Router, RouterParts
from tests.llm_router.conftest import COMPLETION, OpenAIFake

pytestmark = pytest.mark.unit

KEY_ENV = "RAGLINE_TEST_OPENAI_KEY"
PRICES = PriceTable(
    {
        "openai:gpt-4o-mini": Price(
            input=Decimal("0.15"), output=Decimal("0.60"), cached_input=Decimal("0.075")
        )
    }
)
# The fake's usage: 12 tokens in (8 cached by the provider), 3 out.
COST = (4 * 0.15 + 8 * 0.075 + 3 * 0.60) / 1_000_000
HELLO = [SystemMessage("Be brief."), HumanMessage("Say hello.")]


def make_router(fake: OpenAIFake, cache: SqliteCache | None = None) -> Router:
    """A Router with one `openai:gpt-4o-mini` deployment, no fallback, answered by `fake`."""
    config = LlmConfig.model_validate(
        {
            "provider": "openai:gpt-4o-mini",
            "fallbacks": (),
            "cache": {"enabled": cache is not None},
            "openai": {"api_key_env": KEY_ENV, "base_url": "https://api.example.test/v1"},
        }
    )
    registry = builtin_registry()
    registry.register(
        "openai", lambda model, cfg: OpenAIChatModel(cfg.openai, model, http_client=fake.client())
    )
    parts = RouterParts(
        registry=registry,
        prices=Prices(PRICES),
        breaker=CircuitBreaker(config.breaker),
        budgets=Budgets(config.budgets),
        sink=MemorySink(),
        cache=cache,
        sleep=lambda _s: None,
    )
    return Router(config, parts)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> OpenAIFake:
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    return OpenAIFake()


def test_maps_messages_and_asks_for_temperature_0(fake: OpenAIFake) -> None:
    llm = RouterChatModel(router=make_router(fake), max_tokens=64)
    reply = llm.invoke([*HELLO, AIMessage("Hi."), HumanMessage("Again.")], stop=["\n"])
    assert reply.content == "Hello there."
    assert fake.body() == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": "Hi."},
            {"role": "user", "content": "Again."},
        ],
        "max_tokens": 64,
        "temperature": 0.0,
        "stop": ["\n"],
    }
    assert llm.model_name == "openai:gpt-4o-mini" and llm._llm_type == "ragline-router"


def test_per_call_settings_override_the_fields(fake: OpenAIFake) -> None:
    llm = RouterChatModel(router=make_router(fake))
    llm.invoke(HELLO, temperature=0.5, max_tokens=7)
    assert (fake.body()["temperature"], fake.body()["max_tokens"]) == (0.5, 7)
    with pytest.raises(TypeError, match="does not take top_p"):
        llm.invoke(HELLO, top_p=0.9)


def test_text_blocks_are_joined_and_tool_messages_refused() -> None:
    blocks = HumanMessage(content=[{"type": "text", "text": "a "}, {"type": "text", "text": "b"}])
    assert to_message(blocks) == Message("user", "a b")
    with pytest.raises(ValueError, match="cannot send a ToolMessage"):
        to_message(ToolMessage("42", tool_call_id="t1"))


def test_reports_usage_and_cost_and_keeps_running_totals(fake: OpenAIFake) -> None:
    llm = RouterChatModel(router=make_router(fake))
    assert llm.usage() == RouterChatUsage()
    result = llm.generate([HELLO, [HumanMessage("Other.")]])
    assert result.llm_output is not None
    generation = result.generations[0][0]
    assert isinstance(generation, ChatGeneration) and generation.generation_info is not None
    assert generation.generation_info["finish_reason"] == "stop"
    assert generation.generation_info["cost_usd"] == pytest.approx(COST)
    assert generation.generation_info["cache"] is None
    assert isinstance(generation.message, AIMessage)
    assert generation.message.usage_metadata == {
        "input_tokens": 12,
        "output_tokens": 3,
        "total_tokens": 15,
    }
    usage = llm.usage()
    assert (usage.calls, usage.tokens_in, usage.tokens_out, usage.cache_hits) == (2, 24, 6, 0)
    assert usage.cost_usd == pytest.approx(2 * COST)


def test_a_repeated_call_is_answered_by_the_exact_cache_for_free(
    fake: OpenAIFake, tmp_path: Path
) -> None:
    cache = SqliteCache(tmp_path / "cache.sqlite", ttl_s=60)
    llm = RouterChatModel(router=make_router(fake, cache))
    first = llm.generate([HELLO]).generations[0][0]
    again = llm.generate([HELLO]).generations[0][0]
    cache.close()
    assert len(fake.requests) == 1 and again.text == first.text == "Hello there."
    assert again.generation_info == {
        **(first.generation_info or {}),
        "cache": "exact",
        "cost_usd": 0,
    }
    usage = llm.usage()
    assert (usage.calls, usage.cache_hits) == (2, 1)
    assert usage.cost_usd == pytest.approx(COST)


def test_the_async_path_runs_the_router_and_counts_every_call(fake: OpenAIFake) -> None:
    llm = RouterChatModel(router=make_router(fake))

    async def many() -> list[str]:
        replies = await asyncio.gather(*(llm.ainvoke([HumanMessage(f"q{i}")]) for i in range(8)))
        return [str(r.content) for r in replies]

    assert asyncio.run(many()) == ["Hello there."] * 8
    sent = sorted(json.loads(r.content)["messages"][0]["content"] for r in fake.requests)
    assert sent == sorted(f"q{i}" for i in range(8))
    assert llm.usage().calls == 8 and llm.usage().tokens_in == 8 * 12


def test_router_errors_propagate_and_count_nothing(fake: OpenAIFake) -> None:
    fake.answer(400, {"error": {"message": "the server's reason"}})
    llm = RouterChatModel(router=make_router(fake))
    with pytest.raises(BadRequest):
        llm.invoke(HELLO)
    with pytest.raises(BadRequest):
        asyncio.run(llm.ainvoke(HELLO))
    assert llm.usage() == RouterChatUsage()
    fake.reply = lambda: httpx2.Response(200, json=COMPLETION)
    assert llm.invoke(HELLO).content == "Hello there."
