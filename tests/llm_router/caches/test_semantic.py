"""The semantic cache on the real all-MiniLM-L6-v2 embedder (the `embedder` session fixture).

The module has no single `pytestmark`: the key-fact and stats cases are pure logic (unit); the
cache cases run the real model and Qdrant Edge (integration).

The similarities the false-hit tests rely on (MiniLM, measured): paraphrases "How do I / How
can I reset my password?" 0.992, "What is / What's the capital of France?" 0.994; near misses
France/Spain 0.676, "5 / 50 miles to km" 0.855 (below the 0.95 threshold), and three that
cosine cannot separate from a paraphrase: "5 miles to km / 5 km to miles" 0.987, "with /
without alcohol" 0.956, "today / tomorrow" 0.962 (the key-fact check rejects those).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from numpy.typing import NDArray

from ragline.core.chat import ChatRequest, Completion, Message, Usage
from ragline.core.index import StorePoint, StoreQuery
from ragline.core.memory_index import MemoryIndex
from ragline.llm_router.caches.semantic import (
    SemanticCache,
    SemanticCacheConfig,
    SemanticStats,
    same_key_facts,
    split_request,
)
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.errors import StoreError
from ragline.rag.store.edge import QdrantEdgeStore

MODEL = "openai:gpt-4o-mini"
SYSTEM = "Answer briefly."
START = 1_000_000.0
unit = pytest.mark.unit
integration = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def ask(question: str, system: str = SYSTEM, **options: object) -> ChatRequest:
    messages = (Message("system", system), Message("user", question))
    return ChatRequest(messages=messages, **options)  # type: ignore[arg-type]


def answer(text: str) -> Completion:
    return Completion(text, MODEL, Usage(30, 8), latency_ms=640.0, cost_usd=0.0001)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(embedder: SentenceTransformerEmbedder, clock: Clock) -> Iterator[SemanticCache]:
    config = SemanticCacheConfig(enabled=True, path=None)
    semantic = SemanticCache(embedder, MemoryIndex(), config, clock=clock)
    yield semantic
    semantic.close()


# --- what hits and what must not -----------------------------------------------------------------
@integration
@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("How do I reset my password?", "How can I reset my password?"),
        ("What is the capital of France?", "What's the capital of France?"),
        ("How do I reset my password?", "  how do i reset my password  "),
    ],
)
def test_paraphrases_hit(cache: SemanticCache, stored: str, asked: str) -> None:
    cache.store(MODEL, ask(stored), answer("The answer."))
    hit = cache.lookup(MODEL, ask(asked))
    assert hit is not None
    assert hit.completion.text == "The answer." and hit.completion.cache == "semantic"
    assert hit.completion.usage == Usage(30, 8) and hit.completion.latency_ms == 640.0
    assert hit.prompt == stored
    assert cache.config.threshold <= hit.similarity <= 1.0 + 1e-6


@integration
@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("What is the capital of France?", "What is the capital of Spain?"),
        ("Convert 5 miles to km", "Convert 50 miles to km"),
    ],
)
def test_near_misses_stay_below_the_threshold(
    cache: SemanticCache, embedder: SentenceTransformerEmbedder, stored: str, asked: str
) -> None:
    rows = embedder.embed([stored, asked], kind="query")
    assert float(rows[0] @ rows[1]) < cache.config.threshold  # the threshold alone separates
    cache.store(MODEL, ask(stored), answer("The answer."))
    assert cache.lookup(MODEL, ask(asked)) is None


BLIND_SPOTS = [
    ("Convert 5 miles to km", "Convert 5 km to miles"),
    ("Is it safe to take ibuprofen with alcohol?", "Is it safe to take ibuprofen without alcohol?"),
    ("What is the weather in Paris today?", "What is the weather in Paris tomorrow?"),
]


@integration
@pytest.mark.parametrize(("stored", "asked"), BLIND_SPOTS)
def test_key_facts_reject_what_cosine_cannot(
    embedder: SentenceTransformerEmbedder, stored: str, asked: str
) -> None:
    blind_config = SemanticCacheConfig(enabled=True, path=None, key_facts=False)
    blind = SemanticCache(embedder, MemoryIndex(), blind_config)
    guarded = SemanticCache(embedder, MemoryIndex(), SemanticCacheConfig(enabled=True, path=None))
    for semantic in (blind, guarded):
        semantic.store(MODEL, ask(stored), answer("The answer."))
    assert blind.lookup(MODEL, ask(asked)) is not None  # the false hit LiteLLM users see
    assert guarded.lookup(MODEL, ask(asked)) is None
    blind.close()
    guarded.close()


class MapEmbedder:
    """Fixed vectors per text: places entries exactly where a test needs them."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def embed(
        self, texts: Sequence[str], kind: Literal["query", "document"] = "document"
    ) -> NDArray[np.float32]:
        rows = np.array([self.vectors[t] for t in texts], dtype=np.float32)
        norms = np.linalg.norm(rows, axis=1, keepdims=True).astype(np.float32)
        return np.asarray(rows / norms, dtype=np.float32)


