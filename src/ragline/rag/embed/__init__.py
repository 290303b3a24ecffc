"""Embedding adapters: dense (sentence-transformers) and sparse (BM25)."""

from ragline.core.embedding import Embedder, EmbedKind, SparseEncoder, TokenWindow

__all__ = ["EmbedKind", "Embedder", "SparseEncoder", "TokenWindow"]
