"""The Router: one `ChatModel` in front of many, with policy, caches, retries, breaker and costs.

    router = build_router(LlmConfig(provider="openai:gpt-4o-mini", fallbacks=("extractive",)))
    completion = router.complete(request, key="alice", request_id="req-1")
    completion.model, completion.cost_usd, completion.attempts

What one call does, in order:
1. max_tokens by purpose when the caller named none (`caps`, `llm.max_tokens`); rate limit
   (requests and estimated tokens per minute, per key) -> RateLimited;
2. the policy orders the deployments (fixed | cascade | cost | ab), then the fallbacks;
3. exact cache, then semantic cache, scoped by the first deployment (a hit costs nothing;
   a sample of semantic hits is re-checked against the model: the false-hit audit);
4. each deployment in turn: skipped while its circuit is open; refused by a budget it would
   pass (BudgetExceeded, the next may be free); called with a per-call timeout and retries
   on retryable errors; a failure is recorded by its breaker and the next one is tried;
5. on success: cost from the pricing table, budgets charged, one CostEvent per model call,
   caches filled. The cascade policy escalates to the next (larger) deployment when the
   answer has low confidence, fails validation or abstains.
If every deployment fails, the first error is raised with the others in its notes.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar, overload

from pydantic import BaseModel

from ragline.core.chat import ChatModel, ChatRequest, Completion, StreamChunk, Usage
from ragline.core.costs import CostSink, MemorySink, billing, llm_event, request_scope
from ragline.core.pricing import Prices
from ragline.llm_router.caches.exact import ExactCache, cache_key, cacheable
from ragline.llm_router.caches.semantic import SemanticCache, audit_mark, semantic_cacheable
from ragline.llm_router.caps import with_default_cap
from ragline.llm_router.config import LlmConfig
from ragline.llm_router.errors import (
    ProviderError,
    Unavailable,
    UnknownProvider,
    first_error,
    retryable,
)
from ragline.llm_router.guards.breaker import CircuitBreaker
from ragline.llm_router.guards.budgets import Budgets
from ragline.llm_router.guards.ratelimit import RateLimiter
from ragline.llm_router.guards.retry import call_with_retry, call_with_timeout, enforces_timeout
from ragline.llm_router.policies import (
    Deployment,
    ab_order,
    cascade_order,
    cheapest_in_tier,
    escalation,
)
from ragline.llm_router.registry import Registry
from ragline.llm_router.structured import Output, Structured, complete_structured
from ragline.llm_router.tokens import prompt_tokens

M = TypeVar("M", bound=BaseModel)
# Failures that say the deployment is unhealthy; BadRequest / AuthError / BudgetExceeded do not.
_BREAKER_FAILURES = (Unavailable,)


@dataclass
class RouterParts:
    """What a Router is built from; `build_router` fills it from the config."""

    registry: Registry
    prices: Prices
    breaker: CircuitBreaker
    budgets: Budgets
    sink: CostSink = field(default_factory=MemorySink)
    cache: ExactCache | None = None
    semantic: SemanticCache | None = None
    limiter: RateLimiter | None = None
    validate: Callable[[str], bool] | None = None
    sleep: Callable[[float], None] = time.sleep


@dataclass
class RouterStats:
    """Counters since start: for `/metrics` and the benchmarks."""

    calls: int = 0
    exact_hits: int = 0
    semantic_hits: int = 0
    escalations: int = 0
    fallbacks: int = 0
    repairs: int = 0  # structured-output re-asks
    semantic_audits: int = 0  # semantic hits re-checked against the model
    semantic_false_hits: int = 0  # ...that the model contradicted (evicted, not served)
    failures: dict[str, int] = field(default_factory=dict)
    calls_by_model: dict[str, int] = field(default_factory=dict)


class Router:
    """A `ChatModel` that routes each request over deployments (see the module docstring).

    router = Router(config, parts)
    router.complete(request)                 # satisfies the ChatModel protocol
    router.complete(request, key="alice")    # budgets and rate limits per key
    """

    def __init__(self, config: LlmConfig, parts: RouterParts) -> None:
        self.config = config
        self.parts = parts
        self.stats = RouterStats()
        self._models: dict[str, ChatModel] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"router:{self.config.policy}"

    def deployments(self, sticky_key: str = "") -> list[Deployment]:
        """The deployments a request tries, in order: the policy's, then the fallbacks."""
        config = self.config
        if config.policy == "fixed" or not config.deployments:
            chosen = [Deployment(model=config.provider)]
        elif config.policy == "cascade":
            chosen = cascade_order(config.deployments, config.cascade.tiers)
        elif config.policy == "cost":
            chosen = cheapest_in_tier(
                config.deployments, config.tier, self.parts.prices.llm.blended
            )
        else:
            chosen = ab_order(config.deployments, sticky_key)
        names = {d.model for d in chosen}
        return chosen + [Deployment(model=m) for m in config.fallbacks if m not in names]

    def warm_up(self) -> dict[str, str]:
        """Resolve every configured deployment now and load the weights of those that have
        any (`local`'s GGUF). A name no provider knows (a typo) raises `UnknownProvider`;
        other failures are returned by deployment (requests will fall back past them)."""
        names = [self.config.provider, *(d.model for d in self.config.deployments)]
        problems: dict[str, str] = {}
        for name in dict.fromkeys([*names, *self.config.fallbacks]):
            try:
                model = self._open(Deployment(model=name))
                load = getattr(model, "warm_up", None)
                if callable(load):
                    load()
            except UnknownProvider:
                raise
            except ProviderError as exc:
                problems[name] = f"{type(exc).__name__}: {exc}"
        return problems

    @overload
    def complete(
        self, request: ChatRequest, *, key: str | None = None, request_id: str | None = None
    ) -> Completion: ...

    @overload
    def complete(
        self,
        request: ChatRequest,
        *,
        output: type[M],
        key: str | None = None,
        request_id: str | None = None,
    ) -> M: ...

    def complete(
        self,
        request: ChatRequest,
        *,
        output: type[BaseModel] | None = None,
        key: str | None = None,
        request_id: str | None = None,
    ) -> Completion | BaseModel:
        """The answer to `request`; with `output` (a pydantic model) a validated instance of
        it (`structured` says how, and returns the completion and repairs too)."""
        if output is not None:
            value: BaseModel = self.structured(
                request, output, key=key, request_id=request_id
            ).value
            return value
        key, request_id = billing(key, request_id)
        request = with_default_cap(request, self.config.max_tokens)  # llm.max_tokens, by purpose
        with request_scope(request_id, key):  # the semantic cache's embeddings: this request's
            return self._complete(request, key, request_id)

    def structured(
        self,
        request: ChatRequest,
        output: Output,
        *,
        key: str | None = None,
        request_id: str | None = None,
    ) -> Structured[Any]:
        """A reply validated against `output` (a pydantic model or a JSON schema), repaired up
        to `llm.max_repairs` times (`ragline.llm_router.structured`); InvalidOutput if not."""
        key, request_id = billing(key, request_id)

        def call(asked: ChatRequest) -> Completion:
            return self.complete(asked, key=key, request_id=request_id)

        def repaired() -> None:
            self.stats.repairs += 1

        return complete_structured(call, request, output, self.config.max_repairs, repaired)

    def _complete(self, request: ChatRequest, key: str | None, request_id: str) -> Completion:
        self._admit(request, key)
        chain = self.deployments(key or request_id)
        cached = self._cached(chain[0].model, request, key, request_id)
        if cached is not None:
            return cached
        errors: list[ProviderError] = []
        attempts: list[str] = []
        spent = Decimal(0)
        last: Completion | None = None
        asked = self._with_logprobs(request)
        for position, deployment in enumerate(chain):
            try:
                completion = self._call(deployment, asked, key, request_id, attempts)
            except ProviderError as exc:
                errors.append(exc)
                continue
            spent += Decimal(str(completion.cost_usd))
            last = completion
            reason = self._escalation(completion, chain, position)
            if reason is None:
                break
            attempts.append(f"{deployment.model}:{reason}")
            self.stats.escalations += 1
        if last is None:
            raise first_error(errors, [d.model for d in chain])
        if errors:  # a deployment failed and a later one answered
            self.stats.fallbacks += 1
        result = dataclasses.replace(last, cost_usd=float(spent), attempts=tuple(attempts))
        self._fill_caches(chain[0].model, request, result)
        return result

    def stream(
        self, request: ChatRequest, *, key: str | None = None, request_id: str | None = None
    ) -> Iterator[StreamChunk]:
        """Stream from the first deployment that starts; falls back only before the first chunk.

        Caches and the cascade apply to `complete` only: a streamed answer is shown as it comes.
        """
        key, request_id = billing(key, request_id)
        request = with_default_cap(request, self.config.max_tokens)
        self._admit(request, key)
        chain = self.deployments(key or request_id)
        errors: list[ProviderError] = []
        for deployment in chain:
            try:
                model = self._open(deployment)
                self._check_budget(deployment.model, request, key)
            except ProviderError as exc:
                errors.append(exc)
                continue
            if not self.parts.breaker.allow(deployment.model):
                errors.append(Unavailable(f"{deployment.model}: circuit open"))
                continue
            try:
                pieces = model.stream(request)
                first = next(pieces)
            except StopIteration:
                return
            except ProviderError as exc:
                self._failed(deployment.model, exc)
                errors.append(exc)
                continue
            yield from self._finish_stream(
                deployment, first, pieces, key, request_id, request.prompt
            )
            return
        raise first_error(errors, [d.model for d in chain])

    def _finish_stream(
        self,
        deployment: Deployment,
        first: StreamChunk,
        pieces: Iterator[StreamChunk],
        key: str | None,
        request_id: str,
        prompt: str | None = None,
    ) -> Iterator[StreamChunk]:
        for chunk in itertools.chain([first], pieces):
            if chunk.usage is not None:
                self.parts.breaker.record_success(deployment.model)
                names, end = (chunk.model, deployment.model), chunk.finish_reason
                self._charge(names, chunk.usage, key, request_id, None, prompt=prompt, end=end)
            yield chunk

    def _admit(self, request: ChatRequest, key: str | None) -> None:
        self.stats.calls += 1
        if self.parts.limiter is not None:
            self.parts.limiter.acquire(key or "anonymous", _estimate_tokens(request))

    def _call(
        self,
        deployment: Deployment,
        request: ChatRequest,
        key: str | None,
        request_id: str,
        attempts: list[str],
    ) -> Completion:
        name = deployment.model
        try:
            model = self._open(deployment)
            self._check_budget(name, request, key)
        except ProviderError as exc:
            attempts.append(f"{name}:{type(exc).__name__}")
            self._count(self.stats.failures, name)
            raise
        if not self.parts.breaker.allow(name):  # closed, or this call is the half-open probe
            attempts.append(f"{name}:circuit_open")
            raise Unavailable(f"{name}: circuit open after repeated failures")
        retry = self.config.retry

        def once() -> Completion:
            if self.parts.breaker.state(name) == "open":  # a failed attempt re-opened it
                raise Unavailable(f"{name}: circuit opened during retries")
            try:
                if enforces_timeout(model, retry.timeout_s):
                    return model.complete(request)
                return call_with_timeout(lambda: model.complete(request), retry.timeout_s, name)
            except ProviderError as exc:
                self._failed(name, exc)
                raise

        try:
            completion = call_with_retry(once, retry, sleep=self.parts.sleep)
        except ProviderError as exc:
            attempts.append(f"{name}:{type(exc).__name__}")
            raise
        attempts.append(name)
        self.parts.breaker.record_success(name)
        self._count(self.stats.calls_by_model, name)
        names, end = (completion.model, name), completion.finish_reason
        usd = self._charge(
            names, completion.usage, key, request_id, None, prompt=request.prompt, end=end
        )
        return dataclasses.replace(completion, cost_usd=float(usd))

    def _open(self, deployment: Deployment) -> ChatModel:
        with self._lock:
            model = self._models.get(deployment.model)
            if model is None:
                model = self.parts.registry.resolve(deployment.model, self.config)
                self._models[deployment.model] = model
            return model

    def _check_budget(self, name: str, request: ChatRequest, key: str | None) -> None:
        tokens_in = prompt_tokens(request, self._models.get(name))  # its template, if it can
        estimate_usage = Usage(tokens_in, request.max_tokens, source="counted")
        self.parts.budgets.check(key, self._price(estimate_usage, name))

    def _price(self, usage: Usage, *names: str) -> Decimal:
        """The cost of `usage` at the first of `names` the table prices (the model as it ran,
        then the deployment asked for)."""
        for name in names:
            name = name if ":" in name else f"{name}:"  # a bare provider: its "provider:*" price
            if self.parts.prices.llm.price(name) is not None:
                return self.parts.prices.llm_cost(name, usage)
        if self.parts.prices.unpriced == "free":
            return Decimal(0)
        where = self.parts.prices.llm.source or "the price table (costs.pricing)"
        raise Unavailable(
            f"{names[-1]} has no price in {where}; add it there, or set "
            "costs.unpriced: free to run unpriced models at cost 0"
        )

    def _charge(
        self,
        names: tuple[str, ...],
        usage: Usage,
        key: str | None,
        request_id: str,
        cache: str | None,
        *,
        prompt: str | None = None,
        end: str | None = None,
    ) -> Decimal:
        """Record one model call (or cache hit, at 0): budgets and the cost sink (a request's
        total is its cost scope's, `ragline.core.costs.cost_scope`); `prompt` is the request's
        template id and `end` the call's finish_reason, recorded with the event."""
        name = names[0]
        usd = Decimal(0) if cache else self._price(usage, *names)
        if usd:
            self.parts.budgets.charge(key, usd)
        event = llm_event(
            name, usage, usd, request_id, key=key, cache=cache, prompt=prompt, finish_reason=end
        )
        self.parts.sink.record(event)
        return usd

    def _failed(self, name: str, error: ProviderError) -> None:
        """Count a failed call; only errors that say the deployment is unhealthy reach its
        breaker (a BadRequest or AuthError is an answer: it releases a half-open probe)."""
        self._count(self.stats.failures, name)
        if retryable(error) or isinstance(error, _BREAKER_FAILURES):
            self.parts.breaker.record_failure(name)
        else:
            self.parts.breaker.record_success(name)

    def _escalation(self, completion: Completion, chain: list[Deployment], at: int) -> str | None:
        if self.config.policy != "cascade" or at + 1 >= len(chain):
            return None
        if chain[at + 1].model in self.config.fallbacks:
            return None  # fallbacks are for failures, not for better answers
        cascade = self.config.cascade
        return escalation(
            completion,
            min_confidence=cascade.min_confidence,
            validate=self.parts.validate,
            abstain_phrases=cascade.abstain_phrases,
        )

    def _with_logprobs(self, request: ChatRequest) -> ChatRequest:
        """The cascade judges confidence from token log-probabilities: ask for them."""
        if self.config.policy != "cascade" or self.config.cascade.min_confidence is None:
            return request
        return dataclasses.replace(request, logprobs=True)

    def _cached(
        self, model: str, request: ChatRequest, key: str | None, request_id: str
    ) -> Completion | None:
        """A cache's answer, or None. Its `latency_ms` is this request's (the lookups, the
        semantic cache's query embedding, an audit's model call), not the stored answer's."""
        started = time.perf_counter()
        found = self._cache_hit(model, request, key, request_id)
        if found is None:
            return None
        return dataclasses.replace(found, latency_ms=(time.perf_counter() - started) * 1000)

    def _cache_hit(
        self, model: str, request: ChatRequest, key: str | None, request_id: str
    ) -> Completion | None:
        cache, semantic = self.parts.cache, self.parts.semantic
        if cache is not None and cacheable(request, self.config.cache):
            hit = cache.get(cache_key(model, request))
            if hit is not None:
                self.stats.exact_hits += 1
                self._charge(
                    (hit.model,), hit.usage, key, request_id, "exact", prompt=request.prompt
                )
                return dataclasses.replace(hit, cost_usd=0.0, cache="exact")
        if semantic is None or not semantic_cacheable(request):
            return None
        found = semantic.lookup(model, request)
        if found is None:
            return None
        completion, mark = found.completion, "semantic"
        if semantic.should_audit(found):  # the audit's call is costed as any model call
            fresh = self._call(Deployment(model=model), request, key, request_id, [])
            agreed = semantic.audit(found, fresh)
            mark = audit_mark(agreed)  # in the hit's cost event: the ledger counts audits
            self.stats.semantic_audits += 1
            if not agreed:  # a false hit: evicted; keep the right answer
                self.stats.semantic_false_hits += 1
                nothing = Usage(0, 0)
                self._charge(
                    (completion.model,), nothing, key, request_id, mark, prompt=request.prompt
                )
                semantic.store(model, request, fresh)
                return fresh
        self.stats.semantic_hits += 1
        self._charge(
            (completion.model,), completion.usage, key, request_id, mark, prompt=request.prompt
        )
        return dataclasses.replace(completion, cost_usd=0.0, cache="semantic")

    def _fill_caches(self, model: str, request: ChatRequest, completion: Completion) -> None:
        if completion.attempts and completion.attempts[0] != model:
            return  # a fallback's answer is not the asked model's answer
        if self.parts.cache is not None and cacheable(request, self.config.cache):
            self.parts.cache.put(cache_key(model, request), completion)
        if self.parts.semantic is not None and semantic_cacheable(request):
            self.parts.semantic.store(model, request, completion)

    def _count(self, table: dict[str, int], name: str) -> None:
        with self._lock:
            table[name] = table.get(name, 0) + 1

    def close(self) -> None:
        if self.parts.cache is not None:
            self.parts.cache.close()
        if self.parts.semantic is not None:
            self.parts.semantic.close()


def _estimate_tokens(request: ChatRequest) -> int:
    return prompt_tokens(request) + request.max_tokens
