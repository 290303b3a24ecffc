"""What the Router reports about a request: a cache hit's own latency, the semantic-cache audits
in its cost events, the budget pre-check's prompt count, and the cascade's tier order.

Deployments are the scripted models of test_router.py; the semantic cache runs on the real
MiniLM embedder."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from ragline.core.chat import ChatRequest, Completion, Message
from ragline.core.costs import AUDITED_HIT, FALSE_HIT
from ragline.core.embedding import Embedder, EmbedKind, TokenWindow
from ragline.core.memory_index import MemoryIndex
from ragline.core.types import FloatMatrix
from ragline.llm_router.caches.exact import CacheConfig, SqliteCache, cache_key
from ragline.llm_router.caches.semantic import SemanticCache, SemanticCacheConfig
from ragline.llm_router.errors import BudgetExceeded
from ragline.llm_router.guards.budgets import BudgetConfig
from ragline.llm_router.policies import Deployment
from ragline.llm_router.tokens import PromptCounter
from tests.llm_router.test_router import REQUEST, ScriptModel, llm, make_router

STORED_MS = 7674.0  # the original call's latency, as the issue saw it reported for a hit


class SlowModel(ScriptModel):
    """A scripted model whose answers took `STORED_MS` to generate."""

    def complete(self, request: ChatRequest) -> Completion:
        return dataclasses.replace(super().complete(request), latency_ms=STORED_MS)


class CountingModel(ScriptModel):
    """A scripted model that counts prompts as its template would (`PromptCounter`)."""

    def __init__(self, name: str, prompt_tokens: int) -> None:
        super().__init__(name, ["counted"])
        self.counted = prompt_tokens
        self.asked: list[ChatRequest] = []

    def prompt_tokens(self, request: ChatRequest) -> int:
        self.asked.append(request)
        return self.counted


class SlowEmbedder:
    """The real embedder, `delay_s` slower per call: a query embedding that takes time."""

    def __init__(self, inner: Embedder, delay_s: float) -> None:
        self.inner, self.delay_s = inner, delay_s

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dims(self) -> int:
        return self.inner.dims

    def window(self) -> TokenWindow | None:
        return self.inner.window()

    def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> FloatMatrix:
        time.sleep(self.delay_s)
        return self.inner.embed(texts, kind=kind)


def ask(text: str) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),), max_tokens=20)


@pytest.mark.unit
def test_an_exact_hit_reports_the_lookups_latency_not_the_stored_calls(tmp_path: Path) -> None:
    small = ScriptModel("small", ["never asked"])
    cache = SqliteCache(tmp_path / "cache.sqlite", ttl_s=60)
    stored = Completion("cached answer", "script:small", small.usage, STORED_MS)
    cache.put(cache_key("script:small", REQUEST), stored)
    router, _, _ = make_router({"small": small}, llm(cache=CacheConfig()), cache=cache)
    started = time.perf_counter()
    hit = router.complete(REQUEST)
    wall_ms = (time.perf_counter() - started) * 1000
    assert hit.cache == "exact" and hit.text == "cached answer" and small.calls == 0
    assert 0 < hit.latency_ms <= wall_ms < STORED_MS
    cache.close()


@pytest.mark.unit
def test_the_budget_pre_check_counts_the_prompt_as_the_model_does() -> None:
    # script:large costs $2.50 per 1M input tokens: a 400k-token prompt is $1 before any output
    large = CountingModel("large", prompt_tokens=400_000)
    budgets = BudgetConfig(per_key_daily_usd=Decimal("0.5"))
    router, _, _ = make_router({"large": large}, llm("script:large", fallbacks=()), budgets=budgets)
    with pytest.raises(BudgetExceeded):
        router.complete(REQUEST, key="alice")
    assert isinstance(large, PromptCounter) and large.asked == [REQUEST] and large.calls == 0
    large.counted = 20  # the same request counted small: it passes and is answered
    assert router.complete(REQUEST, key="alice").text == "counted"


@pytest.mark.unit
def test_the_cascade_tries_the_cheaper_tier_first_whatever_the_quality() -> None:
    small = ScriptModel("small", ["I don't have enough information."])
    large = ScriptModel("large", ["42"])
    deployments = (
        Deployment(model="script:large", tier="smart", quality=0),
        Deployment(model="script:small", tier="cheap", quality=7),
    )
    router, _, _ = make_router(
        {"small": small, "large": large}, llm(policy="cascade", deployments=deployments)
    )
    assert [d.model for d in router.deployments()] == ["script:small", "script:large", "extractive"]
    done = router.complete(REQUEST)
    assert done.attempts == ("script:small", "script:small:abstained", "script:large")


@pytest.mark.integration
def test_a_semantic_hit_reports_its_lookup_with_the_query_embedding(
    tmp_path: Path, embedder: Embedder
) -> None:
    small = SlowModel("small", ["Use the reset link."])
    router, _, _ = make_router({"small": small}, llm())
    config = SemanticCacheConfig(enabled=True, path=tmp_path / "sem", audit_rate=0.0)
    router.parts.semantic = SemanticCache(SlowEmbedder(embedder, 0.05), MemoryIndex(), config)
    assert router.complete(ask("How do I reset my password?")).latency_ms == STORED_MS
    started = time.perf_counter()
    hit = router.complete(ask("How can I reset my password?"))
    wall_ms = (time.perf_counter() - started) * 1000
    assert hit.cache == "semantic" and small.calls == 1
    assert 50 <= hit.latency_ms <= wall_ms < STORED_MS  # the query embedding took 50 ms
    router.close()


@pytest.mark.integration
def test_audits_are_marked_in_the_cost_events(tmp_path: Path, embedder: Embedder) -> None:
    answers = ["Paris is the capital.", "Paris is the capital.", "The Eiffel Tower is 330 m."]
    small = ScriptModel("small", answers)
    router, sink, _ = make_router({"small": small}, llm())
    config = SemanticCacheConfig(enabled=True, path=tmp_path / "sem", audit_rate=1.0)
    router.parts.semantic = SemanticCache(embedder, MemoryIndex(), config)
    router.complete(ask("What is the capital of France?"), request_id="first")
    agreed = router.complete(ask("What's the capital of France?"), request_id="agreed")
    wrong = router.complete(ask("What's the capital of France?"), request_id="wrong")
    assert agreed.cache == "semantic" and agreed.text == answers[0]
    assert wrong.cache is None and wrong.text == answers[2] and small.calls == 3
    marks = [(e.request_id, e.cache, e.usd > 0) for e in sink.events]
    assert marks == [
        ("first", None, True),
        ("agreed", None, True),  # the audit's own model call, priced as any
        ("agreed", AUDITED_HIT, False),  # the hit it confirmed, served free
        ("wrong", None, True),
        ("wrong", FALSE_HIT, False),  # the hit it refuted: not served
    ]
    false_event = sink.events[-1]
    assert (false_event.model, false_event.tokens_in, false_event.tokens_out) == (
        "script:small",
        0,
        0,
    )
    assert (router.stats.semantic_audits, router.stats.semantic_false_hits) == (2, 1)
    assert router.stats.semantic_hits == 1
    router.close()
