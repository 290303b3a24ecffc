"""The `conversations:` section of the settings: where server-side conversations live, how
long they stay, how large they may grow, and the history budget of a prompt.

    ConversationsConfig()                                   # SQLite <data_dir>/conversations.db
    ConversationsConfig(backend="redis", url="redis://cache:6379/2", ttl_s=3600)
    RAGLINE_CONVERSATIONS__URL=postgresql://chat:s3cret@db/ragline   # secrets from the env

`url` is a `SecretStr`: it may carry a password, so it is never printed, logged or dumped.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from ragline.core.strict import Strict
from ragline.serving.conversations.history import Limits

DAY_S = 86_400.0


class ConversationsConfig(Strict):
    """Settings of the conversation store (`ragline.serving.conversations`).

    ConversationsConfig(backend="postgres", url="postgresql://chat@db/ragline").limits()
    """

    backend: str = Field(
        "sqlite",
        pattern=r"^[a-z_][a-z0-9_]*$",
        description="sqlite | redis | postgres, or a backend registered in "
        "ragline.serving.conversations.backends",
    )
    url: SecretStr | None = Field(
        None,
        description="sqlite: a file path (null: <data_dir>/conversations.db); redis: "
        "redis://host:6379/0; postgres: postgresql://user@host/db",
    )
    namespace: str = Field(
        "ragline_conversations",
        pattern=r"^[a-z_][a-z0-9_]{0,47}$",
        description="the SQL table, or the Redis key prefix",
    )
    ttl_s: float = Field(
        7 * DAY_S, gt=0, description="a conversation expires this long after its last write"
    )
    max_messages: int | None = Field(
        200, ge=2, description="messages kept per conversation (oldest turns dropped); null: no cap"
    )
    max_tokens: int | None = Field(
        32_000,
        ge=1,
        description="tokens kept per conversation (oldest turns dropped); null: no cap",
    )
    history_tokens: int = Field(
        3_000,
        ge=1,
        description="token budget of the history sent to a model (trim_history); keep it under "
        "the model's context minus the answer's max_tokens",
    )

    def limits(self) -> Limits:
        """The TTL and size caps a store applies on every write."""
        return Limits(self.ttl_s, self.max_messages, self.max_tokens)