@integration
def test_a_rejected_nearest_entry_does_not_hide_a_good_one() -> None:
    wrong, right, asked = "Convert 5 km to miles", "Convert 5 miles to km", "Convert 5 miles to km!"
    embedder = MapEmbedder({wrong: [1, 0, 0], right: [0.97, 0.2, 0], asked: [1, 0.02, 0]})
    semantic = SemanticCache(embedder, MemoryIndex(), SemanticCacheConfig(enabled=True, path=None))
    semantic.store(MODEL, ask(wrong), answer("3.1 miles"))
    semantic.store(MODEL, ask(right), answer("8.05 km"))
    hit = semantic.lookup(MODEL, ask(asked))
    assert hit is not None and hit.completion.text == "8.05 km"
    assert hit.similarity < 0.99  # it was the second nearest
    semantic.close()


# --- scope -------------------------------------------------------------------------------------
@integration
@pytest.mark.parametrize(
    ("model", "other"),
    [
        ("openai:gpt-4o", ask("How do I reset my password?")),
        (MODEL, ask("How do I reset my password?", system="Answer in French.")),
        (MODEL, ask("How do I reset my password?", max_tokens=16)),
        (MODEL, ask("How do I reset my password?", json_schema={"type": "string"})),
        (MODEL, ask("How do I reset my password?", regex="[a-z ]+")),
        (MODEL, ask("How do I reset my password?", stop=("\n",))),
    ],
    ids=["model", "system", "max_tokens", "json_schema", "regex", "stop"],
)
def test_a_hit_never_crosses_scope(cache: SemanticCache, model: str, other: ChatRequest) -> None:
    cache.store(MODEL, ask("How do I reset my password?"), answer("Settings > Security."))
    assert cache.lookup(MODEL, ask("How can I reset my password?")) is not None
    assert cache.lookup(model, other) is None


@integration
def test_follow_ups_hit_only_in_the_same_conversation(cache: SemanticCache) -> None:
    def chat(country: str, follow_up: str) -> ChatRequest:
        return ChatRequest(
            messages=(
                Message("system", SYSTEM),
                Message("user", f"What is the capital of {country}?"),
                Message("assistant", "Paris." if country == "France" else "Madrid."),
                Message("user", follow_up),
            )
        )

    cache.store(MODEL, chat("France", "What is its population?"), answer("About 2.1 million."))
    assert cache.lookup(MODEL, chat("France", "What's its population?")) is not None
    assert cache.lookup(MODEL, chat("Spain", "What is its population?")) is None


# --- ttl, temperature, switches ---------------------------------------------------------------
@integration
def test_expired_entries_never_hit_and_are_deleted(cache: SemanticCache, clock: Clock) -> None:
    cache.store(MODEL, ask("How do I reset my password?"), answer("Settings > Security."))
    clock.now = START + cache.config.ttl_s - 1
    assert cache.lookup(MODEL, ask("How can I reset my password?")) is not None
    clock.now = START + cache.config.ttl_s
    assert cache.lookup(MODEL, ask("How can I reset my password?")) is None
    assert len(cache) == 0


