"""Who is calling and which request this is: set by the auth and request-id middleware.

    caller(request)      # the API key's name, or "anonymous" on a keyless loopback server
    tenant(request)      # what the key may see and do (`ragline.serving.api.tenancy.grants`)
    request_id(request)  # the X-Request-ID header if the client sent a sane one, else a new id

Routes read these; only the middleware (`ragline.serving.api.app`) writes them.
"""

from __future__ import annotations

from starlette.requests import Request

from ragline.serving.api.tenancy.grants import ANONYMOUS, KEYLESS, Tenant

__all__ = ["ANONYMOUS", "caller", "request_id", "set_caller", "set_request_id", "tenant"]


def caller(request: Request) -> str:
    """The name of the API key that authenticated `request` ("anonymous" without keys)."""
    return str(getattr(request.state, "caller", ANONYMOUS))


def tenant(request: Request) -> Tenant:
    """The tenant of the key that authenticated `request` (every right on a keyless server)."""
    found = getattr(request.state, "tenant", KEYLESS)
    return found if isinstance(found, Tenant) else KEYLESS


def request_id(request: Request) -> str:
    """The id of `request`, as logged and returned in the X-Request-ID header."""
    return str(getattr(request.state, "request_id", ""))


def set_caller(request: Request, who: Tenant) -> None:
    request.state.caller = who.key
    request.state.tenant = who


def set_request_id(request: Request, value: str) -> None:
    request.state.request_id = value
