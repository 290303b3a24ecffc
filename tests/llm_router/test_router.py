"""The Router: policies, fallback, retries, breaker, exact cache, budgets, limits and costs.

Deployments here are in-process `ChatModel`s registered like any provider ("script:<name>"),
each answering from a script (text or an error per call), so every path is driven exactly;
tests against the real llama.cpp server are in test_router_server.py.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest

from ragline.core.chat import ChatRequest, Completion, Message, StreamChunk, Usage
from ragline.core.costs import MemorySink
from ragline.core.pricing import Price, Prices, PriceTable
from ragline.llm_router.caches.exact import CacheConfig, SqliteCache
from ragline.llm_router.config import CascadeConfig, LlmConfig
from ragline.llm_router.errors import (
    BadRequest,
    BudgetExceeded,
    ProviderError,
    RateLimited,
    ServerError,
    Timeout,
    Unavailable,
)
from ragline.llm_router.guards.breaker import CircuitBreaker
from ragline.llm_router.guards.budgets import BudgetConfig, Budgets
from ragline.llm_router.guards.ratelimit import MemoryRateLimiter, RateLimitConfig
from ragline.llm_router.guards.retry import RetryConfig
from ragline.llm_router.policies import Deployment
from ragline.llm_router.registry import builtin_registry
from ragline.llm_router.router import Router, RouterParts

pytestmark = pytest.mark.unit

REQUEST = ChatRequest(messages=(Message("user", "What is the answer?"),), max_tokens=20)
PRICES = PriceTable(
    {
        "script:small": Price(input=Decimal("0.15"), output=Decimal("0.60")),
        "script:large": Price(input=Decimal("2.50"), output=Decimal("10")),
        "script:*": Price(input=Decimal("1"), output=Decimal("2")),
        "extractive*": Price(input=Decimal(0), output=Decimal(0)),
    }
)
Step = str | ProviderError


class ScriptModel:
    """Answers call i with script[i] (the last entry repeats): a text, or an error to raise."""

    def __init__(
        self, name: str, script: list[Step], usage: Usage | None = None, confidence: float = 0.9
    ) -> None:
        self._name, self.script, self.calls = name, script, 0
        self.usage = usage or Usage(1000, 100)
        self.confidence = confidence  # reported when a request asks for logprobs
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"script:{self._name}"

    def _next(self) -> str:
        with self._lock:
            step = self.script[min(self.calls, len(self.script) - 1)]
            self.calls += 1
        if isinstance(step, ProviderError):
            raise step
        return step

    def complete(self, request: ChatRequest) -> Completion:
        confidence = self.confidence if request.logprobs else None
        return Completion(self._next(), self.name, self.usage, 1.0, confidence=confidence)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        text = self._next()
        for word in text.split(" "):
            yield StreamChunk(word + " ", self.name)
        yield StreamChunk("", self.name, "stop", self.usage)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_router(
    models: dict[str, ScriptModel],
    config: LlmConfig,
    *,
    clock: Clock | None = None,
    cache: SqliteCache | None = None,
    budgets: BudgetConfig | None = None,
    limiter: MemoryRateLimiter | None = None,
    unpriced: Literal["refuse", "free"] = "refuse",
) -> tuple[Router, MemorySink, list[float]]:
    registry = builtin_registry()
    registry.register("script", lambda model, _config: models[model or ""])
    sink, sleeps = MemorySink(), []
    clock = clock or Clock()
    parts = RouterParts(
        registry=registry,
        prices=Prices(PRICES, unpriced=unpriced),
        breaker=CircuitBreaker(config.breaker, clock=clock),
        budgets=Budgets(budgets or BudgetConfig(), clock=clock),
        sink=sink,
        cache=cache,
        limiter=limiter,
        sleep=sleeps.append,
    )
    return Router(config, parts), sink, sleeps


def recorded(sink: MemorySink, request_id: str) -> Decimal:
    """What the router recorded for `request_id`: the sum of its cost events."""
    return sum((e.usd for e in sink.events if e.request_id == request_id), Decimal(0))


def llm(provider: str = "script:small", **fields: object) -> LlmConfig:
    base = {"provider": provider, "fallbacks": ("extractive",), "cache": {"enabled": False}}
    return LlmConfig.model_validate({**base, **fields})


def test_fixed_policy_answers_and_costs_exactly_from_the_pricing_table() -> None:
    small = ScriptModel("small", ["42"], Usage(1000, 100, cached_in=400))
    router, sink, _ = make_router({"small": small}, llm())
    done = router.complete(REQUEST, key="alice", request_id="r1")
    expected = PRICES.cost("script:small", small.usage)
    assert expected == Decimal("0.000210")  # (600 * .15 + 400 * .15 + 100 * .6) / 1e6
    assert done.text == "42" and done.attempts == ("script:small",)
    assert Decimal(str(done.cost_usd)) == expected == recorded(sink, "r1")
    [event] = sink.events
    assert (event.model, event.usd, event.key, event.request_id) == (
        "script:small",
        expected,
        "alice",
        "r1",
    )
    assert (event.tokens_in, event.tokens_out, event.cached_in) == (1000, 100, 400)


def test_retryable_errors_are_retried_with_backoff_then_answered() -> None:
    small = ScriptModel("small", [ServerError("502"), Timeout("slow"), "ok"])
    router, sink, sleeps = make_router({"small": small}, llm())
    done = router.complete(REQUEST)
    assert done.text == "ok" and small.calls == 3 and len(sleeps) == 2
    assert len(sink.events) == 1  # failed attempts cost nothing


def test_a_failing_primary_falls_back_in_order_and_loses_nothing() -> None:
    small = ScriptModel("small", [ServerError("down")])
    large = ScriptModel("large", ["from large"])
    config = llm(fallbacks=("script:large", "extractive"))
    router, _, _ = make_router({"small": small, "large": large}, config)
    done = router.complete(REQUEST)
    assert done.text == "from large" and done.model == "script:large"
    assert done.attempts == ("script:small:ServerError", "script:large")
    assert small.calls == 3  # retried up to llm.retry.attempts before falling back
    assert router.stats.fallbacks == 1


def test_bad_requests_are_not_retried_and_do_not_open_the_circuit() -> None:
    small = ScriptModel("small", [BadRequest("too long")])
    router, _, sleeps = make_router({"small": small}, llm(breaker={"failures": 2}))
    for _ in range(3):
        assert router.complete(REQUEST).model == "extractive:bm25"
    assert small.calls == 3 and sleeps == []
    assert router.parts.breaker.state("script:small") == "closed"


def test_when_every_deployment_fails_the_first_error_says_what_was_tried() -> None:
    small = ScriptModel("small", [Unavailable("no key")])
    router, _, _ = make_router({"small": small}, llm(fallbacks=()))
    with pytest.raises(Unavailable, match="no key") as caught:
        router.complete(REQUEST)
    assert any("tried in order: script:small" in note for note in caught.value.__notes__)


def test_the_breaker_stops_calls_to_a_dead_primary_and_probes_after_the_cooldown() -> None:
    clock = Clock()
    small = ScriptModel("small", [ServerError("dead")])
    config = llm(breaker={"failures": 3, "window_s": 60, "cooldown_s": 30}, retry={"attempts": 1})
    router, _, _ = make_router({"small": small}, config, clock=clock)
    for _ in range(10):
        assert router.complete(REQUEST).model == "extractive:bm25"
    assert small.calls == 3  # the 4th..10th calls never reached it
    assert router.parts.breaker.state("script:small") == "open"
    clock.now += 31
    small.script = ["back"]
    assert router.complete(REQUEST).text == "back"  # the half-open probe, which closes it
    assert router.parts.breaker.state("script:small") == "closed"


def test_a_timeout_counts_as_a_failure_and_falls_back() -> None:
    release = threading.Event()

    class Slow(ScriptModel):
        def complete(self, request: ChatRequest) -> Completion:
            release.wait(5)
            return super().complete(request)

    slow = Slow("small", ["late"])
    router, _, _ = make_router({"small": slow}, llm(retry={"attempts": 1, "timeout_s": 0.05}))
    try:
        done = router.complete(REQUEST)
    finally:
        release.set()
    assert done.model == "extractive:bm25" and done.attempts[0] == "script:small:Timeout"


def test_an_exact_cache_hit_costs_nothing_and_skips_the_model(tmp_path: Path) -> None:
    small = ScriptModel("small", ["cached answer", "second answer"])
    cache = SqliteCache(tmp_path / "cache.sqlite", ttl_s=60)
    config = llm(cache=CacheConfig(path=tmp_path / "cache.sqlite"))
    router, sink, _ = make_router({"small": small}, config, cache=cache)
    first = router.complete(REQUEST)
    spaced = ChatRequest(messages=(Message("user", " What is  the answer? "),), max_tokens=20)
    hit = router.complete(spaced)  # the same request once whitespace is normalised
    assert first.cache is None and hit.cache == "exact" and hit.text == "cached answer"
    assert small.calls == 1
    assert hit.cost_usd == 0.0 and sink.events[-1].cache == "exact" and sink.events[-1].usd == 0
    assert router.stats.exact_hits >= 1
    cache.close()


def test_a_fallback_answer_is_not_cached_as_the_primary_answer(tmp_path: Path) -> None:
    small = ScriptModel("small", [ServerError("down"), ServerError("down"), ServerError("x")])
    cache = SqliteCache(tmp_path / "cache.sqlite", ttl_s=60)
    router, _, _ = make_router({"small": small}, llm(), cache=cache)
    assert router.complete(REQUEST).model == "extractive:bm25"
    small.script = ["primary"]
    assert router.complete(REQUEST).text == "primary"
    cache.close()


def test_a_budget_refuses_a_paid_model_and_the_free_fallback_answers() -> None:
    large = ScriptModel("large", ["expensive"])
    budgets = BudgetConfig(per_key_daily_usd=Decimal("0.0036"))
    router, _, _ = make_router({"large": large}, llm("script:large"), budgets=budgets)
    assert router.complete(REQUEST, key="bob").model == "script:large"  # $0.0035
    done = router.complete(REQUEST, key="bob")  # its estimate ($0.0002) would pass $0.0036
    assert done.model == "extractive:bm25" and done.attempts[0] == "script:large:BudgetExceeded"
    assert large.calls == 1
    assert router.complete(REQUEST, key="carol").model == "script:large"  # per key
    only_paid = llm("script:large", fallbacks=())
    router, _, _ = make_router({"large": large}, only_paid, budgets=budgets)
    router.complete(REQUEST, key="bob")
    with pytest.raises(BudgetExceeded, match=r"key:bob/day"):
        router.complete(REQUEST, key="bob")


def test_rate_limits_refuse_with_the_time_to_wait() -> None:
    small = ScriptModel("small", ["ok"])
    clock = Clock()
    limiter = MemoryRateLimiter(RateLimitConfig(requests_per_minute=2), clock=clock)
    router, _, _ = make_router({"small": small}, llm(), limiter=limiter)
    router.complete(REQUEST, key="k")
    router.complete(REQUEST, key="k")
    with pytest.raises(RateLimited) as caught:
        router.complete(REQUEST, key="k")
    assert caught.value.retry_after_s is not None and 0 < caught.value.retry_after_s <= 30
    assert small.calls == 2
    router.complete(REQUEST, key="other")  # limits are per key


def test_cascade_escalates_an_abstention_to_the_larger_model_and_sums_the_cost() -> None:
    small = ScriptModel("small", ["I don't have enough information."])
    large = ScriptModel("large", ["the answer is 42"])
    config = llm(
        policy="cascade",
        deployments=(
            Deployment(model="script:large", quality=2),
            Deployment(model="script:small", quality=1),
        ),
        cascade=CascadeConfig(min_confidence=0.5),
    )
    router, sink, _ = make_router({"small": small, "large": large}, config)
    done = router.complete(REQUEST, request_id="c1")
    assert done.text == "the answer is 42"
    assert done.attempts == ("script:small", "script:small:abstained", "script:large")
    assert Decimal(str(done.cost_usd)) == sum(e.usd for e in sink.events) == recorded(sink, "c1")
    assert len(sink.events) == 2 and router.stats.escalations == 1
    assert router.stats.fallbacks == 0  # an escalation is not a failure


def test_cascade_escalates_a_low_confidence_answer_when_asked_to_judge_it() -> None:
    small = ScriptModel("small", ["maybe 41"], confidence=0.3)
    large = ScriptModel("large", ["42"], confidence=0.95)
    deployments = (Deployment(model="script:small"), Deployment(model="script:large", quality=1))
    judged = llm(policy="cascade", deployments=deployments, cascade={"min_confidence": 0.5})
    router, _, _ = make_router({"small": small, "large": large}, judged)
    done = router.complete(REQUEST)
    assert done.text == "42" and done.confidence == 0.95
    assert done.attempts == ("script:small", "script:small:low_confidence", "script:large")
    unjudged = llm(policy="cascade", deployments=deployments)  # no threshold: no logprobs
    router, _, _ = make_router({"small": small, "large": large}, unjudged)
    assert router.complete(REQUEST).text == "maybe 41" and router.stats.escalations == 0


def test_cascade_keeps_a_confident_small_answer() -> None:
    small = ScriptModel("small", ["42"])
    large = ScriptModel("large", ["42 but dearer"])
    config = llm(
        policy="cascade",
        deployments=(Deployment(model="script:small"), Deployment(model="script:large", quality=1)),
    )
    router, _, _ = make_router({"small": small, "large": large}, config)
    assert router.complete(REQUEST).text == "42" and large.calls == 0


def test_cost_policy_picks_the_cheapest_of_the_tier() -> None:
    small, large = ScriptModel("small", ["cheap"]), ScriptModel("large", ["dear"])
    config = llm(
        policy="cost",
        tier="fast",
        deployments=(
            Deployment(model="script:large", tier="fast"),
            Deployment(model="script:small", tier="fast"),
            Deployment(model="script:other", tier="slow"),
        ),
    )
    router, _, _ = make_router({"small": small, "large": large}, config)
    assert [d.model for d in router.deployments()] == ["script:small", "script:large", "extractive"]
    assert router.complete(REQUEST).text == "cheap"


def test_ab_policy_is_sticky_per_key_and_splits_by_weight() -> None:
    a, b = ScriptModel("small", ["A"]), ScriptModel("large", ["B"])
    config = llm(
        policy="ab",
        deployments=(
            Deployment(model="script:small", weight=3),
            Deployment(model="script:large", weight=1),
        ),
    )
    router, _, _ = make_router({"small": a, "large": b}, config)
    arms = {key: router.complete(REQUEST, key=key).text for key in map(str, range(400))}
    assert all(router.complete(REQUEST, key=k).text == arm for k, arm in list(arms.items())[:20])
    share = sum(arm == "A" for arm in arms.values()) / len(arms)
    assert 0.65 < share < 0.85


def test_stream_falls_back_before_the_first_chunk_and_records_the_cost() -> None:
    small = ScriptModel("small", [ServerError("down")])
    large = ScriptModel("large", ["streamed words here"])
    config = llm(fallbacks=("script:large",))
    router, sink, _ = make_router({"small": small, "large": large}, config)
    chunks = list(router.stream(REQUEST, request_id="s1"))
    assert "".join(c.text for c in chunks).strip() == "streamed words here"
    assert chunks[-1].usage == large.usage and chunks[-1].finish_reason == "stop"
    assert recorded(sink, "s1") == PRICES.cost("script:large", large.usage) == sink.events[0].usd


def test_an_unpriced_model_is_refused_unless_configured_free() -> None:
    registry_models = {"small": ScriptModel("small", ["hi"])}
    router, _, _ = make_router(registry_models, llm("other:model", fallbacks=()))
    router.parts.registry.register("other", lambda model, _c: registry_models["small"])
    with pytest.raises(Unavailable, match=r"costs\.unpriced: free"):
        router.complete(REQUEST)
    router, _, _ = make_router(registry_models, llm("other:model", fallbacks=()), unpriced="free")
    router.parts.registry.register("other", lambda model, _c: registry_models["small"])
    assert router.complete(REQUEST).text == "hi"


def test_policy_other_than_fixed_needs_deployments() -> None:
    with pytest.raises(ValueError, match=r"llm\.deployments"):
        LlmConfig(policy="cascade")


def test_retry_config_is_honoured_per_deployment() -> None:
    small = ScriptModel("small", [ServerError("x")])
    router, _, sleeps = make_router({"small": small}, llm(retry=RetryConfig(attempts=5)))
    router.complete(REQUEST)
    assert small.calls == 5 and len(sleeps) == 4


def test_warm_up_resolves_every_deployment_and_loads_weights() -> None:
    loaded: list[str] = []

    class Heavy(ScriptModel):
        def warm_up(self) -> None:
            loaded.append(self.name)

    small, large = Heavy("small", ["a"]), Heavy("large", ["b"])
    config = llm(fallbacks=("script:large", "extractive"))
    router, _, _ = make_router({"small": small, "large": large}, config)
    assert router.warm_up() == {} and small.calls == 0
    assert loaded == ["script:small", "script:large"]
    broken, _, _ = make_router({}, llm(f"local:{Path('/nonexistent/model.gguf')}"))
    assert "Unavailable" in broken.warm_up()["local:/nonexistent/model.gguf"]
    typo, _, _ = make_router({}, llm("nope:model"))
    with pytest.raises(ProviderError, match="unknown provider 'nope'"):
        typo.warm_up()


def test_cost_events_name_the_requests_prompt_template(tmp_path: Path) -> None:
    small = ScriptModel("small", ["an answer"])
    cache = SqliteCache(tmp_path / "cache.sqlite", ttl_s=60)
    config = llm(cache=CacheConfig(path=tmp_path / "cache.sqlite"))
    router, sink, _ = make_router({"small": small}, config, cache=cache)
    templated = dataclasses.replace(REQUEST, prompt="grounded-answer@1")
    router.complete(templated, request_id="called")
    router.complete(templated, request_id="hit")  # the exact cache answers, at $0
    list(router.stream(dataclasses.replace(templated, prompt="condense@1"), request_id="s"))
    router.complete(ChatRequest(messages=(Message("user", "Other?"),), max_tokens=5))
    assert [(e.request_id, e.cache, e.prompt) for e in sink.events][:3] == [
        ("called", None, "grounded-answer@1"),
        ("hit", "exact", "grounded-answer@1"),
        ("s", None, "condense@1"),
    ]
    assert sink.events[3].prompt is None  # a request built without a template
    cache.close()
