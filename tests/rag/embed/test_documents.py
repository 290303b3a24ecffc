"""The document path against bare sentence-transformers `encode` on the real packaged model (CPU):
same vectors, input order kept under length sorting, edge cases, the tokenizer worker."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from ragline.core.types import FloatMatrix
from ragline.rag.config import EmbeddingConfig
from ragline.rag.embed.device import DevicePlan
from ragline.rag.embed.documents import DocumentEncoder, _ahead
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.errors import EmbeddingError

pytestmark = pytest.mark.integration
MIN_COSINE = 0.9999


def passages(count: int, seed: int = 7) -> list[str]:
    """Passages of very different lengths (1 to ~300 words: some beyond the model's window)."""
    rng = random.Random(seed)
    words = [
        "the",
        "a",
        "ragline",
        "embeds",
        "passages",
        "sorted",
        "by",
        "length",
        "then",
        "restores",
        "their",
        "order",
    ]
    out = []
    for i in range(count):
        n = rng.choice([1, 2, 5, 12, 30, 60, 300])
        out.append(f"passage {i}: " + " ".join(rng.choice(words) for _ in range(n)))
    return out


def bare(model: Any, texts: list[str]) -> FloatMatrix:
    return np.asarray(
        model.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False),
        dtype=np.float32,
    )


def min_cosine(a: FloatMatrix, b: FloatMatrix) -> float:
    assert a.shape == b.shape
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.min((a * b).sum(axis=1) / np.maximum(norms, 1e-12)))


@pytest.fixture(scope="module")
def model(embedder: SentenceTransformerEmbedder) -> Any:
    return embedder.model


@pytest.mark.parametrize("threads", [0, 1, 3], ids=["inline", "worker", "workers"])
@pytest.mark.parametrize("batch_size", [1, 5, 64])
def test_equals_bare_encode_in_input_order(model: Any, threads: int, batch_size: int) -> None:
    texts = passages(24)
    plan = DevicePlan("cpu", "fp32", batch_size, tokenizer_threads=threads)
    ours = DocumentEncoder(model, plan).encode(texts)
    assert ours.dtype == np.float32 and ours.flags.c_contiguous
    # Row i is text i's vector: each row is closest to its own text's bare vector (a
    # permutation of rows of similar texts would fail here).
    expected = bare(model, texts)
    assert min_cosine(ours, expected) >= MIN_COSINE
    assert (np.argmax(ours @ expected.T, axis=1) == np.arange(len(texts))).all()


def test_each_row_equals_its_text_embedded_alone(model: Any) -> None:
    texts = passages(6, seed=3)
    ours = DocumentEncoder(model, DevicePlan("cpu", "fp32", 1, tokenizer_threads=2)).encode(texts)
    alone = np.concatenate([bare(model, [t]) for t in texts])
    assert min_cosine(ours, alone) >= MIN_COSINE


def test_empty_and_single_inputs(model: Any) -> None:
    encoder = DocumentEncoder(model, DevicePlan("cpu", "fp32", 8, tokenizer_threads=2))
    assert encoder.encode([]).shape == (0, 384)
    one = encoder.encode(["a single passage"])
    assert one.shape == (1, 384)
    assert min_cosine(one, bare(model, ["a single passage"])) >= MIN_COSINE


def test_very_long_inputs_are_truncated_as_encode_truncates(model: Any) -> None:
    texts = ["word " * 5000, "lorem ipsum " * 2000, "short", "x" * 30000]
    ours = DocumentEncoder(model, DevicePlan("cpu", "fp32", 1, tokenizer_threads=2)).encode(texts)
    assert min_cosine(ours, bare(model, texts)) >= MIN_COSINE


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_embedder_documents_equal_bare_encode_normalised(
    embedder: SentenceTransformerEmbedder, backend: str
) -> None:
    documents = SentenceTransformerEmbedder(
        EmbeddingConfig(document_backend=backend, onnx_cache=embedder.config.onnx_cache)
    )
    documents._model = embedder.model  # the session's loaded model: no second load
    texts = [*passages(14, seed=11), "word " * 5000, "x" * 30000]  # two beyond the window
    ours = documents.embed(texts, kind="document")
    theirs = np.asarray(
        embedder.model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    )
    assert min_cosine(ours, theirs) >= MIN_COSINE
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert documents.device_plan == DevicePlan("cpu", "fp32", 64, tokenizer_threads=0)
    assert (documents._onnx is not None) == (backend == "onnx")


def test_auto_without_a_gpu_embeds_documents_on_onnx(embedder: SentenceTransformerEmbedder) -> None:
    auto = SentenceTransformerEmbedder(
        EmbeddingConfig(device="auto", onnx_cache=embedder.config.onnx_cache)
    )
    auto._model = embedder.model  # the session's loaded model: no second load
    texts = passages(5, seed=5)
    expected = embedder.model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    assert min_cosine(auto.embed(texts), np.asarray(expected)) >= MIN_COSINE
    assert auto.device_plan.device == "cpu" and auto.document_backend == "onnx"
    assert auto._onnx is not None


def test_missing_cuda_device_names_the_setting() -> None:
    embedder = SentenceTransformerEmbedder(EmbeddingConfig(device="cuda:7"))
    with pytest.raises(EmbeddingError, match=r"embedding\.device 'cuda:7'.*set embedding\.device"):
        embedder.embed(["a passage"])


@pytest.mark.unit
def test_workers_hand_their_error_to_the_consumer() -> None:
    def prepare(window: list[int]) -> list[tuple[list[int], dict[str, Any]]]:
        if window == [2]:
            raise RuntimeError("tokenizer broke")
        return [(window, {})]

    produced = _ahead([[0], [1], [2], [3]], prepare, threads=2)
    assert [next(produced)[0] for _ in range(2)] == [[0], [1]]
    with pytest.raises(RuntimeError, match="tokenizer broke"):
        next(produced)


@pytest.mark.unit
def test_workers_keep_order_and_stop_when_the_consumer_does() -> None:
    made: list[int] = []

    def prepare(window: list[int]) -> list[tuple[list[int], dict[str, Any]]]:
        made.extend(window)
        return [(window, {}), (window, {"second": True})]

    windows = [[i] for i in range(1000)]
    assert [index for index, _ in _ahead(windows[:50], prepare, threads=3)] == [
        w for w in windows[:50] for _ in range(2)
    ]
    made.clear()
    produced = _ahead(windows, prepare, threads=3)
    assert [next(produced)[0][0] for _ in range(6)] == [0, 0, 1, 1, 2, 2]
    produced.close()  # the consumer stops: at most `threads + 1` windows beyond it were made
    assert len(made) <= 3 + 3 + 1
    assert list(_ahead([], prepare, threads=2)) == []
