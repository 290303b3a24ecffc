"""The base of every settings model in ragline: unknown keys fail, values are frozen.

class RetryConfig(Strict):
    attempts: int = 3
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A pydantic model with `extra="forbid"` (a typo is an error) and `frozen=True`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
