"""Typed configuration of the rag components; `ragline.serving.settings` nests these in one tree."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

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


# `embedding.device`: auto (CUDA when torch sees one), cpu, cuda, cuda:N, mps (Apple GPUs).
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")


def check_device(value: str) -> str:
    """`value` if it is a device setting ragline understands, else ValueError naming the fix."""
    if not DEVICE_PATTERN.match(value):
        raise ValueError(
            f"embedding.device {value!r} is not one of auto, cpu, cuda, cuda:N (N a GPU index) "
            "or mps; set embedding.device (or RAGLINE_EMBEDDING__DEVICE) to one of them"
        )
    return value


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
    device: str = Field(
        "cpu", description="auto (CUDA when torch sees one) | cpu | cuda | cuda:N | mps"
    )
    precision: Literal["auto", "fp32", "fp16"] = Field(
        "auto", description="the model's weights on the device; auto: fp16 on CUDA, else fp32"
    )
    batch_size: int = Field(64, gt=0, description="documents per forward pass on CPU")
    gpu_batch_size: int = Field(256, gt=0, description="documents per forward pass on a GPU")
    normalize: bool = True
    truncate_dim: int | None = Field(
        None,
        gt=0,
        description="keep the first N dims, re-normalised (Matryoshka models; a collection's "
        "vector size follows, so changing it needs a new collection)",
    )
    query_prefix: str = ""
    document_prefix: str = ""
    query_backend: Literal["torch", "onnx"] = Field(
        "onnx",
        description="queries through ONNX Runtime when it is installed (without importing torch "
        "once a checked export is cached)",
    )
    document_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx",
        description="onnx: documents on a CPU through the same checked ONNX export as queries "
        "(~2x torch's rate on 2 cores, cosine >= 0.9999); onnx-int8: through a dynamically "
        "quantized copy of it (int8 weights, cosine >= 0.98; docs/benchmarks.md, Cheaper "
        "vectors); torch on a GPU or where the export is unavailable",
    )
    onnx_cache: Path | None = Field(
        None,
        description="where exported ONNX models are cached; "
        "null: $XDG_CACHE_HOME/ragline/onnx or ~/.cache/ragline/onnx",
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        return check_device(value)

    @model_validator(mode="after")
    def _fp16_needs_cuda(self) -> EmbeddingConfig:
        if self.precision == "fp16" and self.device in ("cpu", "mps"):
            raise ValueError(
                f"embedding.precision fp16 needs a CUDA device (embedding.device is "
                f"{self.device!r}); set embedding.device to cuda or auto, or precision to auto"
            )
        return self


class SparseConfig(_Strict):
    """BM25 term weights per chunk; Qdrant's IDF modifier supplies the IDF part."""

    k1: float = Field(1.2, ge=0)
    b: float = Field(0.75, ge=0, le=1)
    avg_len: float = Field(256.0, gt=0)
    language: str = "english"
    query_term_counts: bool = Field(
        True, description="a query term said n times weighs BM25's saturated n (not 1)"
    )


class ServerStoreConfig(_Strict):
    """store.backend 'server': how collections are created on a Qdrant server or cluster, and
    how writes reach it. A null collection setting is not sent (the server's default applies);
    the settings take effect when a collection is created.

        ServerStoreConfig(shard_number=6, replication_factor=2, quantization="int8")
    """

    shard_number: int | None = Field(None, ge=1, description="shards per collection")
    replication_factor: int | None = Field(None, ge=1, description="copies of each shard")
    write_consistency_factor: int | None = Field(
        None, ge=1, description="replicas that must apply a write before it succeeds"
    )
    on_disk_vectors: bool | None = Field(None, description="dense vectors on disk (mmap)")
    on_disk_payload: bool | None = Field(None, description="payloads on disk")
    quantization: Literal["none", "int8"] = Field(
        "none",
        description="int8: scalar quantization of the dense vectors (the older spelling of "
        "store.quantization: int8, which applies to every backend)",
    )
    quantization_always_ram: bool | None = Field(
        None, description="int8: keep the quantized vectors in RAM (originals may be on disk)"
    )
    timeout_s: int = Field(10, ge=1, description="per-request limit, seconds")
    upsert_batch: int = Field(256, gt=0, description="points per upsert request")
    upsert_parallel: int = Field(2, ge=1, le=32, description="upsert requests in flight")
    retries: int = Field(3, ge=0, description="retries of a request that failed transiently")
    backoff_s: float = Field(0.5, ge=0, description="delay before the first retry (doubles)")
    backoff_max_s: float = Field(8.0, ge=0, description="the longest delay between retries")


QuantizationKind = Literal["none", "int8", "binary"]


class Quantization(_Strict):
    """How a collection's dense vectors are quantized, as the store adapters take it.

        Quantization(kind="binary", oversampling=3.0)   # 1 bit a dim, top 3x rescored

    `kind` is fixed when a collection is created; `rescore` and `oversampling` apply per
    query: Qdrant ranks `oversampling` x limit candidates on the quantized copies, then (with
    `rescore`) re-ranks them by the original float32 vectors, which it keeps as well.
    """

    kind: QuantizationKind = "none"
    rescore: bool = True
    oversampling: float = Field(2.0, ge=1.0, le=16.0)
    always_ram: bool | None = None


class StoreConfig(_Strict):
    """Where vectors live: Qdrant Edge on disk (embedded), or a Qdrant server URL.

    StoreConfig(quantization="binary", oversampling=3.0).vector_quantization().kind
    """

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
    quantization: QuantizationKind = Field(
        "none",
        description="none | int8 (scalar, 4x smaller) | binary (1 bit a dim, 32x smaller) "
        "copies of the dense vectors that search reads first; set when a collection is created",
    )
    rescore: bool = Field(
        True, description="quantized search: re-rank the candidates by the float32 vectors"
    )
    oversampling: float = Field(
        2.0, ge=1.0, le=16.0, description="quantized search: candidates per result to rescore"
    )
    server: ServerStoreConfig = Field(
        default_factory=ServerStoreConfig, description="server backend: collection layout, writes"
    )

    @model_validator(mode="after")
    def _server_needs_url(self) -> StoreConfig:
        if self.backend == "server" and not self.url:
            raise ValueError("store.backend 'server' needs store.url (e.g. http://localhost:6333)")
        return self

    @model_validator(mode="after")
    def _one_quantization(self) -> StoreConfig:
        older = self.server.quantization
        if older != "none" and self.quantization not in ("none", older):
            raise ValueError(
                f"store.quantization is {self.quantization!r} but store.server.quantization is "
                f"{older!r}; set only store.quantization (server.quantization is its older "
                "spelling)"
            )
        return self

    def vector_quantization(self) -> Quantization:
        """The quantization the store adapters apply: `quantization`, else (server backend)
        the older `server.quantization`."""
        kind = self.quantization
        if kind == "none" and self.backend == "server":
            kind = self.server.quantization
        return Quantization(
            kind=kind,
            rescore=self.rescore,
            oversampling=self.oversampling,
            always_ram=self.server.quantization_always_ram,
        )


class IngestConfig(_Strict):
    """What an ingest reads and how hard it works."""

    include: tuple[str, ...] = DEFAULT_INCLUDE
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    max_file_mb: float = Field(50.0, gt=0)
    jsonl_text_field: str = "text"
    workers: int = Field(1, ge=1, le=64)
    embed_batch: int = Field(512, gt=0, description="chunks per embedding call")
    lock_url: SecretStr | None = Field(
        None,
        description="redis:// or postgresql:// URL for the per-collection ingest lock that "
        "machines sharing a Qdrant server need; null: a file lock in the data dir",
    )
