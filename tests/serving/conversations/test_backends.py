"""`conversations.backend` -> an opened store: the SQLite default under data_dir, Redis and
PostgreSQL from their URLs, a registered backend, and the errors that name the setting."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from ragline.core.chat import Message
from ragline.serving.conversations import backends
from ragline.serving.conversations.backends import open_conversations, register_backend
from ragline.serving.conversations.config import ConversationsConfig
from ragline.serving.conversations.history import Limits
from ragline.serving.conversations.postgres_store import PostgresConversations
from ragline.serving.conversations.protocol import ConversationStore
from ragline.serving.conversations.redis_store import RedisConversations
from ragline.serving.conversations.sqlite_store import SqliteConversations
from ragline.serving.errors import ConfigError
from ragline.serving.settings import load_settings
from ragline.serving.wiring import build_conversations

HELLO = (Message("user", "hi"),)


@pytest.mark.unit
def test_the_default_is_a_sqlite_file_under_data_dir(tmp_path: Path) -> None:
    store = open_conversations(ConversationsConfig(), tmp_path)
    assert isinstance(store, SqliteConversations)
    assert store.path == tmp_path / "conversations.db"
    assert store.limits == Limits(ttl_s=604_800.0, max_messages=200, max_tokens=32_000)
    store.close()


@pytest.mark.unit
def test_a_sqlite_url_names_the_file(tmp_path: Path) -> None:
    config = ConversationsConfig(
        url=f"sqlite:///{tmp_path}/elsewhere.db", ttl_s=60, max_tokens=None
    )
    store = open_conversations(config, tmp_path / "unused")
    assert isinstance(store, SqliteConversations) and store.path == tmp_path / "elsewhere.db"
    assert store.limits == Limits(ttl_s=60.0, max_messages=200, max_tokens=None)
    store.close()


@pytest.mark.unit
def test_settings_and_env_reach_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RAGLINE_CONVERSATIONS__MAX_MESSAGES", "10")
    settings = load_settings()
    store = build_conversations(settings)
    assert isinstance(store, SqliteConversations) and store.limits.max_messages == 10
    store.close()


@pytest.mark.unit
@pytest.mark.parametrize("backend", ["redis", "postgres"])
def test_a_server_backend_without_url_says_how_to_set_it(backend: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RAGLINE_CONVERSATIONS__URL"):
        open_conversations(ConversationsConfig(backend=backend), tmp_path)


@pytest.mark.unit
def test_an_unknown_backend_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="known: postgres, redis, sqlite"):
        open_conversations(ConversationsConfig(backend="mongo"), tmp_path)


@pytest.mark.unit
def test_bad_settings_are_refused_and_the_url_stays_secret() -> None:
    with pytest.raises(ValidationError):
        ConversationsConfig(ttl_s=0)
    with pytest.raises(ValidationError):
        ConversationsConfig(namespace="drop table;")
    with pytest.raises(ValidationError):
        ConversationsConfig(max_messages=1)
    config = ConversationsConfig(backend="postgres", url="postgresql://chat:s3cret@db/x")
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.model_dump())


@pytest.mark.unit
def test_a_registered_backend_is_opened_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backends, "_BACKENDS", dict(backends._BACKENDS))  # registered here only
    opened: list[ConversationsConfig] = []

    def mine(config: ConversationsConfig, data_dir: Path) -> ConversationStore:
        opened.append(config)
        return SqliteConversations(data_dir / "mine.db", config.limits())

    register_backend("mine", mine)
    store = open_conversations(ConversationsConfig(backend="mine"), tmp_path)
    assert opened and store.append("c1", "alice", HELLO) == HELLO
    store.close()
    with pytest.raises(ValueError, match="plain identifier"):
        register_backend("my-store", mine)


@pytest.mark.integration
def test_redis_from_its_url(redis_url: str, tmp_path: Path) -> None:
    namespace = f"conv_test_{uuid.uuid4().hex[:12]}"
    config = ConversationsConfig(backend="redis", url=redis_url, namespace=namespace)
    store = open_conversations(config, tmp_path)
    assert isinstance(store, RedisConversations)
    assert store.append("c1", "alice", HELLO) == HELLO == store.load("c1", "alice")
    assert store.key("c1", "alice") == f"{namespace}:5:alice:c1"
    assert store.delete("c1", "alice") is True
    store.close()


@pytest.mark.integration
def test_postgres_from_its_url(tmp_path: Path) -> None:
    from urllib.parse import urlparse

    from tests.services import POSTGRES_URL, require

    parsed = urlparse(POSTGRES_URL)
    require("PostgreSQL", parsed.hostname or "127.0.0.1", parsed.port or 5432)
    namespace = f"conv_test_{uuid.uuid4().hex[:12]}"
    config = ConversationsConfig(backend="postgres", url=POSTGRES_URL, namespace=namespace)
    store = open_conversations(config, tmp_path)
    assert isinstance(store, PostgresConversations) and store.table == namespace
    assert store.append("c1", "alice", HELLO) == HELLO == store.load("c1", "alice")
    store.drop()
    store.close()
