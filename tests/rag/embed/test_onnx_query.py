"""ONNX Runtime queries equal torch's; the export is cached; other pipelines fall back to torch.

All tests share the session's loaded MiniLM and one export (into a session tmp dir).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.core.types import FloatMatrix
from ragline.rag.config import EmbeddingConfig
from ragline.rag.embed import onnx_query
from ragline.rag.embed.onnx_query import OnnxQueryEncoder, OnnxUnsupported
from ragline.rag.embed.sentence_transformers import ONNX_MAX_BATCH, SentenceTransformerEmbedder

pytestmark = pytest.mark.integration

NAME = "all-MiniLM-L6-v2"
LONG = " ".join(f"token{i} overflows the window" for i in range(120))  # > 256 word-pieces
SPINNING = "session.intra_op.allow_spinning"
SHORT = [
    "How do I parse a JSON string into a Python object?",
    "harmonic mean",
    "  list   directory contents  ",
]
QUERIES = [*SHORT, LONG]


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="session")
def encoder(embedder: SentenceTransformerEmbedder, onnx_cache: Path) -> OnnxQueryEncoder:
    """The one export of the session."""
    made = OnnxQueryEncoder.load(embedder.model, onnx_cache, NAME)
    assert made.exported and made.path.parent == onnx_cache
    return made


def sharing(
    embedder: SentenceTransformerEmbedder, model: Any = None, **config: Any
) -> SentenceTransformerEmbedder:
    """A new embedder over the session's loaded model (or `model`): no second load."""
    fresh = SentenceTransformerEmbedder(EmbeddingConfig(**config))
    fresh._model = embedder.model if model is None else model
    return fresh


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, attr: str) -> list[int]:
    """Patch `owner.attr` with a wrapper that records each call; returns the record."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(owner, attr)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, attr, counted)
    return calls


def cosines(a: FloatMatrix, b: FloatMatrix) -> FloatMatrix:
    dots = (a * b).sum(axis=1)
    norms: FloatMatrix = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.asarray(dots / norms, dtype=np.float32)


def test_the_long_query_really_is_truncated(embedder: SentenceTransformerEmbedder) -> None:
    window = embedder.window()
    assert window is not None and window.count(LONG) > 256


@pytest.mark.parametrize(
    ("config", "queries"),
    [
        ({}, QUERIES),
        ({"query_prefix": "query: "}, QUERIES),
        ({"truncate_dim": 64}, SHORT),
        ({"normalize": False}, SHORT),
        ({"truncate_dim": 64, "normalize": False}, SHORT),
    ],
    ids=["plain", "prefix", "truncate_dim", "raw", "truncate_raw"],
)
def test_onnx_queries_match_torch(
    embedder: SentenceTransformerEmbedder,
    encoder: OnnxQueryEncoder,
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, Any],
    queries: list[str],
) -> None:
    expected = sharing(embedder, query_backend="torch", **config).embed(queries, kind="query")
    onnx = sharing(embedder, **config)
    onnx._onnx, onnx._onnx_tried = encoder, True  # the session's encoder, no second load
    monkeypatch.setattr(embedder.model, "encode", _refuse)
    batch = onnx.embed(queries, kind="query")
    one = onnx.embed(queries[:1], kind="query")
    assert onnx.query_backend == "onnx"
    assert batch.dtype == np.float32 and batch.shape == expected.shape
    assert batch.shape[1] == config.get("truncate_dim", 384)
    assert cosines(batch, expected).min() >= 0.9999
    assert np.allclose(np.linalg.norm(batch, axis=1), np.linalg.norm(expected, axis=1), rtol=1e-4)
    assert np.allclose(one, batch[:1], atol=1e-5)  # padding in a batch changes nothing


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("torch encode() called on the ONNX path")


def test_query_prefix_reaches_the_onnx_path(
    embedder: SentenceTransformerEmbedder, encoder: OnnxQueryEncoder
) -> None:
    plain = encoder.encode(["query: harmonic mean"])
    prefixed = sharing(embedder, query_prefix="query: ")
    prefixed._onnx, prefixed._onnx_tried = encoder, True
    unprefixed = encoder.encode(["harmonic mean"])
    got = prefixed.embed(["harmonic mean"], kind="query")
    assert np.allclose(got, plain, atol=1e-6)
    assert not np.allclose(got, unprefixed, atol=1e-3)


@pytest.mark.parametrize("documents", ["onnx", "torch"])
def test_big_query_batches_use_every_core_and_documents_their_backend(
    embedder: SentenceTransformerEmbedder,
    encoder: OnnxQueryEncoder,
    monkeypatch: pytest.MonkeyPatch,
    documents: str,
) -> None:
    onnx = sharing(embedder, document_backend=documents)
    onnx._onnx, onnx._onnx_tried = encoder, True
    small = count_calls(monkeypatch, encoder, "encode")
    big = count_calls(monkeypatch, encoder, "encode_many")
    torch_calls = count_calls(monkeypatch, embedder.model, "forward")
    many = [f"query number {i}" for i in range(ONNX_MAX_BATCH + 1)]
    assert onnx.embed(many, kind="query").shape == (len(many), 384)
    assert (small, big, torch_calls) == ([], [1], [])  # torch is loaded, ONNX still serves
    assert onnx.embed(many[:2], kind="document").shape == (2, 384)
    on_onnx = documents == "onnx"
    assert (small, len(big), len(torch_calls)) == ([], 1 + on_onnx, 1 - on_onnx)
    onnx.embed(many[:ONNX_MAX_BATCH], kind="query")
    assert (len(small), len(big), len(torch_calls)) == (1, 1 + on_onnx, 1 - on_onnx)


def test_query_backend_torch_keeps_queries_on_torch_while_documents_use_onnx(
    embedder: SentenceTransformerEmbedder,
    encoder: OnnxQueryEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mixed = sharing(embedder, query_backend="torch")
    big = count_calls(monkeypatch, encoder, "encode_many")
    mixed._onnx, mixed._onnx_tried = encoder, True
    mixed.embed(["a query"], kind="query")
    assert big == [] and mixed.query_backend == "torch"
    mixed.embed(["a document", "another"], kind="document")
    assert big == [1]


def test_big_batches_run_on_a_session_with_a_thread_per_core(
    encoder: OnnxQueryEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    fresh = OnnxQueryEncoder(
        encoder._session, encoder._tokenize, encoder._plan, encoder.path, exported=False, dims=384
    )
    wide = fresh._wide_session()
    assert wide is not encoder._session and fresh._wide_session() is wide  # made once
    assert encoder._session.get_session_options().intra_op_num_threads == 1
    assert wide.get_session_options().intra_op_num_threads == 3
    assert wide.get_session_options().get_session_config_entry(SPINNING) == "0"
    queries = [LONG, *SHORT, "x", *SHORT]  # mixed lengths: sorted, then put back in order
    assert np.allclose(fresh.encode_many(queries, batch_size=2), encoder.encode(queries), atol=1e-5)
    assert fresh.encode_many([]).shape == (0, 384)


def test_first_query_creates_the_encoder_from_the_cache(
    embedder: SentenceTransformerEmbedder,
    encoder: OnnxQueryEncoder,
    onnx_cache: Path,
) -> None:
    lazy = sharing(embedder, onnx_cache=onnx_cache, document_backend="torch")
    lazy.embed(["a document"], kind="document")  # on torch: creates no encoder
    assert lazy.query_backend == "torch" and lazy.onnx_unavailable is None  # not tried yet
    lazy.embed(["a query"], kind="query")
    assert lazy.query_backend == "onnx" and lazy.onnx_unavailable is None
    assert lazy._onnx is not None and lazy._onnx.path == encoder.path
    assert not lazy._onnx.exported


def test_the_cached_export_is_reused(
    embedder: SentenceTransformerEmbedder, encoder: OnnxQueryEncoder, onnx_cache: Path
) -> None:
    before = encoder.path.stat().st_mtime_ns
    again = OnnxQueryEncoder.load(embedder.model, onnx_cache, NAME)
    assert not again.exported and again.path == encoder.path
    assert encoder.path.stat().st_mtime_ns == before
    exports = sorted(p.name for p in onnx_cache.glob("*.onnx"))
    assert exports == [encoder.path.name]
    assert [p.name for p in onnx_cache.iterdir() if p.name.startswith(".")] == []  # no temp files


def test_a_corrupt_cached_file_is_replaced(
    embedder: SentenceTransformerEmbedder, encoder: OnnxQueryEncoder, tmp_path: Path
) -> None:
    broken = tmp_path / encoder.path.name
    broken.write_bytes(b"half an onnx file")
    fixed = OnnxQueryEncoder.load(embedder.model, tmp_path, NAME)
    assert fixed.exported and fixed.path == broken
    assert broken.stat().st_size > 1_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == [broken.name]
    probe = ["does the new file work?"]
    assert np.allclose(fixed.encode(probe), encoder.encode(probe), atol=1e-5)


def test_cls_pooling_is_reproduced(
    embedder: SentenceTransformerEmbedder, encoder: OnnxQueryEncoder, onnx_cache: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    model = embedder.model
    cls_model = SentenceTransformer(modules=[model[0], type(model[1])(384, "cls")], device="cpu")
    made = OnnxQueryEncoder.load(cls_model, onnx_cache, NAME)  # same transformer: cached file
    assert not made.exported
    expected = np.asarray(cls_model.encode(SHORT), dtype=np.float32)
    assert cosines(made.encode(SHORT), expected).min() >= 0.9999
    assert cosines(made.encode(SHORT), encoder.encode(SHORT)).max() < 0.999  # not mean


def test_an_extra_dense_layer_falls_back_to_torch_with_a_reason(
    embedder: SentenceTransformerEmbedder, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense

    model = embedder.model
    dense = SentenceTransformer(modules=[model[0], model[1], Dense(384, 32)], device="cpu")
    assert OnnxQueryEncoder.create(dense, onnx_cache, NAME) is None
    with pytest.raises(OnnxUnsupported, match="Dense"):
        OnnxQueryEncoder.load(dense, onnx_cache, NAME)
    tries = count_calls(monkeypatch, OnnxQueryEncoder, "load")
    fallback = sharing(embedder, model=dense, onnx_cache=onnx_cache)
    fallback.warm_up()
    for _ in range(3):
        assert fallback.embed(["a query"], kind="query").shape == (1, 32)
    assert fallback.query_backend == "torch"
    assert fallback.onnx_unavailable is not None and "Dense" in fallback.onnx_unavailable
    assert tries == [1]  # the failure is remembered, not retried per query


def test_other_pooling_falls_back(embedder: SentenceTransformerEmbedder, onnx_cache: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = embedder.model
    max_model = SentenceTransformer(modules=[model[0], type(model[1])(384, "max")], device="cpu")
    with pytest.raises(OnnxUnsupported, match="pooling 'max'"):
        OnnxQueryEncoder.load(max_model, onnx_cache, NAME)


def test_missing_onnxruntime_falls_back(
    embedder: SentenceTransformerEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    with pytest.raises(OnnxUnsupported, match="pip install onnxruntime"):
        OnnxQueryEncoder.load(embedder.model, tmp_path, NAME)
    fallback = sharing(embedder, onnx_cache=tmp_path)
    assert fallback.embed(["a query"], kind="query").shape == (1, 384)
    assert fallback.query_backend == "torch" and "onnxruntime" in (fallback.onnx_unavailable or "")
    assert list(tmp_path.iterdir()) == []


def test_an_export_that_disagrees_with_torch_is_refused(
    embedder: SentenceTransformerEmbedder,
    encoder: OnnxQueryEncoder,
    onnx_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exports: list[Path] = []
    monkeypatch.setattr(onnx_query, "MIN_COSINE", 1.5)  # nothing can pass
    monkeypatch.setattr(onnx_query, "_export", lambda model, plan, path: exports.append(path))
    with pytest.raises(OnnxUnsupported, match="differ"):
        OnnxQueryEncoder.load(embedder.model, onnx_cache, NAME)
    assert exports == [encoder.path]  # the cached file failed the check: one re-export tried


def test_torch_backend_never_touches_onnx(
    embedder: SentenceTransformerEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries = count_calls(monkeypatch, OnnxQueryEncoder, "load")
    plain = sharing(embedder, query_backend="torch", document_backend="torch", onnx_cache=tmp_path)
    plain.warm_up()
    assert plain.embed(["a query"], kind="query").shape == (1, 384)
    assert plain.embed(["a document"], kind="document").shape == (1, 384)
    assert tries == [] and plain.query_backend == "torch" and plain.onnx_unavailable is None
    assert list(tmp_path.iterdir()) == []


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert onnx_query.default_cache_dir() == tmp_path / "ragline" / "onnx"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert onnx_query.default_cache_dir() == Path.home() / ".cache" / "ragline" / "onnx"
