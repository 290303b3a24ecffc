"""Errors raised by `serving`.

ServingError
 └── ConfigError   a setting is unknown or invalid; the message names the key path and the fix
"""

from __future__ import annotations

from ragline.core.errors import RaglineError


class ServingError(RaglineError):
    """Root of every error raised by the serving package."""


class ConfigError(ServingError):
    """Settings could not be loaded; raised at start-up, before any work is done."""
