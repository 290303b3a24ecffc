"""Cost events: one per billable call (LLM, embedding, vector-DB operation, prediction), the
`CostSink` seam they go through, and the scope that sums one request's events.

    with cost_scope("req-1", key="alice") as scope:        # what a front door opens per request
        sink.record(llm_event(model, usage, usd, "req-1"))   # the router, with the request id
        embedder.embed([question], kind="query")            # metered: an event for req-1 too
    scope.total_usd()                                       # == the ledger's sum for req-1

`usd` is a `Decimal` from `ragline.core.pricing.Prices`, so the sum of recorded events equals
the sum recomputed from token counts, to the last digit. The ledger
(`ragline.mltrack.costs.ledger.Ledger`) is a `CostSink` and stores each event as it is; `ScopedSink`
is the one sink every part records to (wired once, in `ragline.serving.wiring`): it forwards
each event and adds it to the open scope of its request, so a response can state its cost
without reading the ledger back.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Literal, Protocol, get_args

from ragline.core.chat import Usage
from ragline.core.pricing import from_nanos, to_nanos

CostKind = Literal["llm", "embedding", "vector_db", "prediction", "training"]
# `CostEvent.cache` of a semantic hit checked by the false-hit audit (at most 16 characters:
# the ledger's `cache` column); `AUDITS` are both.
AUDITED_HIT = "semantic-audit"
FALSE_HIT = "semantic-false"
AUDITS = (AUDITED_HIT, FALSE_HIT)


@dataclass(frozen=True, slots=True)
class CostEvent:
    """What one call cost, and what it was billed for.

    `units` counts what the kind is billed by: tokens (in + out) for "llm" and "embedding",
    operations (queries + points written) for "vector_db", rows for "prediction", wall-clock
    seconds for "training" (`ragline ml train`/`tune`). `cache` is
    "exact"/"semantic" when the answer came from a cache (then `usd` is 0), `route` the routing
    policy that chose the model, `prompt` the template the request was rendered from
    ("grounded-answer@1", `ragline.core.prompts`; None for requests built without one),
    `finish_reason` how a model call ended ("stop", "length" when max_tokens cut it short,
    "tool_calls"; None for cache hits and non-LLM work): `ragline costs report --truncated`.
    A semantic hit the router re-checked against the model (the false-hit audit) is
    `AUDITED_HIT` when the model agreed and the hit was served, `FALSE_HIT`
    (no tokens, $0) when it did not and the model's answer was served instead; the audit's
    model call is an ordinary priced event besides, so the ledger counts audits per model/day.

        CostEvent("llm", "openai:gpt-4o-mini", 1200, 300, 1000, 1500.0, Decimal("0.0003"),
                  request_id="r1", ts=time.time(), key="alice")
    """

    kind: CostKind
    model: str
    tokens_in: int
    tokens_out: int
    cached_in: int
    units: float
    usd: Decimal
    request_id: str
    ts: float
    key: str | None = None
    route: str | None = None
    cache: str | None = None
    prompt: str | None = None
    finish_reason: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in get_args(CostKind):
            raise ValueError(f"unknown cost kind {self.kind!r}; use one of {get_args(CostKind)}")

    def to_json(self) -> str:
        """One JSON object; `usd` as a decimal string so no digit is lost to a float."""
        fields = asdict(self)
        fields["usd"] = format(self.usd, "f")
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> CostEvent:
        """The event `to_json` wrote."""
        fields = json.loads(line)
        fields["usd"] = Decimal(fields["usd"])
        return cls(**fields)


class CostSink(Protocol):
    """Receives every cost event; implementations must be thread-safe."""

    def record(self, event: CostEvent) -> None: ...


class MemorySink:
    """Keeps events in a list (tests, a process's own running total).

    sink = MemorySink(); sink.record(event); sink.total_usd()
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[CostEvent] = []

    def record(self, event: CostEvent) -> None:
        with self._lock:
            self.events.append(event)

    def total_usd(self) -> Decimal:
        """The exact sum of every recorded event's `usd`."""
        with self._lock:
            return sum((e.usd for e in self.events), Decimal(0))


@dataclass
class CostScope:
    """The events of one request as they are recorded through a `ScopedSink`.

    `total_usd()` sums them in whole nano-dollars, exactly as the ledger stores them, so a
    response's stated cost equals `ragline costs breakdown REQUEST_ID`'s total.
    """

    request_id: str
    key: str | None = None
    _nanos: int = 0
    _events: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, event: CostEvent) -> None:
        with self._lock:
            self._nanos += to_nanos(event.usd)
            self._events += 1

    def total_usd(self) -> Decimal:
        with self._lock:
            return from_nanos(self._nanos)

    @property
    def events(self) -> int:
        with self._lock:
            return self._events


