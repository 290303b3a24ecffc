"""API keys and per-key rate limits of `ragline serve`.

    auth = ApiKeyAuth(settings.serve.api_keys)
    auth.authenticate("sk-...")       # the key's name, or None; "anonymous" with no keys
    auth.identify("sk-...")           # its Tenant: what the key may see and do, or None

Clients send a key as `Authorization: Bearer <key>` (what OpenAI clients do) or `X-API-Key`.
The server stores only SHA-256 digests (`ragline hash-key`) and compares the digest of the
presented key with every configured one in constant time, without stopping at a match, so
timing tells nothing about which digest matched. `AuthMiddleware` enforces both checks on
/v1 paths before the request body is read: a client without a valid key gets 401 whatever it
sent, and a limited client gets 429 before costing any parsing. On a keyless (loopback)
server every caller is "anonymous" and shares one rate-limit allowance, with every right.
The middleware also sets the caller's `Tenant`; the routes check it (`api.tenancy`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from typing import Annotated

import anyio.to_thread
from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ragline.llm_router.errors import RateLimited
from ragline.llm_router.guards.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from ragline.serving.api.context import set_caller
from ragline.serving.api.middleware import send_error
from ragline.serving.api.tenancy.grants import KEYLESS, Tenant
from ragline.serving.serve_config import ApiKey
from ragline.serving.settings import Settings

PROTECTED_PREFIXES = ("/v1",)
RATE_LIMIT_PREFIX = "ragline:serve:rl:"
_UNAUTHORIZED = (
    "missing or invalid API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>' "
    "with a key whose digest is listed in serve.api_keys"
)


def presented_key(headers: Headers) -> str | None:
    """The key from `Authorization: Bearer <key>`, else from `X-API-Key`, else None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key", "").strip() or None


class ApiKeyAuth:
    """Matches presented keys against the configured digests.

    auth = ApiKeyAuth([ApiKey(name="alice", sha256=key_digest("s3cret-key-of-alice"))])
    auth.authenticate("s3cret-key-of-alice")   # "alice"
    auth.authenticate("guess")                 # None
    """

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self._keys = tuple((Tenant.of(k), bytes.fromhex(k.sha256)) for k in keys)

    @property
    def keyless(self) -> bool:
        """True when no key is configured: every caller is "anonymous" (loopback only)."""
        return not self._keys

    def authenticate(self, key: str | None) -> str | None:
        """The name of the key's entry; "anonymous" on a keyless server; None when refused."""
        found = self.identify(key)
        return None if found is None else found.key

    def identify(self, key: str | None) -> Tenant | None:
        """The tenant of the key's entry (its scopes, owner, roots); every right on a keyless
        server; None when refused. Two entries may share a name (a key being rotated)."""
        if self.keyless:
            return KEYLESS
        if not key:
            return None
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        found: Tenant | None = None
        for tenant, expected in self._keys:
            # Every digest is compared, whatever matched before: no early exit.
            matched = hmac.compare_digest(digest, expected)
            if matched and found is None:
                found = tenant
        return found


def build_rate_limiter(settings: Settings, prefix: str = RATE_LIMIT_PREFIX) -> RateLimiter | None:
    """serve.rate_limit per key: in this process, or in Redis when llm.state is "redis" (so
    every worker and replica shares one allowance); None when no limit is set."""
    config = settings.serve.rate_limit
    if config.requests_per_minute is None and config.tokens_per_minute is None:
        return None
    if settings.llm.state == "redis":
        from ragline.llm_router.guards.fallback import redis_client

        return RedisRateLimiter(redis_client(settings.llm.redis_url), config, prefix=prefix)
    return MemoryRateLimiter(config)


class AuthMiddleware:
    """401 without a valid key, 429 over the key's rate limit, on paths under /v1.

    app.add_middleware(AuthMiddleware, auth=ApiKeyAuth(keys), limiter=MemoryRateLimiter(cfg))

    Sets the caller (`ragline.serving.api.context.caller`) for the routes, logs and A/B stickiness.
    """

    def __init__(
        self,
        app: ASGIApp,
        auth: ApiKeyAuth,
        limiter: RateLimiter | None = None,
        protected: Sequence[str] = PROTECTED_PREFIXES,
    ) -> None:
        self.app = app
        self.auth = auth
        self.limiter = limiter
        self.protected = tuple(protected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._protects(scope["path"]):
            await self.app(scope, receive, send)
            return
        who = self.auth.identify(presented_key(Headers(scope=scope)))
        if who is None:
            challenge = {"WWW-Authenticate": "Bearer"}
            await send_error(send, scope, 401, _UNAUTHORIZED, challenge)
            return
        set_caller(Request(scope), who)
        name = who.key
        try:
            await self._acquire(name)
        except RateLimited as exc:
            wait = retry_after(exc)
            message = f"rate limit reached for key {name!r} (serve.rate_limit); retry in {wait} s"
            await send_error(send, scope, 429, message, {"Retry-After": str(wait)})
            return
        await self.app(scope, receive, send)

    def _protects(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.protected)

    async def _acquire(self, name: str) -> None:
        if self.limiter is None:
            return
        if isinstance(self.limiter, MemoryRateLimiter):
            self.limiter.acquire(name, 0)  # a lock and some arithmetic: fine on the event loop
        else:
            await anyio.to_thread.run_sync(self.limiter.acquire, name, 0)


def retry_after(exc: RateLimited) -> int:
    """Whole seconds for the Retry-After header, rounded up (at least 1)."""
    return max(1, math.ceil(exc.retry_after_s or 1.0))


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


def documented_api_key(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_api_key)],
) -> None:
    """Declares the two key schemes in the OpenAPI document. The check itself is
    `AuthMiddleware`'s, which runs before FastAPI reads (and validates) the body."""
