"""The `llm.batch` settings: how offline work (`ragline eval --batch`, `ragline synthesize
--batch`) polls a submitted batch and retries its failed items.

    BatchConfig(enabled=True, poll_s=10, max_poll_s=60, max_wait_s=86400, retries=2)
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ragline.core.strict import Strict


class BatchConfig(Strict):
    """Batch submission for offline work (eval answers and judges, question synthesis).

    `poll_s` is the first wait between status checks; each wait doubles up to `max_poll_s`.
    `max_wait_s` bounds one command's polling (the batch keeps running at the vendor: rerun
    the same command to resume it). `retries` is how many times failed items are resubmitted
    as a new batch before they are reported as failed.

        BatchConfig(poll_s=5, retries=1)
    """

    enabled: bool = Field(
        False, description="eval and synthesize submit through batch APIs (also --batch)"
    )
    poll_s: float = Field(10.0, gt=0, description="first wait between status checks, seconds")
    max_poll_s: float = Field(60.0, gt=0, description="longest wait between status checks")
    max_wait_s: float = Field(
        86_400.0, gt=0, description="stop polling after this long; a rerun resumes the batch"
    )
    retries: int = Field(2, ge=0, le=10, description="resubmissions of failed items")

    @model_validator(mode="after")
    def _ordered(self) -> BatchConfig:
        if self.max_poll_s < self.poll_s:
            raise ValueError(
                f"llm.batch.max_poll_s {self.max_poll_s} is below poll_s {self.poll_s}; "
                "raise max_poll_s or lower poll_s"
            )
        return self
