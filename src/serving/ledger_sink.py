"""The router's `CostSink` into mltrack's cost ledger, and cost events for non-LLM work.

    sink = LedgerSink.open(settings.data_dir)                 # sqlite:///<data_dir>/ledger.db
    router = build_router(config, sink=FanoutSink(JsonlSink(path), sink))
    sink.record(embedding_event("st:all-MiniLM-L6-v2", 0.8, Decimal("0.60"), "r1", tokens=512))
    sink.record(vector_event("qdrant:docs", 1, Decimal(0), "r1"))
    sink.close()                                              # flushes the ledger's buffer

llm_router and mltrack may not import each other, so this adapter (serving may import both)
turns a `CostEvent` into a `LedgerEntry`: kind "vector" becomes component "vector_db". The
router has no hook that closes its sink, so the sink closes its ledger (flushing what is
buffered) when it is closed, garbage-collected, or the interpreter exits.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from llm_router.costs import CostEvent, CostKind
from mltrack.config import LedgerConfig
from mltrack.ledger import Component, Ledger, LedgerEntry
from mltrack.ledger_report import NANO

_COMPONENTS: dict[CostKind, Component] = {
    "llm": "llm",
    "embedding": "embedding",
    "vector": "vector_db",
    "prediction": "prediction",
}
_HOUR_S = Decimal(3600)


def to_entry(event: CostEvent) -> LedgerEntry:
    """The ledger row of one cost event (same amounts; `cached_in` and `cache` are not kept)."""
    return LedgerEntry(
        component=_COMPONENTS[event.kind],
        model=event.model,
        tokens_in=event.tokens_in,
        tokens_out=event.tokens_out,
        units=event.units,
        usd=event.usd,
        request_id=event.request_id,
        ts=event.ts,
        key=event.key,
        route=event.route,
    )


class LedgerSink:
    """A thread-safe `CostSink` writing every event to a `Ledger` (batched).

    sink = LedgerSink(Ledger(LedgerConfig(batch_size=100), data_dir)); sink.record(event)
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        # Not a method of self: the finalizer must not keep the sink alive.
        self._close = weakref.finalize(self, ledger.close)

    @classmethod
    def open(cls, data_dir: Path, config: LedgerConfig | None = None) -> LedgerSink:
        """A sink over the ledger `config` names (default: SQLite under `data_dir`)."""
        return cls(Ledger(config or LedgerConfig(), data_dir))

    def record(self, event: CostEvent) -> None:
        self.ledger.record(to_entry(event))

    def flush(self) -> int:
        """Write what is buffered now; returns how many entries."""
        return self.ledger.flush()

    def close(self) -> None:
        """Flush and release the ledger (once; later calls do nothing)."""
        self._close()


def embedding_cost(seconds: float, usd_per_hour: Decimal) -> Decimal:
    """Compute time priced per hour, to the nano-dollar (rounded half-even).

    embedding_cost(1.8, Decimal("0.60")) == Decimal("0.000300000")
    """
    if seconds < 0 or usd_per_hour < 0:
        raise ValueError("seconds and usd_per_hour must be >= 0 (a duration and a price)")
    exact = Decimal(str(seconds)) * usd_per_hour / _HOUR_S
    return exact.quantize(NANO, rounding=ROUND_HALF_EVEN)


def embedding_event(
    model: str,
    seconds: float,
    usd_per_hour: Decimal,
    request_id: str,
    *,
    tokens: int = 0,
    key: str | None = None,
    clock: Callable[[], float] = time.time,
) -> CostEvent:
    """The cost event of embedding `tokens` tokens in `seconds` of compute at `usd_per_hour`."""
    usd = embedding_cost(seconds, usd_per_hour)
    return CostEvent("embedding", model, tokens, 0, 0, tokens, usd, request_id, clock(), key=key)


def vector_event(
    store: str,
    operations: int,
    usd: Decimal,
    request_id: str,
    *,
    key: str | None = None,
    clock: Callable[[], float] = time.time,
) -> CostEvent:
    """The cost event of `operations` vector-DB operations (queries, upserts) costing `usd`."""
    return CostEvent("vector", store, 0, 0, 0, operations, usd, request_id, clock(), key=key)


def prediction_event(
    model: str,
    rows: int,
    usd: Decimal,
    request_id: str,
    *,
    key: str | None = None,
    clock: Callable[[], float] = time.time,
) -> CostEvent:
    """The cost event of predicting `rows` rows with a classical model, costing `usd`."""
    return CostEvent("prediction", model, 0, 0, 0, rows, usd, request_id, clock(), key=key)
