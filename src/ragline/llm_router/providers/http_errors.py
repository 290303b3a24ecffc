"""HTTP failures -> `ragline.llm_router.errors`, shared by the providers that call a server over
HTTP.

    endpoint = Endpoint("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", timeout_s=60)
    raise status_error(endpoint, 429, "slow down", response.headers)   # -> RateLimited

The official SDKs (openai, anthropic) raise their own `APIStatusError`, `APITimeoutError` and
`APIConnectionError`; each provider catches its SDK's classes and builds ragline's error here,
so every provider maps a status the same way and names the same setting to fix:

    401, 403         AuthError     (names the key's env var)
    408              Timeout
    429              RateLimited   (retry_after_s from `retry-after-ms` or `retry-after`)
    other 4xx        BadRequest
    5xx (529 too)    ServerError
    no answer        Timeout       (`timed_out`)
    no connection    Unavailable   (`unreachable`, names the base URL)

Every message passes through `ragline.core.errors.redact` with the endpoint's key as a known
secret: an upstream body that echoes the key (or a base URL with a password) never reaches a
log or a terminal.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import ModuleType

from ragline.core.errors import redact
from ragline.llm_router.errors import (
    AuthError,
    BadRequest,
    ProviderError,
    RateLimited,
    ServerError,
    Timeout,
    Unavailable,
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a provider sends requests; error messages name these settings.

    Endpoint("vllm", "http://127.0.0.1:8000/v1", "VLLM_API_KEY", timeout_s=60.0)
    """

    provider: str  # the config section too: llm.<provider>.base_url
    base_url: str
    key_env: str
    timeout_s: float


def require_key(provider: str, key_env: str, what: str) -> str:
    """The key in env var `key_env`, or an `AuthError` that says which variable to set."""
    key = os.environ.get(key_env, "").strip()
    if not key:
        raise AuthError(
            f"{provider}: no API key; set {key_env} to your {what} API key "
            f"(or set llm.{provider}.api_key_env to the variable that holds it)"
        )
    return key


def status_error(
    endpoint: Endpoint,
    status: int,
    detail: str,
    headers: Mapping[str, str],
    now: Callable[[], float] = time.time,
) -> ProviderError:
    """The ragline error for an HTTP error answer (`headers` as httpx gives them)."""
    where = hide_secrets(endpoint, f"{endpoint.provider} at {endpoint.base_url}")
    said = hide_secrets(endpoint, f"({status}: {detail})")
    if status in (401, 403):
        return AuthError(
            f"{where} refused the key {said}; set {endpoint.key_env} to a valid key "
            "with access to this model"
        )
    if status == 429:
        return RateLimited(
            f"{where} is rate limiting {said}; retry later, or raise the account's limits",
            retry_after_s=retry_after_s(headers, now),
        )
    if status == 408:
        return Timeout(f"{where} timed out on the request {said}; a retry may succeed")
    if status == 404:
        return BadRequest(
            f"{where} does not know the model or path {said}; check the model name "
            f"and llm.{endpoint.provider}.base_url"
        )
    if 400 <= status < 500:
        return BadRequest(
            f"{where} rejected the request {said}; fix the request (prompt length, "
            "max_tokens, parameters): the same request will fail again"
        )
    if status >= 500:
        return ServerError(f"{where} failed {said}; a retry or another deployment may succeed")
    return ServerError(f"{where} sent an error the client could not read {said}")


def retry_after_s(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """The server's wait hint: `retry-after-ms`, else `retry-after` (seconds or an HTTP date)."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # a hint we cannot read is no hint
    return max(0.0, when.timestamp() - now())


def error_detail(body: object, fallback: str) -> str:
    """The server's own words from an error body (OpenAI's `{"message"}` or Anthropic's
    `{"error": {"message"}}`), else the SDK's message."""
    for candidate in (body, body.get("error") if isinstance(body, dict) else None):
        if isinstance(candidate, dict) and isinstance(candidate.get("message"), str):
            return str(candidate["message"])
    return fallback


def hide_secrets(endpoint: Endpoint, text: str) -> str:
    """`text` redacted, the key in `endpoint.key_env` included whatever its shape."""
    return redact(text, (os.environ.get(endpoint.key_env, "").strip(),))


def timed_out(endpoint: Endpoint) -> Timeout:
    return Timeout(
        hide_secrets(
            endpoint,
            f"{endpoint.provider} at {endpoint.base_url} did not answer within "
            f"{endpoint.timeout_s:g} s; retry, or raise llm.{endpoint.provider}.timeout_s",
        )
    )


def unreachable(endpoint: Endpoint, reason: BaseException) -> Unavailable:
    cause = reason.__cause__ or reason
    return Unavailable(
        hide_secrets(
            endpoint,
            f"cannot reach {endpoint.provider} at {endpoint.base_url} ({cause}); start the "
            f"server or fix llm.{endpoint.provider}.base_url",
        )
    )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return max(0.0, number) if math.isfinite(number) else None


@contextmanager
def translate_sdk_errors(
    endpoint: Endpoint, sdk: ModuleType, hint: str = "retry"
) -> Iterator[None]:
    """Re-raise an official SDK's exceptions (`openai` or `anthropic`: the same class tree)
    as `ragline.llm_router.errors`, naming what to fix; `hint` ends the unreadable-answer
    message."""
    try:
        yield
    except sdk.APITimeoutError as exc:  # a subclass of APIConnectionError: catch it first
        raise timed_out(endpoint) from exc
    except sdk.APIConnectionError as exc:
        raise unreachable(endpoint, exc) from exc
    except sdk.APIStatusError as exc:
        detail = error_detail(exc.body, exc.message)
        raise status_error(endpoint, exc.status_code, detail, exc.response.headers) from exc
    except sdk.APIError as exc:  # an answer the SDK could not read
        raise ServerError(
            hide_secrets(
                endpoint,
                f"{endpoint.provider} at {endpoint.base_url} sent an unreadable answer ({exc}); "
                f"{hint}",
            )
        ) from exc
