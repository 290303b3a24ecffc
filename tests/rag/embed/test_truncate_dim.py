"""`embedding.truncate_dim`: the first N dims, re-normalised; the collection's size follows it,
and a collection of another width is refused with an error that names the fixes.

All tests share the session's loaded MiniLM (tests/conftest.py `embedder`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.rag.config import EmbeddingConfig
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.errors import EmbeddingError, StoreError
from tests.rag.ingest_helpers import ingest_once, write_corpus

pytestmark = pytest.mark.integration

TEXTS = [
    "Rivers carry water from mountains to the sea.",
    "Bread needs flour, water, salt and yeast.",
    "how do planets move?",
]


def sharing(embedder: SentenceTransformerEmbedder, **config: Any) -> SentenceTransformerEmbedder:
    """A new embedder over the session's loaded model and ONNX export: no second load."""
    fresh = SentenceTransformerEmbedder(
        EmbeddingConfig(onnx_cache=embedder.config.onnx_cache, **config)
    )
    fresh._model = embedder.model
    return fresh


@pytest.mark.parametrize("kind", ["document", "query"])
@pytest.mark.parametrize("width", [256, 128])
def test_truncated_rows_are_the_renormalised_prefix(
    embedder: SentenceTransformerEmbedder, width: int, kind: str
) -> None:
    full = embedder.embed(TEXTS, kind=kind)  # type: ignore[arg-type]
    truncated = sharing(embedder, truncate_dim=width)
    rows = truncated.embed(TEXTS, kind=kind)  # type: ignore[arg-type]
    prefix = full[:, :width]
    expected = prefix / np.linalg.norm(prefix, axis=1, keepdims=True)
    assert truncated.dims == width
    assert rows.shape == (len(TEXTS), width) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(rows, expected, atol=1e-5)


def test_truncation_without_normalize_keeps_the_raw_prefix(
    embedder: SentenceTransformerEmbedder,
) -> None:
    raw = sharing(embedder, normalize=False).embed(TEXTS)
    rows = sharing(embedder, normalize=False, truncate_dim=64).embed(TEXTS)
    np.testing.assert_allclose(rows, raw[:, :64], atol=1e-5)


def test_a_truncate_dim_wider_than_the_model_is_refused(
    embedder: SentenceTransformerEmbedder,
) -> None:
    wide = sharing(embedder, truncate_dim=512)
    assert wide.dims == 512  # as configured, without loading anything
    with pytest.raises(EmbeddingError, match=r"truncate_dim is 512 .* at most 384"):
        wide.embed(TEXTS)


def test_the_collection_takes_the_truncated_size_and_refuses_another(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", repeat=2)
    report = ingest_once(tmp_path, sharing(embedder, truncate_dim=128), corpus)
    assert report.chunks_written > 0 and not report.failed
    config = json.loads((tmp_path / "qdrant" / "test" / "edge_config.json").read_text())
    assert config["vectors"]["dense"]["size"] == 128
    (corpus / "new.md").write_text("A new file makes the ingest write again.\n", encoding="utf-8")
    with pytest.raises(StoreError) as refused:
        ingest_once(tmp_path, embedder, corpus)
    message = str(refused.value)
    assert "holds 128-d vectors but the embedder gives 384-d" in message
    assert "embedding.truncate_dim" in message and "--collection" in message
