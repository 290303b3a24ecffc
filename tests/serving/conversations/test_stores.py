"""The shipped conformance suite on all three conversation stores: a SQLite file, this
machine's Redis and its PostgreSQL (the last two fail instead of skipping where
RAGLINE_REQUIRE_SERVICES=1); then what is particular to each adapter."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis

from ragline.core.chat import Message
from ragline.serving.conversations.history import Limits
from ragline.serving.conversations.postgres_store import PostgresConversations
from ragline.serving.conversations.protocol import (
    ConversationStore,
    ConversationUnreadable,
    StoreUnavailable,
)
from ragline.serving.conversations.redis_store import RedisConversations
from ragline.serving.conversations.sqlite_store import SqliteConversations
from ragline.serving.conversations.testing import (
    ROOMY,
    ConversationStoreConformance,
    ManualClock,
    StoreUnderTest,
    turn,
)
from tests.services import POSTGRES_URL, require


@pytest.mark.unit
class TestSqliteConversations(ConversationStoreConformance):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[StoreUnderTest]:
        clock = ManualClock()
        opened: list[ConversationStore] = []

        def open_store(limits: Limits) -> ConversationStore:
            opened.append(SqliteConversations(tmp_path / "c" / "conv.db", limits, clock=clock))
            return opened[-1]

        yield StoreUnderTest(open_store, clock.advance)
        for store in opened:
            store.close()


@pytest.mark.integration
class TestRedisConversations(ConversationStoreConformance):
    @pytest.fixture
    def backend(self, redis_client: redis.Redis, redis_prefix: str) -> StoreUnderTest:
        def open_store(limits: Limits) -> ConversationStore:
            return RedisConversations(redis_client, limits, prefix=redis_prefix)

        def age(seconds: float) -> None:  # Redis keeps time itself: shorten what is left
            for key in redis_client.scan_iter(match=f"{redis_prefix}*"):
                left = int(redis_client.pttl(key)) - round(seconds * 1000)  # type: ignore[arg-type]
                if left > 0:
                    redis_client.pexpire(key, left)
                else:
                    redis_client.delete(key)

        return StoreUnderTest(open_store, age)


@pytest.fixture
def postgres_url() -> str:
    parsed = urlparse(POSTGRES_URL)
    require("PostgreSQL", parsed.hostname or "127.0.0.1", parsed.port or 5432)
    return POSTGRES_URL


@pytest.mark.integration
class TestPostgresConversations(ConversationStoreConformance):
    @pytest.fixture
    def backend(self, postgres_url: str) -> Iterator[StoreUnderTest]:
        clock = ManualClock()
        table = f"conv_test_{uuid.uuid4().hex[:12]}"
        opened: list[PostgresConversations] = []

        def open_store(limits: Limits) -> ConversationStore:
            opened.append(PostgresConversations(postgres_url, limits, clock=clock, table=table))
            return opened[-1]

        yield StoreUnderTest(open_store, clock.advance)
        opened[0].drop()
        for store in opened:
            store.close()


# --- SQLite --------------------------------------------------------------------------------------
@pytest.mark.unit
def test_sqlite_keeps_conversations_across_a_restart_and_prunes_expired_ones(
    tmp_path: Path,
) -> None:
    clock, path = ManualClock(), tmp_path / "conv.db"
    store = SqliteConversations(path, Limits(ttl_s=60.0), clock=clock)
    store.append("old", "alice", turn(1))
    clock.advance(30)
    store.append("new", "alice", turn(2))
    store.close()
    clock.advance(45)  # "old" expired, "new" still live
    reopened = SqliteConversations(path, Limits(ttl_s=60.0), clock=clock)
    assert reopened.load("new", "alice") == turn(2)
    reopened.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT owner, id FROM ragline_conversations").fetchall()
    assert rows == [("alice", "new")]  # the expired row was deleted on open


@pytest.mark.unit
def test_sqlite_says_which_file_it_cannot_open(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match=r"conversations\.url"):
        SqliteConversations(blocker / "conv.db")


@pytest.mark.unit
def test_an_unreadable_row_says_how_to_recover(tmp_path: Path) -> None:
    store = SqliteConversations(tmp_path / "conv.db")
    store.append("c1", "alice", turn(1))
    with sqlite3.connect(tmp_path / "conv.db") as db:
        db.execute('UPDATE ragline_conversations SET messages = \'[{"role": "robot"}]\'')
    with pytest.raises(ConversationUnreadable, match="DELETE /v1/conversations/c1"):
        store.load("c1", "alice")
    assert store.delete("c1", "alice") is True
    assert store.append("c1", "alice", turn(2)) == turn(2)
    store.close()


# --- Redis ---------------------------------------------------------------------------------------
@pytest.mark.integration
def test_redis_expires_keys_itself(redis_client: redis.Redis, redis_prefix: str) -> None:
    store = RedisConversations(redis_client, Limits(ttl_s=120.0), prefix=redis_prefix)
    store.append("c1", "alice", turn(1))
    key = store.key("c1", "alice")
    assert key == f"{redis_prefix}5:alice:c1"
    assert 119_000 < int(redis_client.pttl(key)) <= 120_000  # type: ignore[arg-type]


@pytest.mark.integration
def test_an_unreachable_redis_names_the_setting() -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = RedisConversations(client, ROOMY)
    for call in (
        lambda: store.load("c1", "alice"),
        lambda: store.append("c1", "alice", turn(1)),
        lambda: store.delete("c1", "alice"),
    ):
        with pytest.raises(StoreUnavailable, match=r"conversations\.url"):
            call()
    store.close()


# --- PostgreSQL ----------------------------------------------------------------------------------
@pytest.mark.integration
def test_an_unreachable_postgres_names_the_setting_and_hides_the_password() -> None:
    store = PostgresConversations("postgresql://chat:s3cret@127.0.0.1:1/none", ROOMY)
    with pytest.raises(StoreUnavailable, match=r"conversations\.url") as caught:
        store.append("c1", "alice", (Message("user", "hi"),))
    assert "s3cret" not in str(caught.value) and "chat:***@" in str(caught.value)
    store.close()


@pytest.mark.integration
def test_postgres_reconnects_after_its_connection_breaks(postgres_url: str) -> None:
    store = PostgresConversations(postgres_url, ROOMY, table=f"conv_test_{uuid.uuid4().hex[:12]}")
    store.append("c1", "alice", turn(1))
    conn = store._conn
    assert conn is not None
    conn.close()  # what a database restart does to an idle connection
    assert store.load("c1", "alice") == turn(1)
    store.drop()
    store.close()
