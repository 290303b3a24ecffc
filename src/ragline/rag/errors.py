"""Errors raised by `rag`. Every message says what to change to fix the problem.

RagError
 ├── IngestError      a file or record cannot be loaded or chunked; the ingest skips it
 ├── EmbeddingError   the embedding model cannot be found, loaded or run
 └── StoreError       the vector store refused an operation (bad collection, dimension clash)
      └── StoreUnreachable  the Qdrant server at store.url did not answer (names the URL)
"""

from __future__ import annotations

from ragline.core.errors import RaglineError


class RagError(RaglineError):
    """Root of every error raised by the rag package."""


class IngestError(RagError):
    """One input (file, record) could not be ingested; the message is shown in the run summary."""


class EmbeddingError(RagError):
    """The embedding model could not be loaded or run."""


class StoreError(RagError):
    """The vector store refused an operation."""


class StoreUnreachable(StoreError):
    """The Qdrant server could not be reached or did not answer in time; the message names the
    URL and what to check."""
