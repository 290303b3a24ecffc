"""`document_backend: onnx-int8`: documents through a dynamically quantized copy of the checked
ONNX export, cached beside it, checked against torch (looser bound), fp32 when it fails.

All tests share the session's loaded MiniLM and its ONNX export (tests/conftest.py `embedder`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from ragline.rag.config import EmbeddingConfig
from ragline.rag.embed import onnx_int8
from ragline.rag.embed.onnx_int8 import MIN_COSINE_INT8, int8_encoder, int8_path
from ragline.rag.embed.onnx_query import OnnxQueryEncoder, OnnxUnsupported
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder

pytestmark = pytest.mark.integration

DOCS = [
    "Rivers carry water from mountains to the sea. The Nile flows north, and deltas form "
    "where rivers slow down and drop their sediment.",
    "Bread needs flour, water, salt and yeast; dough rises when yeast ferments sugars.",
    "ls lists information about the FILEs (the current directory by default). Sort entries "
    "alphabetically if none of -cftuvSUX nor --sort is specified.",
]


def sharing(embedder: SentenceTransformerEmbedder, **config: Any) -> SentenceTransformerEmbedder:
    """A new embedder over the session's loaded model and ONNX export: no second load."""
    fresh = SentenceTransformerEmbedder(
        EmbeddingConfig(onnx_cache=embedder.config.onnx_cache, **config)
    )
    fresh._model = embedder.model
    return fresh


def fp32(embedder: SentenceTransformerEmbedder) -> OnnxQueryEncoder:
    encoder = embedder._query_encoder()
    assert encoder is not None, embedder.onnx_unavailable
    return encoder


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def test_documents_go_through_the_int8_copy(embedder: SentenceTransformerEmbedder) -> None:
    int8 = sharing(embedder, document_backend="onnx-int8")
    assert int8.document_backend == "onnx-int8"
    ours = int8.embed(DOCS)
    torch_rows = np.asarray(embedder.model.encode(DOCS, normalize_embeddings=True))
    fp32_rows = sharing(embedder, document_backend="onnx").embed(DOCS)
    assert int8.document_backend == "onnx-int8" and int8.int8_unavailable is None
    assert ours.shape == (len(DOCS), 384) and ours.dtype == np.float32
    assert cosines(ours, torch_rows).min() >= MIN_COSINE_INT8
    # really another model: int8 weights move every vector a little (fp32 stays within 1e-4)
    assert np.abs(ours - fp32_rows).max() > 1e-3
    assert int8_path(fp32(embedder).path).is_file()


def test_queries_stay_on_the_fp32_export(embedder: SentenceTransformerEmbedder) -> None:
    int8 = sharing(embedder, document_backend="onnx-int8")
    queries = ["how do rivers form deltas?", "list directory contents"]
    np.testing.assert_array_equal(
        int8.embed(queries, kind="query"), embedder.embed(queries, kind="query")
    )


def test_the_copy_is_cached_and_a_damaged_one_is_rebuilt(
    embedder: SentenceTransformerEmbedder,
) -> None:
    source = fp32(embedder)
    path = int8_path(source.path)
    int8_encoder(source, source.encode)  # made by this test or an earlier one
    assert not int8_encoder(source, source.encode).exported
    path.write_bytes(b"not an onnx model")
    os.utime(path, ns=(source.path.stat().st_mtime_ns + 1,) * 2)  # newer: looks current
    rebuilt = int8_encoder(source, source.encode)
    assert rebuilt.exported and path.stat().st_size > 1_000_000
    assert cosines(rebuilt.encode(DOCS), source.encode(DOCS)).min() >= MIN_COSINE_INT8


def test_a_copy_older_than_its_export_is_made_again(
    embedder: SentenceTransformerEmbedder,
) -> None:
    source = fp32(embedder)
    int8_encoder(source, source.encode)
    path = int8_path(source.path)
    stale = source.path.stat().st_mtime_ns - 10**9
    os.utime(path, ns=(stale, stale))
    assert int8_encoder(source, source.encode).exported
    assert path.stat().st_mtime_ns >= source.path.stat().st_mtime_ns


def test_a_drifting_copy_is_refused_and_documents_keep_fp32(
    embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = fp32(embedder)

    def elsewhere(texts: Any) -> np.ndarray:  # a reference the copy cannot agree with
        return -source.encode(texts)

    with pytest.raises(OnnxUnsupported, match="document_backend: onnx"):
        int8_encoder(source, elsewhere)
    monkeypatch.setattr(onnx_int8, "MIN_COSINE_INT8", 1.01)  # no int8 copy can pass this
    int8 = sharing(embedder, document_backend="onnx-int8")
    rows = int8.embed(DOCS)
    assert int8.document_backend == "onnx"
    assert int8.int8_unavailable is not None and "differ" in int8.int8_unavailable
    np.testing.assert_allclose(
        rows, sharing(embedder, document_backend="onnx").embed(DOCS), atol=1e-6
    )
