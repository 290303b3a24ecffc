"""The `CostSink` contract (`ragline.core.costs`), Haystack-style: a class every sink's tests
inherit (the ledger on SQLite and PostgreSQL, `MemorySink`, a third party's).

    class TestMySink(CostSinkConformance):
        @pytest.fixture
        def sink(self) -> Iterator[SinkUnderTest]:
            mine = MySink()
            yield SinkUnderTest(mine, read=mine.read_back)

`read` returns what the sink holds, in recording order. Needs pytest.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal

import pytest

from ragline.core.costs import CostEvent, CostSink

EVENT = CostEvent(
    kind="llm",
    model="openai:gpt-4o-mini",
    tokens_in=1200,
    tokens_out=300,
    cached_in=1000,
    units=1500.0,
    usd=Decimal("0.0003"),
    request_id="req-1",
    ts=1.8e9,
    key="alice",
    route="fixed",
)


@dataclass(frozen=True, slots=True)
class SinkUnderTest:
    """A sink, and how to read back what it recorded."""

    sink: CostSink
    read: Callable[[], list[CostEvent]]


class CostSinkConformance:
    """Tests every `CostSink` passes. Subclasses provide a `sink` fixture (`SinkUnderTest`)."""

    @pytest.fixture
    def sink(self) -> SinkUnderTest:
        raise NotImplementedError("a sink's test class provides the `sink` fixture")

    def test_an_event_is_kept_as_it_was_recorded(self, sink: SinkUnderTest) -> None:
        sink.sink.record(EVENT)
        assert sink.read() == [EVENT]

    def test_every_kind_and_optional_field_round_trips(self, sink: SinkUnderTest) -> None:
        events = [
            replace(EVENT, kind="embedding", model="embedding:minilm", tokens_out=0, cached_in=0),
            replace(EVENT, kind="vector_db", model="edge:docs", units=2.0, key=None, route=None),
            replace(EVENT, kind="prediction", model="adult:3", units=20.0, usd=Decimal(0)),
            replace(EVENT, cache="semantic", usd=Decimal(0), ts=EVENT.ts + 1),
        ]
        for event in events:
            sink.sink.record(event)
        assert sink.read() == events

    def test_amounts_sum_exactly(self, sink: SinkUnderTest) -> None:
        amounts = [Decimal("0.000000001"), Decimal("0.1"), Decimal("0.2"), Decimal("1234.5")]
        for i, usd in enumerate(amounts):
            sink.sink.record(replace(EVENT, usd=usd, ts=EVENT.ts + i))
        assert sum((e.usd for e in sink.read()), Decimal(0)) == sum(amounts, Decimal(0))

    def test_concurrent_records_all_land(self, sink: SinkUnderTest) -> None:
        def work(worker: int) -> None:
            for i in range(25):
                sink.sink.record(replace(EVENT, request_id=f"w{worker}-{i}"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(work, range(8)))
        ids = sorted(e.request_id for e in sink.read())
        assert ids == sorted(f"w{w}-{i}" for w in range(8) for i in range(25))