@integration
def test_sampled_requests_are_neither_stored_nor_served(cache: SemanticCache) -> None:
    cache.store(MODEL, ask("How do I reset my password?", temperature=0.7), answer("Sampled."))
    assert len(cache) == 0
    cache.store(MODEL, ask("How do I reset my password?", temperature=0.0), answer("Greedy."))
    assert cache.lookup(MODEL, ask("How can I reset my password?", temperature=0.7)) is None
    hit = cache.lookup(MODEL, ask("How can I reset my password?"))
    assert hit is not None and hit.completion.text == "Greedy."
    assert cache.stats().lookups == 1  # an uncacheable request is not a lookup


@integration
def test_disabled_cache_does_nothing(embedder: SentenceTransformerEmbedder) -> None:
    off = SemanticCache(embedder, MemoryIndex(), SemanticCacheConfig(path=None))
    off.store(MODEL, ask("How do I reset my password?"), answer("x"))
    assert off.lookup(MODEL, ask("How do I reset my password?")) is None
    assert len(off) == 0 and off.stats() == SemanticStats()
    off.close()


def on_disk(folder: Path) -> QdrantEdgeStore:
    """The index the wiring builds for `semantic_cache.path` with the embedded store."""
    return QdrantEdgeStore(folder, "ragline_semantic_cache", wal=True)