_CURRENT: ContextVar[CostScope | None] = ContextVar("ragline_cost_scope", default=None)
_OPEN: dict[str, list[CostScope]] = {}
_OPEN_LOCK = threading.Lock()


@contextmanager
def cost_scope(request_id: str | None = None, key: str | None = None) -> Iterator[CostScope]:
    """Work inside is billed to `request_id` (a new id if None): metered embedders and stores
    stamp their events with it, and `ScopedSink` sums the events recorded for it."""
    scope = CostScope(request_id or uuid.uuid4().hex, key)
    with _OPEN_LOCK:
        _OPEN.setdefault(scope.request_id, []).append(scope)
    token = _CURRENT.set(scope)
    try:
        yield scope
    finally:
        _CURRENT.reset(token)
        with _OPEN_LOCK:
            scopes = _OPEN[scope.request_id]
            scopes.remove(scope)
            if not scopes:
                del _OPEN[scope.request_id]


def current_scope() -> CostScope | None:
    """The scope this thread (or task) works for, if a front door opened one."""
    return _CURRENT.get()


def billed_to() -> tuple[str, str | None]:
    """(request id, key) for an event of work done now: the current scope's, else "unscoped"."""
    scope = _CURRENT.get()
    return ("unscoped", None) if scope is None else (scope.request_id, scope.key)


class ScopedSink:
    """The sink every part records to: forwards each event to `sinks`, in order, and adds it to
    the open scopes of its request id.

    sink = ScopedSink(ledger, metrics)
    with cost_scope("r1") as scope: sink.record(event_for_r1)
    scope.total_usd()

    Every sink gets the event even if one fails; the first failure is raised after the others.
    """

    def __init__(self, *sinks: CostSink) -> None:
        self.sinks: tuple[CostSink, ...] = sinks

    def record(self, event: CostEvent) -> None:
        with _OPEN_LOCK:
            scopes = list(_OPEN.get(event.request_id, ()))
        for scope in scopes:
            scope.add(event)
        failure: Exception | None = None
        for sink in self.sinks:
            try:
                sink.record(event)
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the other sinks
                failure = failure or exc
        if failure is not None:
            raise failure


def llm_event(
    model: str,
    usage: Usage,
    usd: Decimal,
    request_id: str,
    *,
    key: str | None = None,
    route: str | None = None,
    cache: str | None = None,
    prompt: str | None = None,
    finish_reason: str | None = None,
    clock: Callable[[], float] = time.time,
) -> CostEvent:
    """The cost event of one chat call ("provider:model", its usage and its priced cost);
    `prompt` is the request's template id (`ChatRequest.prompt`), `finish_reason` the
    completion's ("length": cut short by max_tokens)."""
    return CostEvent(
        kind="llm",
        model=model,
        tokens_in=usage.tokens_in,
        tokens_out=usage.tokens_out,
        cached_in=usage.cached_in,
        units=float(usage.total),
        usd=usd,
        request_id=request_id,
        ts=clock(),
        key=key,
        route=route,
        cache=cache,
        prompt=prompt,
        finish_reason=finish_reason,
    )


def work_event(
    kind: CostKind,
    model: str,
    units: float,
    usd: Decimal,
    *,
    tokens: int = 0,
    clock: Callable[[], float] = time.time,
) -> CostEvent:
    """The event of non-LLM work done now (embedding tokens, vector-DB operations, predicted
    rows), billed to the current scope's request (`billed_to`).

        work_event("vector_db", "edge:docs", 2, prices.vector_cost(queries=2))
    """
    request_id, key = billed_to()
    return CostEvent(kind, model, tokens, 0, 0, units, usd, request_id, clock(), key=key)


@contextmanager
def request_scope(request_id: str, key: str | None) -> Iterator[None]:
    """Work done inside (metered embeddings of the semantic cache) is billed to `request_id`:
    the open cost scope's when it is that request's, else a scope of its own.

    with request_scope("req-1", "alice"): embedder.embed(texts)
    """
    scope = current_scope()
    if scope is not None and scope.request_id == request_id:
        yield
        return
    with cost_scope(request_id, key):
        yield


def billing(key: str | None, request_id: str | None) -> tuple[str | None, str]:
    """The key and request id a call is billed to: the ones given, else the open cost scope's
    (a front door's request), else a fresh id.

    billing(None, None)       # ("alice", "req-1") inside cost_scope("req-1", "alice")
    """
    scope = current_scope()
    if scope is not None:
        return key or scope.key, request_id or scope.request_id
    return key, request_id or uuid.uuid4().hex
