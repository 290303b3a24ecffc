"""Errors raised by `llm_router`. Every message says what to change to fix the problem.

ProviderError            root: a chat model could not produce a completion
 ├── UnknownProvider     a "provider:model" string names no registered provider (a typo)
 ├── Unavailable         the provider cannot serve at all: package not installed, model file
 │                       missing or unloadable; retrying will not help
 ├── Timeout             the provider did not answer in time; a retry may succeed
 └── RateLimited         the provider refused for now (quota, 429); retry after `retry_after_s`
"""

from __future__ import annotations


class ProviderError(Exception):
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
