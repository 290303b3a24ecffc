"""Errors raised by `llm_router`. Every message says what to change to fix the problem.

ProviderError            root: a chat model could not produce a completion
 ├── UnknownProvider     a "provider:model" string names no registered provider (a typo)
 ├── Unavailable         the provider cannot serve at all: package not installed, model file
 │                       missing, server down, circuit open; another deployment may serve
 ├── Timeout             the provider did not answer in time; a retry may succeed
 ├── RateLimited         the provider refused for now (quota, 429); retry after `retry_after_s`
 ├── ServerError         the provider failed (5xx, broken response); a retry may succeed
 ├── BadRequest          the request itself is wrong (too long, bad parameter); do not retry
 ├── AuthError           the key is missing, wrong or not allowed; the message names the variable
 ├── BudgetExceeded      a ragline budget (per key, day or month) would be passed; not sent
 └── InvalidOutput       structured output: the reply still failed its schema after the repairs

`retryable(error)` says whether sending the same request again may succeed.
"""

from __future__ import annotations

from ragline.core.errors import RaglineError


class ProviderError(RaglineError):
    """Root of every error raised by the llm_router package."""


class UnknownProvider(ProviderError):
    """A provider name that is not registered; the message lists the known names."""


class Unavailable(ProviderError):
    """The provider cannot serve requests until its setup is fixed (the message says how)."""


class Timeout(ProviderError):
    """The provider did not answer within its time limit."""


class RateLimited(ProviderError):
    """The provider refused the request for now; `retry_after_s` is its hint, if it gave one."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServerError(ProviderError):
    """The provider answered with a server error (5xx) or a response it could not parse."""


class BadRequest(ProviderError):
    """The provider rejected the request as invalid; the same request will fail again."""


class AuthError(ProviderError):
    """No key, a wrong key, or a key without access to the model."""


class BudgetExceeded(ProviderError):
    """The call would pass a configured budget; `budget` names it (e.g. "key:alice/day")."""

    def __init__(self, message: str, budget: str) -> None:
        super().__init__(message)
        self.budget = budget


class InvalidOutput(ProviderError):
    """The model's reply did not validate against the requested schema, repairs included;
    `text` is its last reply."""

    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text


RETRYABLE: tuple[type[ProviderError], ...] = (Timeout, RateLimited, ServerError)


def retryable(error: BaseException) -> bool:
    """True for errors where the same request, sent again later, may succeed."""
    return isinstance(error, RETRYABLE)


def first_error(errors: list[ProviderError], tried: list[str]) -> ProviderError:
    """The error to raise when every deployment in `tried` failed: the first that is not a
    budget refusal, with the others and the order tried in its notes."""
    names = ", ".join(tried)
    if not errors:
        return Unavailable(f"no deployment could serve the request (tried {names})")
    first = next((e for e in errors if not isinstance(e, BudgetExceeded)), errors[0])
    for other in errors:
        if other is not first:
            first.add_note(f"also: {type(other).__name__}: {other}")
    first.add_note(f"tried in order: {names}")
    return first
