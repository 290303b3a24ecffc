"""Conversation stores by backend name: `conversations.backend` in the settings picks one.

    store = open_conversations(settings.conversations, settings.data_dir)

Built-in backends register exactly as any other would. Adding one is one module (the adapter,
passing `ragline.serving.conversations.testing.ConversationStoreConformance`) and one line:

    register_backend("mystore", lambda config, data_dir: MyConversations(...))

An opener receives the `conversations:` settings and `data_dir` (where embedded files live);
it must be cheap (a server backend connects on first use).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ragline.serving.conversations.config import ConversationsConfig
from ragline.serving.conversations.protocol import ConversationStore
from ragline.serving.errors import ConfigError

Opener = Callable[[ConversationsConfig, Path], ConversationStore]
SQLITE_FILE = "conversations.db"


def _url(config: ConversationsConfig) -> str | None:
    return config.url.get_secret_value() if config.url is not None else None


def _needs_url(config: ConversationsConfig, example: str) -> str:
    url = _url(config)
    if not url:
        raise ConfigError(
            f"conversations.backend {config.backend!r} needs conversations.url (e.g. {example}); "
            "set it in the YAML file or as RAGLINE_CONVERSATIONS__URL"
        )
    return url


def _sqlite(config: ConversationsConfig, data_dir: Path) -> ConversationStore:
    from ragline.serving.conversations.sqlite_store import SqliteConversations

    url = _url(config)
    path = Path(url.removeprefix("sqlite:///")) if url else data_dir / SQLITE_FILE
    return SqliteConversations(path, config.limits(), table=config.namespace)


def _redis(config: ConversationsConfig, data_dir: Path) -> ConversationStore:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from ragline.serving.conversations.redis_store import RedisConversations

    url = _needs_url(config, "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(
        url, socket_connect_timeout=1.0, socket_timeout=2.0, retry=Retry(NoBackoff(), 1)
    )
    return RedisConversations(client, config.limits(), prefix=f"{config.namespace}:")


def _postgres(config: ConversationsConfig, data_dir: Path) -> ConversationStore:
    from ragline.serving.conversations.postgres_store import PostgresConversations

    url = _needs_url(config, "postgresql://user@host:5432/db")
    return PostgresConversations(url, config.limits(), table=config.namespace)


_BACKENDS: dict[str, Opener] = {"sqlite": _sqlite, "redis": _redis, "postgres": _postgres}


def register_backend(name: str, opener: Opener) -> None:
    """Make `conversations.backend: name` open stores with `opener`."""
    if not name.isidentifier():
        raise ValueError(f"conversation backend name {name!r} must be a plain identifier")
    _BACKENDS[name] = opener


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def open_conversations(config: ConversationsConfig, data_dir: Path) -> ConversationStore:
    """The store `config.backend` names; ConfigError for an unknown backend or a missing url."""
    opener = _BACKENDS.get(config.backend)
    if opener is None:
        raise ConfigError(
            f"unknown conversations.backend {config.backend!r}; known: {', '.join(backend_names())}"
        )
    return opener(config, data_dir)
