"""Cost events: one per billable call (LLM, embedding, vector operation, prediction), and sinks.

    sink = FanoutSink(MemorySink(), JsonlSink(Path(".ragline/costs.jsonl")))
    usd = table.cost(completion.model, completion.usage)
    sink.record(llm_event(completion.model, completion.usage, usd, request_id, key="alice"))

`usd` is a `Decimal` computed from the price table, so the sum of recorded events equals the
sum recomputed from token counts, to the last digit. `CostSink` is the seam where mltrack's
cost ledger plugs in; llm_router only knows the protocol.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal, Protocol, get_args

from llm_router.types import Usage

CostKind = Literal["llm", "embedding", "vector", "prediction"]


@dataclass(frozen=True, slots=True)
class CostEvent:
    """What one call cost, and what it was billed for.

    `units` counts what the kind is billed by: tokens (in + out) for "llm" and "embedding",
    operations for "vector", rows for "prediction". `cache` is "exact"/"semantic" when the
    answer came from a cache (then `usd` is 0), `route` the routing policy that chose the model.

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

    def to_json(self) -> str:
        """One JSON object; `usd` as a decimal string so no digit is lost to a float."""
        fields = asdict(self)
        fields["usd"] = format(self.usd, "f")
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> CostEvent:
        """The event `to_json` wrote (the ledger reads JSONL files back with this)."""
        fields = json.loads(line)
        if fields.get("kind") not in get_args(CostKind):
            raise ValueError(f"unknown cost event kind {fields.get('kind')!r} in {line!r}")
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


class JsonlSink:
    """Appends one JSON line per event to `path` (created with its folders if missing).

    sink = JsonlSink(Path(".ragline/costs.jsonl")); sink.record(event); sink.read()
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, event: CostEvent) -> None:
        line = event.to_json() + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Open per event: nothing is buffered in memory, so a crash loses no recorded cost.
            with self.path.open("a", encoding="utf-8") as file:
                file.write(line)

    def read(self) -> list[CostEvent]:
        """Every event in the file, in the order recorded (empty if the file does not exist)."""
        with self._lock:
            if not self.path.exists():
                return []
            lines = self.path.read_text(encoding="utf-8").splitlines()
        return [CostEvent.from_json(line) for line in lines if line.strip()]


class FanoutSink:
    """Records each event to several sinks, in order.

    FanoutSink(MemorySink(), JsonlSink(path)).record(event)
    """

    def __init__(self, *sinks: CostSink) -> None:
        self.sinks: tuple[CostSink, ...] = sinks

    def record(self, event: CostEvent) -> None:
        # Every sink gets the event even if one fails; the first failure is raised after.
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
    clock: Callable[[], float] = time.time,
) -> CostEvent:
    """The cost event of one chat call ("provider:model", its usage and its priced cost)."""
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
    )
