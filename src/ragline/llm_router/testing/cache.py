"""The `ExactCache` contract (`ragline.llm_router.caches.exact`): what the router relies on.

class TestMyCache(ExactCacheConformance):
    @pytest.fixture
    def cache(self, tmp_path) -> Iterator[ExactCache]:
        yield MyCache(tmp_path / "cache", ttl_s=3600)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from ragline.core.chat import ChatRequest, Completion, Message, Usage
from ragline.llm_router.caches.exact import ExactCache, cache_key

MODEL = "openai:gpt-4o-mini"


def _request(max_tokens: int = 512) -> ChatRequest:
    messages = (Message("system", "Answer briefly."), Message("user", "Capital of France?"))
    return ChatRequest(messages=messages, max_tokens=max_tokens)


def _completion(text: str = "Paris.") -> Completion:
    usage = Usage(21, 3, cached_in=5)
    return Completion(text, MODEL, usage, latency_ms=812.5, cost_usd=0.00042, attempts=("a",))


class ExactCacheConformance:
    """Tests every `ExactCache` adapter passes. Subclasses provide a `cache` fixture (fresh,
    with a TTL of at least a minute)."""

    @pytest.fixture
    def cache(self) -> ExactCache:
        raise NotImplementedError("an adapter's test class provides the `cache` fixture")

    def test_is_an_exact_cache(self, cache: ExactCache) -> None:
        assert isinstance(cache, ExactCache)

    def test_miss_then_hit_keeps_the_original_completion(self, cache: ExactCache) -> None:
        key = cache_key(MODEL, _request())
        assert cache.get(key) is None
        stored = _completion()
        cache.put(key, stored)
        hit = cache.get(key)
        assert hit is not None
        assert hit.cache == "exact"
        assert replace(hit, cache=None) == stored  # text, usage, latency, cost, attempts kept
        assert cache.get(cache_key(MODEL, _request(max_tokens=64))) is None

    def test_put_replaces_an_entry(self, cache: ExactCache) -> None:
        cache.put("k", _completion("old"))
        cache.put("k", _completion("new"))
        hit = cache.get("k")
        assert hit is not None and hit.text == "new"

    def test_concurrent_puts_from_threads_all_land(self, cache: ExactCache) -> None:
        def work(worker: int) -> None:
            for i in range(40):
                cache.put(f"w{worker}-{i}", _completion(f"{worker}/{i}"))
                cache.put("shared", _completion(f"{worker}/{i}"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(work, range(8)))
        for worker in range(8):
            for i in range(40):
                hit = cache.get(f"w{worker}-{i}")
                assert hit is not None and hit.text == f"{worker}/{i}"
        shared = cache.get("shared")
        assert shared is not None and shared.text.endswith("/39")