@integration
def test_entries_persist_on_disk(embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    config = SemanticCacheConfig(enabled=True, path=tmp_path / "semantic")
    first = SemanticCache(embedder, on_disk(tmp_path / "semantic"), config)
    first.store(MODEL, ask("How do I reset my password?"), answer("Settings > Security."))
    first.close()
    second = SemanticCache(embedder, on_disk(tmp_path / "semantic"), config)
    hit = second.lookup(MODEL, ask("How can I reset my password?"))
    assert hit is not None and hit.completion.text == "Settings > Security."
    second.close()


class TinyEmbedder:
    """A 3-d embedder: enough to show a dimension clash with a 384-d cache on disk."""

    name = "tiny"
    dims = 3

    def window(self) -> None:
        return None

    def embed(
        self, texts: Sequence[str], kind: Literal["query", "document"] = "document"
    ) -> NDArray[np.float32]:
        return np.tile(np.array([[1.0, 0.0, 0.0]], dtype=np.float32), (len(texts), 1))


@integration
def test_another_embedder_on_an_existing_cache_fails_clearly(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    config = SemanticCacheConfig(enabled=True, path=tmp_path / "semantic")
    first = SemanticCache(embedder, on_disk(tmp_path / "semantic"), config)
    first.store(MODEL, ask("How do I reset my password?"), answer("x"))
    first.close()
    other = SemanticCache(TinyEmbedder(), on_disk(tmp_path / "semantic"), config)
    with pytest.raises(StoreError, match="384-d vectors but the embedder gives 3-d"):
        other.lookup(MODEL, ask("How do I reset my password?"))
    other.close()


@integration
def test_an_unreadable_entry_is_a_miss_and_is_dropped(
    cache: SemanticCache, embedder: SentenceTransformerEmbedder
) -> None:
    question = "How do I reset my password?"
    cache.store(MODEL, ask(question), answer("Settings > Security."))
    hit = cache.lookup(MODEL, ask(question))
    assert hit is not None
    vector = embedder.embed([question.lower()], kind="query")[0]
    [point] = cache.index.query(StoreQuery(dense=vector, limit=1))
    broken = {**point.payload, "completion": "{broken"}  # a crash mid-write, a schema change
    cache.index.upsert([StorePoint(hit.entry_id, vector, None, broken)])
    assert cache.lookup(MODEL, ask("How do I reset my password?")) is None
    assert len(cache) == 0


# --- audit and stats --------------------------------------------------------------------------
@integration
def test_audit_counts_and_evicts_a_false_hit(cache: SemanticCache) -> None:
    cache.store(MODEL, ask("What is the capital of France?"), answer("Madrid is the capital."))
    hit = cache.lookup(MODEL, ask("What's the capital of France?"))
    assert hit is not None
    assert cache.audit(hit, answer("Paris is the capital of France.")) is False
    assert cache.lookup(MODEL, ask("What's the capital of France?")) is None  # evicted
    assert cache.stats() == SemanticStats(lookups=2, hits=1, audited=1, false_hits=1)


@integration
def test_audit_accepts_the_same_answer_in_other_words(cache: SemanticCache) -> None:
    cache.store(
        MODEL,
        ask("How do I reset my password?"),
        answer("Open Settings, choose Security and click Reset password."),
    )
    hit = cache.lookup(MODEL, ask("How can I reset my password?"))
    assert hit is not None
    fresh = answer("Go to Settings > Security and click Reset password.")
    assert cache.audit(hit, fresh) is True
    assert cache.lookup(MODEL, ask("How can I reset my password?")) is not None  # kept
    stats = cache.stats()
    assert (stats.audited, stats.false_hits, stats.hits, stats.lookups) == (1, 0, 2, 2)


@integration
def test_audit_sampling_is_deterministic_at_the_configured_rate(
    embedder: SentenceTransformerEmbedder,
) -> None:
    def draws(rate: float) -> list[bool]:
        semantic = SemanticCache(
            embedder, MemoryIndex(), SemanticCacheConfig(enabled=True, path=None)
        )
        semantic.store(MODEL, ask("How do I reset my password?"), answer("x"))
        hit = semantic.lookup(MODEL, ask("How do I reset my password?"))
        assert hit is not None
        sampler = SemanticCache(
            embedder, MemoryIndex(), SemanticCacheConfig(enabled=True, path=None, audit_rate=rate)
        )
        out = [sampler.should_audit(hit) for _ in range(4000)]
        semantic.close()
        sampler.close()
        return out

    quarter = draws(0.25)
    assert quarter == draws(0.25)  # replayable
    assert 0.22 < sum(quarter) / len(quarter) < 0.28
    assert not any(draws(0.0)) and all(draws(1.0))


@unit
def test_stats_arithmetic() -> None:
    assert SemanticStats().hit_rate == 0.0 and SemanticStats().false_hit_rate == 0.0
    stats = SemanticStats(lookups=8, hits=2, audited=4, false_hits=1)
    assert stats.hit_rate == 0.25 and stats.false_hit_rate == 0.25


# --- key facts and scope, pure -------------------------------------------------------------------
@unit
@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("How do I reset my password?", "How can I reset my password?", True),
        ("What is the capital of France?", "What's the capital of France?", True),
        ("Why isn't it working?", "Why is it not working?", True),
        ("Convert 5 miles to km", "Convert 50 miles to km", False),
        ("Convert five miles to km", "Convert fifty miles to km", False),
        ("Convert 5 miles to km", "Convert 5 km to miles", False),
        ("Flights from Paris to London", "Flights from London to Paris", False),
        ("Is it safe with alcohol?", "Is it safe without alcohol?", False),
        ("Is it safe?", "Is it not safe?", False),
        ("Weather in Paris today", "Weather in Paris tomorrow", False),
        ("Which is larger, A or B?", "Which is smaller, A or B?", False),
        ("Python 3.11 release date", "Python 3.12 release date", False),
    ],
)
def test_same_key_facts(a: str, b: str, same: bool) -> None:
    assert same_key_facts(a, b) is same
    assert same_key_facts(b, a) is same


@unit
def test_split_request_embeds_the_last_user_message_and_scopes_the_rest() -> None:
    split = split_request(MODEL, ask("  How do I reset my password?"))
    assert split is not None
    scope, question = split
    assert question == "  How do I reset my password?"
    assert split_request(MODEL, ask("Something else entirely")) is not None
    assert split_request(MODEL, ask("Something else entirely"))[0] == scope  # type: ignore[index]
    assert split_request(MODEL, ask("x", system="  Answer\nbriefly. "))[0] == scope  # type: ignore[index]
    assert split_request(MODEL, ask("x", system="Answer at length."))[0] != scope  # type: ignore[index]
    assert split_request(MODEL, ChatRequest(messages=(Message("system", "only rules"),))) is None
