"""The `ConversationStore` contract (`ragline.serving.conversations.protocol`), Haystack-style:
a class every adapter's tests inherit (SQLite, Redis, PostgreSQL, a third party's).

    class TestMyStore(ConversationStoreConformance):
        @pytest.fixture
        def backend(self, tmp_path) -> Iterator[StoreUnderTest]:
            clock = ManualClock()
            opened = []
            def open_store(limits):
                opened.append(MyConversations(tmp_path / "c", limits, clock=clock))
                return opened[-1]
            yield StoreUnderTest(open_store, age=clock.advance)
            for store in opened: store.close()

`open(limits)` returns a store over the backend's data (two calls: two replicas on the same
data); `age(seconds)` moves the backend's time on by `seconds` (an injected clock, or shorter
Redis TTLs). Needs pytest.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from ragline.core.chat import Message, ToolCall
from ragline.serving.conversations.history import Limits
from ragline.serving.conversations.protocol import ConversationStore, InvalidConversationId

ROOMY = Limits(ttl_s=3_600.0, max_messages=None, max_tokens=None)
CALL = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
EXCHANGE = (
    Message("system", "Answer briefly."),
    Message("developer", "Prefer metric units."),
    Message("user", "Weather in Oslo?", name="ann"),
    Message("assistant", "", tool_calls=(CALL,)),
    Message("tool", '{"celsius": 4}', tool_call_id="call_1"),
    Message("assistant", "4 °C in Oslo."),
)
BAD_IDS = ["", "   ", "x" * 129, "my trip", "../etc", "-lead", "trip/42", "café", "a\nb"]


@dataclass(frozen=True, slots=True)
class StoreUnderTest:
    """How the suite reaches one backend: stores over its data, and its clock."""

    open: Callable[[Limits], ConversationStore]
    age: Callable[[float], None]


class ManualClock:
    """A clock for stores that take one (`clock=`): `advance` moves it on."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def turn(i: int) -> tuple[Message, Message]:
    return Message("user", f"question {i}"), Message("assistant", f"answer {i}")


