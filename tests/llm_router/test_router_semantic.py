"""The Router with a real semantic cache (MiniLM, Qdrant Edge): paraphrases hit, audits catch
wrong hits, and near-misses reach the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.core.chat import ChatRequest, Message
from ragline.core.embedding import Embedder
from ragline.core.memory_index import MemoryIndex
from ragline.llm_router.caches.semantic import SemanticCache, SemanticCacheConfig
from tests.llm_router.test_router import ScriptModel, llm, make_router

pytestmark = pytest.mark.integration


def ask(text: str) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),), max_tokens=20)


def test_a_paraphrase_is_served_from_the_semantic_cache(tmp_path: Path, embedder: Embedder) -> None:
    small = ScriptModel("small", ["Use the reset link.", "Madrid."])
    router, sink, _ = make_router({"small": small}, llm())
    config = SemanticCacheConfig(enabled=True, path=tmp_path / "sem", audit_rate=0.0)
    router.parts.semantic = SemanticCache(embedder, MemoryIndex(), config)
    first = router.complete(ask("How do I reset my password?"))
    hit = router.complete(ask("How can I reset my password?"))
    other = router.complete(ask("What is the capital of Spain?"))
    assert first.cache is None and hit.cache == "semantic" and hit.text == first.text
    assert hit.cost_usd == 0.0 and sink.events[1].cache == "semantic"
    assert other.cache is None and other.text == "Madrid." and small.calls == 2
    stats = router.parts.semantic.stats()
    assert (stats.lookups, stats.hits) == (3, 1) and router.stats.semantic_hits == 1
    router.close()


def test_an_audited_wrong_hit_is_counted_evicted_and_replaced(
    tmp_path: Path, embedder: Embedder
) -> None:
    small = ScriptModel("small", ["Paris is the capital.", "The Eiffel Tower is 330 metres."])
    router, _, _ = make_router({"small": small}, llm())
    config = SemanticCacheConfig(enabled=True, path=tmp_path / "sem", audit_rate=1.0)
    semantic = SemanticCache(embedder, MemoryIndex(), config)
    router.parts.semantic = semantic
    router.complete(ask("What is the capital of France?"))
    audited = router.complete(ask("What's the capital of France?"))  # hit, re-asked: disagrees
    assert audited.cache is None and audited.text == "The Eiffel Tower is 330 metres."
    stats = semantic.stats()
    assert (stats.audited, stats.false_hits) == (1, 1) and small.calls == 2
    router.close()
