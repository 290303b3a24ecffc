"""Build a `Router` from `LlmConfig`: stores in this process or in Redis, caches, prices.

    router = build_router(LlmConfig(), data_dir=Path(".ragline"))
    router = build_router(config, embedder=embedder, sink=ledger)  # semantic cache, cost ledger

Relative cache paths in the config are placed under `data_dir`. `llm.state: redis` puts the
circuit breaker, budgets and rate limits in Redis (`llm.redis_url`) so replicas share them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from llm_router.breaker import CircuitBreaker, MemoryBreakerStore, RedisBreakerStore
from llm_router.budgets import Budgets, RedisBudgetStore
from llm_router.cache import ExactCache, open_cache
from llm_router.config import LlmConfig
from llm_router.costs import CostSink, MemorySink
from llm_router.errors import Unavailable
from llm_router.pricing import PriceTable
from llm_router.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from llm_router.registry import Registry, builtin_registry
from llm_router.router import Router, RouterParts
from llm_router.semantic_cache import SemanticCache, TextEmbedder

if TYPE_CHECKING:
    import redis

# The repository's configs/ when running from a checkout (editable install).
_REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def build_router(
    config: LlmConfig,
    *,
    data_dir: Path = Path(".ragline"),
    registry: Registry | None = None,
    sink: CostSink | None = None,
    embedder: TextEmbedder | None = None,
) -> Router:
    """A Router with every part the config asks for (see the module docstring)."""
    client = _redis(config) if config.state == "redis" else None
    parts = RouterParts(
        registry=registry or builtin_registry(),
        prices=PriceTable.load(pricing_path(config.pricing)),
        breaker=CircuitBreaker(
            config.breaker, RedisBreakerStore(client) if client else MemoryBreakerStore()
        ),
        budgets=Budgets(config.budgets, RedisBudgetStore(client) if client else None),
        sink=sink or MemorySink(),
        cache=_exact_cache(config, data_dir),
        semantic=_semantic_cache(config, data_dir, embedder),
        limiter=_limiter(config, client),
    )
    return Router(config, parts)


def pricing_path(path: Path) -> Path:
    """`path` if it exists; a relative path not found here is looked up in ragline's configs/."""
    if path.exists() or path.is_absolute():
        return path
    packaged = _REPO_CONFIGS / path.name
    return packaged if packaged.exists() else path


def _redis(config: LlmConfig) -> redis.Redis:
    import redis

    client = redis.Redis.from_url(config.redis_url, socket_timeout=2.0)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Unavailable(
            f"llm.state is 'redis' but {config.redis_url} does not answer ({exc}); start Redis, "
            "fix llm.redis_url, or set llm.state: memory"
        ) from None
    return client


def _exact_cache(config: LlmConfig, data_dir: Path) -> ExactCache | None:
    cache = config.cache
    if not cache.enabled:
        return None
    if not cache.path.is_absolute():
        cache = cache.model_copy(update={"path": data_dir / cache.path.name})
    return open_cache(cache)


def _semantic_cache(
    config: LlmConfig, data_dir: Path, embedder: TextEmbedder | None
) -> SemanticCache | None:
    semantic = config.semantic_cache
    if not semantic.enabled:
        return None
    if embedder is None:
        raise Unavailable(
            "llm.semantic_cache.enabled needs an embedding model; build the router through "
            "ragline's settings (serving wiring) or pass embedder="
        )
    if semantic.path is not None and not semantic.path.is_absolute():
        semantic = semantic.model_copy(update={"path": data_dir / semantic.path.name})
    return SemanticCache(embedder, semantic)


def _limiter(config: LlmConfig, client: redis.Redis | None) -> RateLimiter | None:
    limits = config.rate_limit
    if limits.requests_per_minute is None and limits.tokens_per_minute is None:
        return None
    return RedisRateLimiter(client, limits) if client else MemoryRateLimiter(limits)
