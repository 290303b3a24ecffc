"""Settings of `ragline serve` (the `serve:` section): bind, keys, limits, timeouts, traffic.

    serve:
      host: 127.0.0.1
      api_keys:
        - {name: ops, sha256: "<ragline hash-key output>"}        # no scopes: admin, as before
        - {name: alice, sha256: "<digest>", scopes: [read, write, ingest],
           collections: [handbook], ingest_roots: [/srv/tenants/alice]}
      rate_limit: {requests_per_minute: 600}
      traffic:
        ab: {arms: [{name: small, weight: 1, llm: {provider: "vllm:small"}},
                    {name: large, weight: 1, llm: {provider: "openai:gpt-4o-mini"}}]}

Keys are stored as SHA-256 hex digests, never in clear. With no key configured the server
only binds a loopback address; a public bind without keys is refused at start-up.
A key's `scopes`, `owner`, `collections` and `ingest_roots` confine it to one tenant's data
(`ragline.serving.api.tenancy`); a key that sets no scopes has them all, admin included.
An arm or canary names settings sections to override (`llm`, `retrieval`, `answer`,
`rerank`), each a partial mapping layered over the main settings.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ragline.core.strict import Strict
from ragline.llm_router.guards.ratelimit import RateLimitConfig

OVERRIDABLE = ("llm", "retrieval", "answer", "rerank")
Scope = Literal["read", "write", "ingest", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "ingest", "admin")
_NAME = r"^[A-Za-z0-9_.@-]{1,64}$"


def key_digest(key: str) -> str:
    """The hex SHA-256 that serve.api_keys stores for `key`."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKey(Strict):
    """One client key: a name (logged, used for limits and A/B stickiness), its digest and
    what it may touch.

    ApiKey(name="alice", sha256=key_digest(key), scopes=("read", "ingest"),
           ingest_roots=(Path("/srv/tenants/alice"),))

    `scopes` left out (a key configured before tenancy) means every scope, admin included: the
    key keeps seeing everything it saw before. A key with "ingest" but not "admin" must name its
    `ingest_roots`.
    """

    name: str = Field(pattern=_NAME)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the key")
    owner: str | None = Field(
        None, pattern=_NAME, description="the tenant; keys with one owner share data (the name)"
    )
    scopes: tuple[Scope, ...] | None = Field(None, description="not set: all, admin included")
    collections: tuple[str, ...] = Field(
        (), description="other tenants' or unowned collections it may read; '*' for all"
    )
    ingest_roots: tuple[Path, ...] | None = Field(
        None, description="folders its ingest paths must resolve under (not set: the server's)"
    )

    @property
    def tenant(self) -> str:
        """The owner of what this key creates: `owner`, else the key's name."""
        return self.owner or self.name

    @model_validator(mode="after")
    def _roots_for_ingest(self) -> ApiKey:
        scopes = self.scopes or ()
        if "ingest" in scopes and "admin" not in scopes and not self.ingest_roots:
            raise ValueError(
                f"API key {self.name!r} has the ingest scope but no ingest_roots: list the "
                "folders it may ingest from (ingest_roots: [/srv/tenants/NAME]), or drop ingest"
            )
        return self


class RouteTimeouts(Strict):
    """Seconds a request may take before the server answers 504 (per route family)."""

    chat: float = Field(120.0, gt=0)
    query: float = Field(60.0, gt=0)
    search: float = Field(10.0, gt=0)
    ingest: float = Field(10.0, gt=0, description="submitting a job; the job itself runs on")
    default: float = Field(30.0, gt=0)


class Arm(Strict):
    """A pipeline variant: a name, a traffic weight and partial settings overrides."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    weight: float = Field(1.0, gt=0)
    llm: dict[str, Any] = Field(default_factory=dict)
    retrieval: dict[str, Any] = Field(default_factory=dict)
    answer: dict[str, Any] = Field(default_factory=dict)
    rerank: dict[str, Any] = Field(default_factory=dict)

    def overrides(self) -> dict[str, dict[str, Any]]:
        """The non-empty sections this arm changes."""
        sections = {"llm": self.llm, "retrieval": self.retrieval}
        sections |= {"answer": self.answer, "rerank": self.rerank}
        return {k: v for k, v in sections.items() if v}


class AbConfig(Strict):
    """An A/B split between arms, sticky per API key (or per `user` field when keyless)."""

    arms: tuple[Arm, ...] = Field(min_length=2)

    @field_validator("arms")
    @classmethod
    def _unique_names(cls, arms: tuple[Arm, ...]) -> tuple[Arm, ...]:
        names = [a.name for a in arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be unique, got {names}")
        return arms


class CanaryConfig(Strict):
    """A canary arm taking `percent` of traffic, rolled back automatically when, over the last
    `window_s`, its error rate or p95 latency exceeds `max_ratio` times the control's (once
    both sides have `min_requests`)."""

    arm: Arm
    percent: float = Field(5.0, ge=0, le=100)
    window_s: float = Field(300.0, gt=0)
    min_requests: int = Field(20, ge=1)
    max_ratio: float = Field(2.0, gt=1)
    min_error_rate: float = Field(
        0.02, ge=0, le=1, description="a canary error rate below this never rolls back"
    )


class TrafficConfig(Strict):
    """Optional A/B split and canary; with neither, every request uses the main settings."""

    ab: AbConfig | None = None
    canary: CanaryConfig | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TrafficConfig:
        if self.ab is not None and self.canary is not None:
            raise ValueError("configure serve.traffic.ab or serve.traffic.canary, not both")
        return self


class ServeConfig(Strict):
    """How `ragline serve` listens and protects itself."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    api_keys: tuple[ApiKey, ...] = ()
    rate_limit: RateLimitConfig = RateLimitConfig()
    max_body_bytes: int = Field(1_048_576, gt=0, description="larger requests get 413")
    timeouts: RouteTimeouts = RouteTimeouts()
    cors_origins: tuple[str, ...] = Field((), description="empty: CORS off")
    shutdown_grace_s: float = Field(30.0, ge=0, description="in-flight requests may finish")
    traffic: TrafficConfig = TrafficConfig()
