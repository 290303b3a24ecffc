"""How provider errors reach clients: an HTTP status and a message safe to send.

    status, message = provider_status(exc)     # (503, "no model provider is available ...")

A message that goes to the client passes through `ragline.core.errors.redact`.

Used by the app's exception handler and by streams that fail after their first byte.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragline.core.errors import redact
from ragline.llm_router.errors import (
    AuthError,
    BadRequest,
    BudgetExceeded,
    InvalidOutput,
    ProviderError,
    RateLimited,
    ServerError,
    Timeout,
    Unavailable,
    UnknownProvider,
)

# Status and a client-safe message per provider error. Where the message is None the error's
# own message goes to the client (it is about the request); otherwise it is only logged, since
# it may name internal hosts or environment variables.
PROVIDER_STATUS: Sequence[tuple[type[ProviderError], int, str | None]] = (
    (RateLimited, 429, None),
    (BudgetExceeded, 402, None),
    (BadRequest, 400, None),
    (InvalidOutput, 502, None),
    (UnknownProvider, 404, None),
    (
        AuthError,
        502,
        "the model provider refused ragline's credentials; the operator must fix "
        "the provider key (see the server log)",
    ),
    (Unavailable, 503, "no model provider is available right now; retry later"),
    (Timeout, 503, "the model provider did not answer in time; retry later"),
    (ServerError, 503, "the model provider failed; retry later"),
)


def provider_status(exc: ProviderError) -> tuple[int, str]:
    """The HTTP status of a provider error and the message to send: the safe one of its kind,
    or the error's own with any secret an upstream body echoed masked."""
    for kind, status, safe_message in PROVIDER_STATUS:
        if isinstance(exc, kind):
            return status, safe_message or redact(str(exc))
    return 503, "the model provider failed; retry later"
