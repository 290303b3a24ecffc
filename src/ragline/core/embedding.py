"""The seams for embedding models: dense `Embedder` and `SparseEncoder`.

    vectors = embedder.embed(["Paris is the capital."], kind="query")   # (1, 384) float32
    float(vectors[0] @ other[0])                                        # cosine (normalised)

Adapters: `ragline.rag.embed.SentenceTransformerEmbedder` (dense), `Bm25Encoder` (sparse);
`ragline.rag.metering.MeteredEmbedder` wraps any `Embedder` to record its cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ragline.core.types import FloatMatrix, SparseVector

EmbedKind = Literal["query", "document"]


@dataclass(frozen=True, slots=True)
class TokenWindow:
    """What an embedder reads of a text: `max_tokens` of its own tokenizer, the rest is lost.

    `count` gives a text's length in those tokens (without special tokens); it must pickle,
    since ingest worker processes chunk with it.
    """

    max_tokens: int
    count: Callable[[str], int]


@runtime_checkable
class Embedder(Protocol):
    """Dense text embeddings: one float32 row per text, L2-normalised when configured."""

    @property
    def name(self) -> str: ...

    @property
    def dims(self) -> int: ...

    def window(self) -> TokenWindow | None:
        """The model's input window, if it has one (longer text is silently truncated)."""
        ...

    def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> FloatMatrix: ...


@runtime_checkable
class SparseEncoder(Protocol):
    """Sparse term weights for lexical retrieval (the IDF part is left to the store)."""

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]: ...

    def encode_query(self, text: str) -> SparseVector: ...
