"""What a vendor's batch client does, as one narrow seam (`VendorBatches`), and the values it
returns.

    vendor = openai_batches(model)                     # or anthropic_batches(model)
    batch_id = vendor.submit([("r-0", vendor.body(request))])
    status = vendor.status(batch_id)                   # BatchStatus(done=False, completed=3, ...)
    replies = vendor.results(batch_id, {"r-0": request})   # {"r-0": Completion | "error text"}

A body is exactly what the provider's synchronous call sends (its own request mapping), and a
reply is parsed into a `Completion` by the provider's own response mapping, so a batched
answer equals the synchronous one. `VendorBatches` is all `BatchRunner` needs: a test can
stand in a vendor of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ragline.core.chat import ChatRequest, Completion
from ragline.core.types import JsonValue

Body = dict[str, JsonValue]
# A reply per custom id: the completion, or why the vendor could not give one.
Replies = dict[str, Completion | str]


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """One status check of a submitted batch: the vendor's state and its item counts.

    BatchStatus("batch_1", "in_progress", total=100, completed=40, failed=1, done=False)
    """

    batch_id: str
    state: str  # the vendor's own word: validating, in_progress, completed, ended, ...
    total: int
    completed: int
    failed: int
    done: bool  # no more progress will come: download the results


class VendorBatches(Protocol):
    """A vendor's batch API for one deployment ("openai:gpt-4o-mini")."""

    @property
    def name(self) -> str:
        """The deployment, "provider:model": cost events and the journal name it."""
        ...

    def body(self, request: ChatRequest) -> Body:
        """The request as the vendor's synchronous endpoint takes it (BadRequest if it can't)."""
        ...

    def submit(self, items: Sequence[tuple[str, Body]]) -> str:
        """Create one batch of (custom id, body) items; its batch id."""
        ...

    def status(self, batch_id: str) -> BatchStatus:
        """Where the batch stands now."""
        ...

    def results(self, batch_id: str, requests: Mapping[str, ChatRequest]) -> Replies:
        """The finished batch's replies by custom id; ids absent from it got no reply."""
        ...
