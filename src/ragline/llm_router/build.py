"""Build a `Router` from `LlmConfig`: stores in this process or in Redis, caches, prices.

    router = build_router(LlmConfig(), data_dir=Path(".ragline"))
    router = build_router(config, prices=prices, sink=ledger)       # priced, into the ledger
    router = build_router(config, semantic=SemanticParts(embedder, index))   # semantic cache

Without `prices` the shipped configs/pricing.yaml prices every call. The semantic cache needs
an embedder and a vector index (`ragline.core.index.VectorIndex`): Qdrant Edge, a Qdrant
server, or `MemoryIndex`; `ragline.serving.wiring` builds them from the settings.

Relative cache paths in the config are placed under `data_dir`. `llm.state: redis` puts the
circuit breaker, budgets and rate limits in Redis (`llm.redis_url`) so replicas share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ragline.core.config_files import locate_config
from ragline.core.costs import CostSink, MemorySink
from ragline.core.embedding import Embedder
from ragline.core.errors import redact
from ragline.core.index import VectorIndex
from ragline.core.pricing import Prices, PriceTable
from ragline.llm_router.caches.exact import ExactCache, open_cache
from ragline.llm_router.caches.semantic import SemanticCache
from ragline.llm_router.config import LlmConfig
from ragline.llm_router.errors import Unavailable
from ragline.llm_router.guards.breaker import CircuitBreaker, MemoryBreakerStore, RedisBreakerStore
from ragline.llm_router.guards.budgets import Budgets, RedisBudgetStore
from ragline.llm_router.guards.fallback import redis_client
from ragline.llm_router.guards.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from ragline.llm_router.registry import Registry, builtin_registry
from ragline.llm_router.router import Router, RouterParts

if TYPE_CHECKING:
    import redis

DEFAULT_PRICING = Path("configs/pricing.yaml")


@dataclass(frozen=True, slots=True)
class SemanticParts:
    """What the semantic cache is built on: the embedder of questions, the index of answers."""

    embedder: Embedder
    index: VectorIndex


def build_router(
    config: LlmConfig,
    *,
    data_dir: Path = Path(".ragline"),
    registry: Registry | None = None,
    prices: Prices | None = None,
    sink: CostSink | None = None,
    semantic: SemanticParts | None = None,
) -> Router:
    """A Router with every part the config asks for (see the module docstring)."""
    client = _redis(config) if config.state == "redis" else None
    parts = RouterParts(
        registry=registry or builtin_registry(),
        prices=prices or Prices(PriceTable.load(locate_config(DEFAULT_PRICING))),
        breaker=CircuitBreaker(
            config.breaker, RedisBreakerStore(client) if client else MemoryBreakerStore()
        ),
        budgets=Budgets(config.budgets, RedisBudgetStore(client) if client else None),
        sink=sink or MemorySink(),
        cache=_exact_cache(config, data_dir),
        semantic=_semantic_cache(config, semantic),
        limiter=_limiter(config, client),
    )
    return Router(config, parts)


def _redis(config: LlmConfig) -> redis.Redis:
    import redis

    client = redis_client(config.redis_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Unavailable(
            redact(
                f"llm.state is 'redis' but {config.redis_url} does not answer ({exc}); "
                "start Redis, fix llm.redis_url, or set llm.state: memory"
            )
        ) from None
    return client


def _exact_cache(config: LlmConfig, data_dir: Path) -> ExactCache | None:
    cache = config.cache
    if not cache.enabled:
        return None
    if not cache.path.is_absolute():
        cache = cache.model_copy(update={"path": data_dir / cache.path.name})
    return open_cache(cache)


def _semantic_cache(config: LlmConfig, semantic: SemanticParts | None) -> SemanticCache | None:
    if not config.semantic_cache.enabled:
        return None
    if semantic is None:
        raise Unavailable(
            "llm.semantic_cache.enabled needs an embedding model and a vector index; build the "
            "router through ragline's settings (ragline.serving.wiring) or pass semantic="
        )
    return SemanticCache(semantic.embedder, semantic.index, config.semantic_cache)


def _limiter(config: LlmConfig, client: redis.Redis | None) -> RateLimiter | None:
    limits = config.rate_limit
    if limits.requests_per_minute is None and limits.tokens_per_minute is None:
        return None
    return RedisRateLimiter(client, limits) if client else MemoryRateLimiter(limits)
