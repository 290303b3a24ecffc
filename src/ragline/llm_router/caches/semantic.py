"""The semantic response cache: a question asked before in other words gets the stored answer.

    cache = SemanticCache(embedder, index, SemanticCacheConfig(enabled=True))
    hit = cache.lookup("openai:gpt-4o-mini", request)       # SemanticHit or None
    if hit is None:
        cache.store("openai:gpt-4o-mini", request, model.complete(request))
    elif cache.should_audit(hit):                             # a sample of hits is re-checked
        cache.audit(hit, model.complete(request))             # a false hit is evicted, counted

Entries live in an injected `ragline.core.index.VectorIndex` (Qdrant Edge on disk, a Qdrant
server collection shared by replicas, or `MemoryIndex`): one point per answered question, its
vector the embedding of the question, its payload the answer (JSON), an expiry and a `scope`.

What must match exactly (the `scope`, a keyword-indexed payload filter, so a hit can never
come from another model or prompt): the model, the system prompt, every message before the
last user message, max_tokens, stop, json_schema and regex.

What may differ: the last user message, which is the only text embedded. It weighs most
because it is the question; the turns before it must match exactly because a follow-up
("and its population?") means nothing without them, and the embeddings of two near-identical
conversations cannot tell France from Spain.

Cosine similarity is blind to exactly the small words that change an answer (measured with
all-MiniLM-L6-v2: "Convert 5 miles to km" / "Convert 5 km to miles" 0.987, "...with alcohol?" /
"...without alcohol?" 0.956, "weather in Paris today" / "...tomorrow" 0.962, while the
paraphrase "How do I / How can I reset my password?" scores 0.992), so no threshold separates
them. With `key_facts` on (the default) a hit must also carry the same numbers, negations,
time and comparison words, and keep the words both questions share in the same order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, TypeAdapter, ValidationError

from ragline.core.chat import ChatRequest, Completion
from ragline.core.costs import AUDITED_HIT, FALSE_HIT
from ragline.core.embedding import Embedder
from ragline.core.filters import Filter, HasId, Match, Range
from ragline.core.index import CollectionSpec, Hit, IndexKind, StorePoint, StoreQuery, VectorIndex
from ragline.core.strict import Strict
from ragline.core.types import Payload
from ragline.llm_router.caches.exact import normalise_text

log = logging.getLogger(__name__)

_COMPLETION = TypeAdapter(Completion)
_INDEXES: dict[str, IndexKind] = {"scope": "keyword", "expires": "float"}
_SCOPE_VERSION = 1
_CANDIDATES = 4  # the nearest entry may fail the key-fact check while the next one passes


class SemanticCacheConfig(Strict):
    """Settings of the semantic cache (off by default: it trades some risk for cost).

        SemanticCacheConfig(enabled=True, path=None, threshold=0.97)   # in memory, stricter

    `path` is read by the wiring that builds the index (an embedded Qdrant Edge folder; null: in
    memory); with `store.backend: server` the entries live in the server's
    `<store.collection>_semantic_cache` collection instead, shared by every replica.
    """

    enabled: bool = False
    path: Path | None = Field(
        Path(".ragline/semantic_cache"), description="Edge folder of the entries; null: in memory"
    )
    threshold: float = Field(
        0.95, gt=0, le=1, description="cosine similarity of questions to count as the same"
    )
    ttl_s: float = Field(86_400.0, gt=0, description="seconds an answer stays servable")
    audit_rate: float = Field(
        0.05, ge=0, le=1, description="share of hits the router re-checks against the model"
    )
    answer_threshold: float = Field(
        0.85, ge=0, le=1, description="an audited answer less similar than this is a false hit"
    )
    key_facts: bool = Field(
        True, description="also require equal numbers, negations, time words and word order"
    )


@dataclass
class SemanticStats:
    """Counters of one `SemanticCache`; `stats()` returns a snapshot.

    SemanticStats(lookups=10, hits=4, audited=2, false_hits=1).false_hit_rate == 0.5
    """

    lookups: int = 0
    hits: int = 0
    audited: int = 0
    false_hits: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0

    @property
    def false_hit_rate(self) -> float:
        """Share of audited hits that were wrong: the estimate of how often a hit misleads."""
        return self.false_hits / self.audited if self.audited else 0.0


@dataclass(frozen=True)
class SemanticHit:
    """A stored answer served for a similar question; `prompt` is the question it answered.

    hit.completion.cache == "semantic"; hit.similarity >= config.threshold
    """

    completion: Completion
    similarity: float
    entry_id: str
    prompt: str


# --- key facts: the words an embedding overlooks but an answer depends on ---------------------
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred thousand million billion trillion half quarter double triple once twice"
)
_NEGATIONS = "not no never without none nobody nothing neither nor cannot"
_TIME = (
    "today tomorrow yesterday tonight now ago last next previous before after earlier later "
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "june july august september october november december"
)
_COMPARISON = (
    "more less fewer most least higher lower larger smaller bigger above below over under "
    "max maximum min minimum increase decrease first"
)
_NEGATION_WORDS = frozenset(_NEGATIONS.split())
FACT_WORDS = frozenset(" ".join((_NUMBER_WORDS, _NEGATIONS, _TIME, _COMPARISON)).split())
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")


def words(text: str) -> list[str]:
    """Lower-case words and numbers; "n't" becomes "not" so "isn't" and "is not" agree."""
    text = text.lower().replace("’", "'")
    text = text.replace("can't", "can not").replace("won't", "will not").replace("n't", " not")
    return _TOKEN.findall(text)


def same_key_facts(a: str, b: str) -> bool:
    """Whether `a` and `b` hold the same facts an embedding overlooks.

    Equal multisets of numbers and FACT_WORDS, and the words both share (negations aside) in
    the same order of first occurrence, so "5 miles to km" and "5 km to miles" differ.
    """
    wa, wb = words(a), words(b)

    def facts(ws: list[str]) -> Counter[str]:
        return Counter(w for w in ws if w in FACT_WORDS or w[0].isdigit())

    if facts(wa) != facts(wb):
        return False
    # Negations are already counted; leaving them out lets "isn't it" match "is it not".
    shared = (set(wa) & set(wb)) - _NEGATION_WORDS
    return [w for w in dict.fromkeys(wa) if w in shared] == [
        w for w in dict.fromkeys(wb) if w in shared
    ]


def semantic_cacheable(request: ChatRequest) -> bool:
    """Whether a similar question's answer may stand in for this request's: not when the
    request offers tools, carries tool calls or results, or asks for JSON (a paraphrase's
    answer would call the wrong tool or miss the schema)."""
    constrained = request.json_schema is not None or request.json_object or request.regex
    tooling = request.tools or any(m.tool_calls or m.role == "tool" for m in request.messages)
    return not (constrained or tooling)


def audit_mark(agreed: bool) -> str:
    """The `CostEvent.cache` of an audited hit's event, by which the ledger counts audits
    and false hits per model and day: `AUDITED_HIT` when the model agreed (the hit was
    served), `FALSE_HIT` when it did not (`ragline.core.costs`)."""
    return AUDITED_HIT if agreed else FALSE_HIT


# --- request -> (scope, question) ----------------------------------------------------------------
def split_request(model: str, request: ChatRequest) -> tuple[str, str] | None:
    """(scope hash, last user message) of a request, or None if it has no user message."""
    last = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=None)
    if last is None:
        return None
    context = [
        [m.role, normalise_text(m.content)] for i, m in enumerate(request.messages) if i != last
    ]
    canonical = {
        "v": _SCOPE_VERSION,
        "model": model,
        "request_model": request.model,
        "context": context,  # the system prompt and the turns around the question
        "position": last,
        "max_tokens": request.max_tokens,
        "stop": sorted(set(request.stop)),
        "json_schema": request.json_schema,
        "regex": request.regex,
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest(), request.messages[last].content


def _unit(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(rows / norms, dtype=np.float32)


class SemanticCache:
    """Answers for questions similar to ones already answered, within the same scope.

    cache = SemanticCache(embedder, MemoryIndex(), SemanticCacheConfig(enabled=True))
    cache.store("local:qwen", request, completion)
    cache.lookup("local:qwen", paraphrased_request).completion.text == completion.text

    Only greedy requests (temperature 0 or None) are cached. Expired entries never hit (the
    query filters on expiry) and are deleted by the next `lookup` or `store`. Thread-safe.
    """

    def __init__(
        self,
        embedder: Embedder,
        index: VectorIndex,
        config: SemanticCacheConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.index = index
        self._embedder = embedder
        self._clock = clock
        self._lock = threading.Lock()
        self._stats = SemanticStats()
        self._audit_draws = 0
        self._ready_dims: int | None = None

    # --- public API ------------------------------------------------------------------------------
    def lookup(self, model: str, request: ChatRequest) -> SemanticHit | None:
        """The stored answer to the most similar question in scope, or None."""
        split = self._split(model, request)
        if split is None:
            return None
        scope, question = split
        with self._lock:
            self._stats.lookups += 1
        if not self.index.exists():
            return None  # nothing stored yet: skip the embedding
        vector = _unit(self._embedder.embed([question], kind="query"))[0]
        now = self._clock()
        with self._lock:
            self._ensure(len(vector))
            self._prune(now)
            for point in self._search(scope, vector, now):
                hit = self._to_hit(point, question)
                if hit is not None:
                    self._stats.hits += 1
                    return hit
        return None

    def store(self, model: str, request: ChatRequest, completion: Completion) -> None:
        """Keep `completion` as the answer to `request` (a no-op where it is not cacheable)."""
        split = self._split(model, request)
        if split is None:
            return
        scope, question = split
        vector = _unit(self._embedder.embed([question], kind="query"))[0]
        now = self._clock()
        entry_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}\n{normalise_text(question)}")
        payload: Payload = {
            "scope": scope,
            "model": model,
            "prompt": question,
            "completion": _COMPLETION.dump_json(replace(completion, cache=None)).decode(),
            "created": now,
            "expires": now + self.config.ttl_s,
        }
        point = StorePoint(str(entry_id), vector, None, payload)
        with self._lock:
            self._ensure(len(vector))
            self.index.upsert([point])
            self._prune(now)

    def should_audit(self, hit: SemanticHit) -> bool:
        """Whether to re-check `hit` against the real model: a deterministic draw at audit_rate.

        The draw hashes the entry id with a counter, so a run replays exactly and every entry
        is sampled over time (not the same lucky few).
        """
        with self._lock:
            self._audit_draws += 1
            draw = self._audit_draws
        digest = hashlib.sha256(f"{hit.entry_id}:{draw}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.config.audit_rate

    def audit(self, hit: SemanticHit, fresh: Completion) -> bool:
        """True if `fresh` (the model's own answer) agrees with the hit; else evict the entry.

        Answers agree when their texts are equal (whitespace aside) or their embeddings reach
        `answer_threshold`. The router may `store` the fresh answer afterwards.
        """
        agreed = normalise_text(hit.completion.text) == normalise_text(fresh.text)
        if not agreed:
            rows = _unit(self._embedder.embed([hit.completion.text, fresh.text]))
            agreed = float(rows[0] @ rows[1]) >= self.config.answer_threshold
        with self._lock:
            self._stats.audited += 1
            if not agreed:
                self._stats.false_hits += 1
                self.index.delete(Filter(must=(HasId(frozenset({hit.entry_id})),)))
        return agreed

    def stats(self) -> SemanticStats:
        """This process's counters; the audits also reach the cost ledger (`audit_mark`)."""
        with self._lock:
            return replace(self._stats)

    def __len__(self) -> int:
        """Entries stored, expired ones included until they are pruned."""
        with self._lock:
            return self.index.count()

    def close(self) -> None:
        with self._lock:
            self.index.close()

    # --- internals -------------------------------------------------------------------------------
    def _split(self, model: str, request: ChatRequest) -> tuple[str, str] | None:
        if not self.config.enabled or request.temperature:
            return None  # a sampled answer is one draw among many, not the answer
        split = split_request(model, request)
        return None if split is None else (split[0], normalise_text(split[1]))

    def _ensure(self, dims: int) -> None:
        """Create the collection, or check that it holds `dims`-d vectors (once per width)."""
        if self._ready_dims != dims:
            self.index.ensure_collection(CollectionSpec(dims=dims, indexes=_INDEXES))
            self._ready_dims = dims

    def _search(self, scope: str, vector: NDArray[np.float32], now: float) -> list[Hit]:
        where = Filter(must=(Match("scope", scope), Range("expires", gt=now)))
        found = self.index.query(StoreQuery(dense=vector, limit=_CANDIDATES, filter=where))
        return [hit for hit in found if hit.score >= self.config.threshold]

    def _to_hit(self, point: Hit, question: str) -> SemanticHit | None:
        payload = point.payload
        prompt = str(payload.get("prompt", ""))
        if self.config.key_facts and not same_key_facts(question, prompt):
            return None
        try:
            stored = _COMPLETION.validate_json(str(payload.get("completion", "")))
        except ValidationError as exc:
            log.warning("unreadable semantic cache entry %s dropped: %s", point.id, exc)
            self.index.delete(Filter(must=(HasId(frozenset({point.id})),)))
            return None
        completion = replace(stored, cache="semantic")
        return SemanticHit(completion, float(point.score), point.id, prompt)

    def _prune(self, now: float) -> None:
        """Delete expired entries (counting first keeps a no-op cheap on an indexed field)."""
        expired = Filter(must=(Range("expires", lte=now),))
        if self.index.count(expired):
            self.index.delete(expired)


__all__ = [
    "FACT_WORDS",
    "SemanticCache",
    "SemanticCacheConfig",
    "SemanticHit",
    "SemanticStats",
    "audit_mark",
    "same_key_facts",
    "split_request",
    "words",
]
