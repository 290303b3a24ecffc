"""Cost events and sinks: exact reconciliation with the price table, JSONL round trips, threads."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import FrozenInstanceError
from decimal import Decimal
from pathlib import Path

import pytest

from llm_router.costs import CostEvent, CostSink, FanoutSink, JsonlSink, MemorySink, llm_event
from llm_router.pricing import PriceTable
from llm_router.types import Usage

pytestmark = pytest.mark.unit

PRICING = Path(__file__).resolve().parents[2] / "configs" / "pricing.yaml"
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


def test_recorded_costs_reconcile_exactly_with_tokens_and_table(tmp_path: Path) -> None:
    table = PriceTable.load(PRICING)
    rng = random.Random(7)
    calls = []
    for _ in range(500):
        tokens_in = rng.randint(0, 200_000)
        usage = Usage(tokens_in, rng.randint(0, 8_000), rng.randint(0, tokens_in))
        calls.append((rng.choice(MODELS), usage))
    memory, jsonl = MemorySink(), JsonlSink(tmp_path / "ledger" / "costs.jsonl")
    sink = FanoutSink(memory, jsonl)
    for n, (model, usage) in enumerate(calls):
        sink.record(llm_event(model, usage, table.cost(model, usage), f"r{n}"))

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
    assert sum((e.usd for e in jsonl.read()), Decimal(0)) == expected
    assert jsonl.read() == memory.events


def test_jsonl_writes_one_line_per_event_with_usd_as_text(tmp_path: Path) -> None:
    path = tmp_path / "costs.jsonl"
    sink = JsonlSink(path)
    assert sink.read() == []
    sink.record(_event(1, "0.0000001"))
    sink.record(_event(2, "12.5"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["usd"] == "0.0000001"  # a string, never a float or "1E-7"
    assert first["request_id"] == "r1" and first["kind"] == "llm" and first["ts"] == 1.5
    assert [e.usd for e in sink.read()] == [Decimal("0.0000001"), Decimal("12.5")]
    # A second sink on the same file appends rather than truncates.
    JsonlSink(path).record(_event(3))
    assert len(JsonlSink(path).read()) == 3


def test_cost_event_from_json_refuses_unknown_kinds() -> None:
    line = _event().to_json().replace('"llm"', '"gpu"')
    with pytest.raises(ValueError, match="unknown cost event kind 'gpu'"):
        CostEvent.from_json(line)


def test_sinks_are_thread_safe(tmp_path: Path) -> None:
    memory, jsonl = MemorySink(), JsonlSink(tmp_path / "costs.jsonl")
    sink = FanoutSink(memory, jsonl)

    def work(worker: int) -> None:
        for n in range(200):
            sink.record(_event(worker * 1000 + n, "0.0001"))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(memory.events) == 1600
    assert memory.total_usd() == Decimal("0.16")
    read = jsonl.read()  # every line intact: no interleaved writes
    assert len(read) == 1600 and len({e.request_id for e in read}) == 1600


class _Broken:
    def record(self, event: CostEvent) -> None:
        raise OSError("disk full")


def test_fanout_records_to_every_sink_even_when_one_fails() -> None:
    first, last = MemorySink(), MemorySink()
    broken: CostSink = _Broken()
    sink = FanoutSink(first, broken, last)
    with pytest.raises(OSError, match="disk full"):
        sink.record(_event())
    assert len(first.events) == 1 and len(last.events) == 1
    FanoutSink().record(_event())  # no sinks: nothing to do


def test_memory_sink_total_of_nothing_is_zero() -> None:
    assert MemorySink().total_usd() == Decimal(0)
