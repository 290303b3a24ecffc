"""Typed configuration of the rag components; `ragline.serving.settings` nests these in one tree."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

ChunkStrategy = Literal["fixed_size", "recursive", "semantic"]

DEFAULT_INCLUDE = (
    "**/*.md",
    "**/*.markdown",
    "**/*.txt",
    "**/*.rst",
    "**/*.html",
    "**/*.htm",
    "**/*.pdf",
    "**/*.jsonl",
)
DEFAULT_EXCLUDE = (
    "**/.git/**",
    "**/.ragline/**",
    "**/.venv/**",
    "**/node_modules/**",
    "**/__pycache__/**",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkingConfig(_Strict):
    """How documents are cut into chunks. Sizes are tiktoken tokens of `encoding`."""

    strategy: ChunkStrategy = "recursive"
    chunk_size: int = Field(512, gt=0, le=8192)
    chunk_overlap: int = Field(50, ge=0)
    encoding: str = "cl100k_base"
    cap_to_embedder: bool = Field(
        True,
        description="fit every chunk in what the embedder reads (no silent truncation)",
    )
    semantic_percentile: float = Field(
        90.0, gt=0, lt=100, description="semantic: cut where adjacent-sentence distance exceeds it"
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size "
                f"({self.chunk_size})"
            )
        return self


class EmbeddingConfig(_Strict):
    """The dense embedding model. `model` is a sentence-transformers name or a local path."""

    model: str = "all-MiniLM-L6-v2"
    device: str = "cpu"
    batch_size: int = Field(64, gt=0)
    normalize: bool = True
    truncate_dim: int | None = Field(None, gt=0, description="Matryoshka truncation")
    query_prefix: str = ""
    document_prefix: str = ""
    query_backend: Literal["torch", "onnx"] = Field(
        "onnx",
        description="queries through ONNX Runtime when it is installed (without importing torch "
        "once a checked export is cached); documents always through torch",
    )
    onnx_cache: Path | None = Field(
        None,
        description="where exported ONNX models are cached; "
        "null: $XDG_CACHE_HOME/ragline/onnx or ~/.cache/ragline/onnx",
    )


class SparseConfig(_Strict):
    """BM25 term weights per chunk; Qdrant's IDF modifier supplies the IDF part."""

    k1: float = Field(1.2, ge=0)
    b: float = Field(0.75, ge=0, le=1)
    avg_len: float = Field(256.0, gt=0)
    language: str = "english"
    query_term_counts: bool = Field(
        True, description="a query term said n times weighs BM25's saturated n (not 1)"
    )


class StoreConfig(_Strict):
    """Where vectors live: Qdrant Edge on disk (embedded), or a Qdrant server URL."""

    backend: str = Field(
        "edge", description="a registered store backend: edge (embedded) | server (qdrant-client)"
    )
    path: Path = Path("qdrant")
    url: str | None = Field(None, description="Qdrant server URL, or ':memory:' for tests")
    api_key: SecretStr | None = None
    collection: str = Field("ragline", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
    upsert_batch: int = Field(1024, gt=0)
    wal: bool = Field(
        False, description="edge: write-ahead log per upsert (ingest flushes before it records)"
    )

    @model_validator(mode="after")
    def _server_needs_url(self) -> StoreConfig:
        if self.backend == "server" and not self.url:
            raise ValueError("store.backend 'server' needs store.url (e.g. http://localhost:6333)")
        return self


class IngestConfig(_Strict):
    """What an ingest reads and how hard it works."""

    include: tuple[str, ...] = DEFAULT_INCLUDE
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    max_file_mb: float = Field(50.0, gt=0)
    jsonl_text_field: str = "text"
    workers: int = Field(1, ge=1, le=64)
    embed_batch: int = Field(512, gt=0, description="chunks per embedding call")
