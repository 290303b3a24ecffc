"""Cost events, the sink every part records to, and the scope that sums one request's events:
exact reconciliation with the price table, JSON round trips, threads, nested and parallel
scopes."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from decimal import Decimal

import pytest

from ragline.core.chat import Usage
from ragline.core.costs import (
    CostEvent,
    CostSink,
    MemorySink,
    ScopedSink,
    billed_to,
    cost_scope,
    current_scope,
    llm_event,
    work_event,
)
from ragline.core.pricing import PriceTable
from ragline.core.testing import CostSinkConformance, SinkUnderTest
from tests.paths import REPO

pytestmark = pytest.mark.unit

PRICING = REPO / "configs" / "pricing.yaml"
MODELS = [
    "openai:gpt-4o-mini",
    "openai:gpt-4.1-nano",
    "openai:o4-mini",
    "anthropic:claude-3-5-haiku-latest",
    "anthropic:claude-opus-4-20250514",
    "local:qwen",
]


def _event(n: int = 0, usd: str = "0.001") -> CostEvent:
    return llm_event("p:m", Usage(10, 5), Decimal(usd), f"r{n}", clock=lambda: 1.5)


class TestMemorySink(CostSinkConformance):
    @pytest.fixture
    def sink(self) -> SinkUnderTest:
        memory = MemorySink()
        return SinkUnderTest(memory, read=lambda: list(memory.events))


class TestScopedSink(CostSinkConformance):
    """The sink the wiring hands every part forwards each event unchanged."""

    @pytest.fixture
    def sink(self) -> Iterator[SinkUnderTest]:
        memory = MemorySink()
        with cost_scope("req-1"):
            yield SinkUnderTest(ScopedSink(memory), read=lambda: list(memory.events))


def test_llm_event_copies_usage_and_labels() -> None:
    usage = Usage(tokens_in=1200, tokens_out=300, cached_in=1000)
    event = llm_event(
        "openai:gpt-4o-mini",
        usage,
        Decimal("0.000285"),
        "req-1",
        key="alice",
        route="cascade",
        cache="exact",
        clock=lambda: 1_790_000_000.25,
    )
    assert event == CostEvent(
        kind="llm",
        model="openai:gpt-4o-mini",
        tokens_in=1200,
        tokens_out=300,
        cached_in=1000,
        units=1500.0,
        usd=Decimal("0.000285"),
        request_id="req-1",
        ts=1_790_000_000.25,
        key="alice",
        route="cascade",
        cache="exact",
    )
    with pytest.raises(FrozenInstanceError):
        event.usd = Decimal(0)  # type: ignore[misc]


def test_recorded_costs_reconcile_exactly_with_tokens_and_table() -> None:
    table = PriceTable.load(PRICING)
    rng = random.Random(7)
    calls = []
    for _ in range(500):
        tokens_in = rng.randint(0, 200_000)
        usage = Usage(tokens_in, rng.randint(0, 8_000), rng.randint(0, tokens_in))
        calls.append((rng.choice(MODELS), usage))
    memory = MemorySink()
    with cost_scope("batch") as scope:
        sink = ScopedSink(memory)
        for model, usage in calls:
            sink.record(llm_event(model, usage, table.cost(model, usage), "batch"))

    # Recompute from the raw token counts and the table's numbers, independently of Price.cost.
    expected = Decimal(0)
    for model, usage in calls:
        price = table.price(model)
        assert price is not None
        cached = price.cached_input if price.cached_input is not None else price.input
        expected += (
            (usage.tokens_in - usage.cached_in) * price.input
            + usage.cached_in * cached
            + usage.tokens_out * price.output
        ) / 1_000_000
    assert memory.total_usd() == expected
    assert scope.total_usd() == expected  # every price is a whole number of nano-dollars
    assert scope.events == 500


def test_json_round_trip_keeps_usd_as_text() -> None:
    event = _event(1, "0.0000001")
    line = event.to_json()
    assert '"usd":"0.0000001"' in line  # a string, never a float or "1E-7"
    assert CostEvent.from_json(line) == event


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown cost kind 'gpu'"):
        CostEvent.from_json(_event().to_json().replace('"llm"', '"gpu"'))
    with pytest.raises(ValueError, match="use one of"):
        CostEvent("vector", "m", 0, 0, 0, 1, Decimal(0), "r", 0.0)  # type: ignore[arg-type]


def test_a_scope_sums_only_its_own_request() -> None:
    memory = MemorySink()
    sink = ScopedSink(memory)
    with cost_scope("mine", key="alice") as mine:
        assert current_scope() is mine and billed_to() == ("mine", "alice")
        sink.record(_event(0, "0.25"))  # request "r0": not this scope's
        sink.record(work_event("embedding", "embedding:m", 12, Decimal("0.000000012"), tokens=12))
        sink.record(work_event("vector_db", "edge:docs", 1, Decimal("0.005")))
    assert current_scope() is None and billed_to() == ("unscoped", None)
    assert mine.total_usd() == Decimal("0.005000012") and mine.events == 2
    assert [e.request_id for e in memory.events] == ["r0", "mine", "mine"]
    assert memory.events[1].key == "alice" and memory.events[1].tokens_in == 12


def test_scopes_in_parallel_threads_stay_apart() -> None:
    sink = ScopedSink(MemorySink())
    totals: dict[int, Decimal] = {}

    def work(worker: int) -> None:
        with cost_scope(f"w{worker}") as scope:
            for _ in range(100):
                sink.record(work_event("vector_db", "edge:docs", 1, Decimal("0.001") * worker))
        totals[worker] = scope.total_usd()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert totals == {w: Decimal("0.1") * w for w in range(1, 9)}


def test_an_event_recorded_from_another_thread_joins_its_request() -> None:
    """Judges run on worker threads: an event stamped with the request id still counts."""
    sink = ScopedSink(MemorySink())
    with cost_scope("req-9") as scope:
        event = llm_event("p:m", Usage(10, 5), Decimal("0.5"), "req-9")
        worker = threading.Thread(target=sink.record, args=(event,))
        worker.start()
        worker.join()
        assert billed_to()[0] == "req-9"
    assert scope.total_usd() == Decimal("0.5")


class _Broken:
    def record(self, event: CostEvent) -> None:
        raise OSError("disk full")


def test_every_sink_gets_the_event_even_when_one_fails() -> None:
    first, last = MemorySink(), MemorySink()
    broken: CostSink = _Broken()
    sink = ScopedSink(first, broken, last)
    with pytest.raises(OSError, match="disk full"):
        sink.record(_event())
    assert len(first.events) == 1 and len(last.events) == 1
    ScopedSink().record(_event())  # no sinks: nothing to do


def test_memory_sink_total_of_nothing_is_zero() -> None:
    assert MemorySink().total_usd() == Decimal(0)


def test_an_event_names_the_prompt_template_and_older_lines_still_read() -> None:
    usage = Usage(10, 5)
    event = llm_event("p:m", usage, Decimal("0.001"), "r1", prompt="grounded-answer@1")
    assert event.prompt == "grounded-answer@1"
    assert CostEvent.from_json(event.to_json()) == event
    older = json.loads(event.to_json())  # written before events carried `prompt`
    del older["prompt"]
    assert CostEvent.from_json(json.dumps(older)).prompt is None
    assert llm_event("p:m", usage, Decimal(0), "r1").prompt is None
