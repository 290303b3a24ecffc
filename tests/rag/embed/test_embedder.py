"""The packaged all-MiniLM-L6-v2 through sentence-transformers against the `Embedder` contract
(queries through ONNX Runtime, documents through torch: both must agree with the contract)."""

from __future__ import annotations

import pytest

from ragline.core.embedding import Embedder
from ragline.rag.testing import EmbedderConformance


class TestSentenceTransformerEmbedder(EmbedderConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, embedder: Embedder) -> Embedder:  # type: ignore[override]
        return embedder