class ConversationStoreConformance:
    """Tests every `ConversationStore` adapter passes. Subclasses provide `backend`."""

    @pytest.fixture
    def backend(self) -> StoreUnderTest:
        raise NotImplementedError("an adapter's test class provides the `backend` fixture")

    @pytest.fixture
    def store(self, backend: StoreUnderTest) -> ConversationStore:
        return backend.open(ROOMY)

    def test_is_a_conversation_store(self, store: ConversationStore) -> None:
        assert isinstance(store, ConversationStore)

    def test_an_unknown_conversation_is_empty(self, store: ConversationStore) -> None:
        assert store.load("nobody-here", "alice") == ()
        assert store.delete("nobody-here", "alice") is False

    def test_every_role_and_field_round_trips(self, store: ConversationStore) -> None:
        assert store.append("c1", "alice", EXCHANGE) == EXCHANGE
        assert store.load("c1", "alice") == EXCHANGE

    def test_appends_accumulate_in_order(self, store: ConversationStore) -> None:
        store.append("c1", "alice", turn(1))
        held = store.append("c1", "alice", turn(2))
        assert held == (*turn(1), *turn(2)) == store.load("c1", "alice")

    def test_new_instructions_replace_the_stored_ones(self, store: ConversationStore) -> None:
        store.append("c1", "alice", (Message("system", "Be terse."), *turn(1)))
        store.append("c1", "alice", turn(2))
        assert store.load("c1", "alice")[0] == Message("system", "Be terse.")
        store.append("c1", "alice", (Message("system", "Be kind."), turn(3)[0]))
        held = store.load("c1", "alice")
        assert held == (Message("system", "Be kind."), *turn(1), *turn(2), turn(3)[0])

    def test_another_owner_cannot_read_extend_or_delete(self, store: ConversationStore) -> None:
        store.append("shared-name", "alice", turn(1))
        assert store.load("shared-name", "bob") == ()
        assert store.delete("shared-name", "bob") is False
        assert store.append("shared-name", "bob", turn(9)) == turn(9)  # bob's own conversation
        assert store.load("shared-name", "alice") == turn(1)
        assert store.load("shared-name", "bob") == turn(9)

    def test_owners_and_ids_with_colons_stay_apart(self, store: ConversationStore) -> None:
        store.append("b:c", "a", turn(1))
        assert store.load("c", "a:b") == ()
        store.append("c", "a:b", turn(2))
        assert store.load("b:c", "a") == turn(1)

    def test_delete_removes_the_conversation(self, store: ConversationStore) -> None:
        store.append("c1", "alice", turn(1))
        store.append("c2", "alice", turn(2))
        assert store.delete("c1", "alice") is True
        assert store.load("c1", "alice") == ()
        assert store.delete("c1", "alice") is False
        assert store.load("c2", "alice") == turn(2)

    @pytest.mark.parametrize("bad", BAD_IDS)
    def test_bad_ids_are_refused_everywhere(self, store: ConversationStore, bad: str) -> None:
        for call in (
            lambda: store.load(bad, "alice"),
            lambda: store.append(bad, "alice", turn(1)),
            lambda: store.delete(bad, "alice"),
        ):
            with pytest.raises(InvalidConversationId, match="conversation id"):
                call()

    def test_an_empty_append_is_refused_and_stores_nothing(self, store: ConversationStore) -> None:
        with pytest.raises(ValueError, match="nothing to append"):
            store.append("c1", "alice", ())
        assert store.load("c1", "alice") == ()

    def test_the_message_cap_drops_the_oldest_turns(self, backend: StoreUnderTest) -> None:
        store = backend.open(Limits(ttl_s=3_600.0, max_messages=5, max_tokens=None))
        store.append("c1", "alice", (Message("system", "Be terse."), *turn(1)))
        store.append("c1", "alice", turn(2))
        held = store.append("c1", "alice", turn(3))
        assert held == (Message("system", "Be terse."), *turn(2), *turn(3))
        assert store.load("c1", "alice") == held

    def test_the_token_cap_never_splits_a_tool_call_from_its_result(
        self, backend: StoreUnderTest
    ) -> None:
        store = backend.open(Limits(ttl_s=3_600.0, max_messages=None, max_tokens=60))
        store.append("c1", "alice", EXCHANGE)
        held = store.append("c1", "alice", (Message("user", "word " * 30),))
        assert held == (*EXCHANGE[:2], Message("user", "word " * 30))  # the tool turn went whole
        store.append("c1", "alice", (Message("user", "And Bergen?"),))
        assert store.load("c1", "alice")[-1] == Message("user", "And Bergen?")

    def test_the_ttl_restarts_on_every_write(self, backend: StoreUnderTest) -> None:
        store = backend.open(Limits(ttl_s=100.0, max_messages=None, max_tokens=None))
        store.append("c1", "alice", turn(1))
        backend.age(90)
        assert store.load("c1", "alice") == turn(1)
        store.append("c1", "alice", turn(2))
        backend.age(90)
        assert store.load("c1", "alice") == (*turn(1), *turn(2))
        backend.age(20)
        assert store.load("c1", "alice") == ()
        assert store.delete("c1", "alice") is False
        assert store.append("c1", "alice", turn(3)) == turn(3)  # a fresh start

    def test_replicas_share_conversations(self, backend: StoreUnderTest) -> None:
        one, two = backend.open(ROOMY), backend.open(ROOMY)
        one.append("c1", "alice", turn(1))
        two.append("c1", "alice", turn(2))
        assert one.load("c1", "alice") == (*turn(1), *turn(2)) == two.load("c1", "alice")
        assert two.delete("c1", "alice") is True and one.load("c1", "alice") == ()

    def test_concurrent_appends_all_land(self, backend: StoreUnderTest) -> None:
        stores = [backend.open(ROOMY), backend.open(ROOMY)]

        def work(worker: int) -> None:
            for i in range(10):
                message = Message("user", f"{worker}/{i}")
                stores[worker % 2].append("busy", "alice", (message,))

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(work, range(6)))
        held = stores[0].load("busy", "alice")
        assert sorted(m.content for m in held) == sorted(
            f"{w}/{i}" for w in range(6) for i in range(10)
        )
        for worker in range(6):  # each writer's messages in the order it wrote them
            mine = [m.content for m in held if m.content.startswith(f"{worker}/")]
            assert mine == [f"{worker}/{i}" for i in range(10)]
