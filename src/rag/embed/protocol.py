"""The seams for embedding models: dense `Embedder` and `SparseEncoder`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from rag.types import FloatMatrix, SparseVector

EmbedKind = Literal["query", "document"]


@runtime_checkable
class Embedder(Protocol):
    """Dense text embeddings: one float32 row per text, L2-normalised when configured."""

    @property
    def name(self) -> str: ...

    @property
    def dims(self) -> int: ...

    @property
    def max_tokens(self) -> int | None:
        """Word-pieces the model reads per text (longer text is truncated), if it says."""
        ...

    def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> FloatMatrix: ...


@runtime_checkable
class SparseEncoder(Protocol):
    """Sparse term weights for lexical retrieval (the IDF part is left to the store)."""

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]: ...

    def encode_query(self, text: str) -> SparseVector: ...
