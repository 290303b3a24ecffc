"""What an ingest run did: counts, skipped files with reasons, time and throughput."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file the run did not ingest, and why (the reason says how to fix it)."""

    path: str
    reason: str


@dataclass(slots=True)
class IngestReport:
    """Summary of one run. `failed` is True when any file was skipped for an error."""

    files_seen: int = 0
    files_ingested: int = 0
    files_unchanged: int = 0
    files_pruned: int = 0  # stored files deleted from disk, their chunks removed
    documents: int = 0
    chunks_written: int = 0
    chunks_removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    setup_seconds: float = 0.0  # loading the embedding model, on runs that need it
    index_seconds: float = 0.0  # building the store's search index after the writes
    chunk_size: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.skipped)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_written / self.seconds if self.seconds > 0 else 0.0


class Progress(Protocol):
    """Where a run reports progress (the CLI draws a progress bar from it)."""

    def start(self, total_files: int) -> None: ...

    def file_done(self, relative: str, status: str, chunks: int) -> None: ...


class NoProgress:
    """A `Progress` that shows nothing (library use, tests)."""

    def start(self, total_files: int) -> None:
        pass

    def file_done(self, relative: str, status: str, chunks: int) -> None:
        pass
