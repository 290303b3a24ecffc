"""`ConversationStore` in Redis, for several replicas: one key per conversation, expired by
Redis itself (PX = the TTL, restarted on every write).

    store = RedisConversations(redis.Redis.from_url("redis://cache:6379/2"), Limits())

The key is the prefix, the owner's length, the owner and the id
(`ragline_conversations:5:alice:trip-42`): owners and ids may both contain ':', and the
length keeps two owners' keys apart. An append is optimistic (WATCH, read, MULTI/SET/EXEC),
retried when another writer changed the conversation in between, so no append is lost.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ragline.core.chat import Message
from ragline.core.errors import redact
from ragline.serving.conversations.history import (
    DEFAULT_LIMITS,
    Limits,
    appended,
    decode,
    encode,
)
from ragline.serving.conversations.protocol import StoreUnavailable, check_id, check_owner

if TYPE_CHECKING:
    import redis

DEFAULT_PREFIX = "ragline_conversations:"
MAX_TRIES = 50  # optimistic retries of one append under heavy contention on one conversation


class RedisConversations:
    """Conversations in Redis (shared by every replica); `prefix` namespaces the keys.

    store = RedisConversations(client, Limits(ttl_s=3600), prefix="chat:")
    """

    def __init__(
        self, client: redis.Redis, limits: Limits = DEFAULT_LIMITS, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self._client = client
        self.limits = limits
        self._prefix = prefix
        self._ttl_ms = max(1, round(limits.ttl_s * 1000))

    def key(self, conversation_id: str, owner: str) -> str:
        """The Redis key of `owner`'s conversation `conversation_id`."""
        owner, conversation_id = check_owner(owner), check_id(conversation_id)
        return f"{self._prefix}{len(owner)}:{owner}:{conversation_id}"

    def load(self, conversation_id: str, owner: str) -> tuple[Message, ...]:
        name = self.key(conversation_id, owner)
        with self._reachable():
            raw = self._client.get(name)
        return () if raw is None else decode(_text(raw), conversation_id)

    def append(
        self, conversation_id: str, owner: str, messages: Sequence[Message]
    ) -> tuple[Message, ...]:
        import redis

        name = self.key(conversation_id, owner)
        with self._reachable(), self._client.pipeline() as pipe:
            for _ in range(MAX_TRIES):
                try:
                    pipe.watch(name)  # type: ignore[no-untyped-call]
                    raw = pipe.get(name)
                    stored = () if raw is None else decode(_text(raw), conversation_id)
                    kept = appended(stored, messages, self.limits)
                    pipe.multi()
                    pipe.set(name, encode(kept), px=self._ttl_ms)
                    pipe.execute()
                    return kept
                except redis.WatchError:
                    continue
        raise StoreUnavailable(
            f"conversation {conversation_id!r} changed under {MAX_TRIES} tries in a row; "
            "too many writers on one conversation, retry later"
        )

    def delete(self, conversation_id: str, owner: str) -> bool:
        name = self.key(conversation_id, owner)
        with self._reachable():
            return int(self._client.delete(name)) > 0

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        import redis

        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(
                redact(
                    f"the conversation store (Redis) is unreachable: {exc}; check "
                    "conversations.url and that Redis is running"
                )
            ) from None


def _text(raw: object) -> str | bytes:
    if not isinstance(raw, bytes | str):
        raise TypeError(f"Redis returned {type(raw).__name__} for a conversation")
    return raw
