"""Chunks fit the embedder's window, measured with the embedder's own tokenizer."""

from __future__ import annotations

import pickle

import pytest

from ragline.rag.chunking import Chunker
from ragline.rag.config import ChunkingConfig
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.types import Document, Section

pytestmark = pytest.mark.integration

CODE = "\n".join(
    f"    def method_{i}(self, arg_{i}: dict[str, list[int]] = {{}}) -> tuple[int, ...]:"
    f"  # see __init__.py:{i} and self._cache[{i}]"
    for i in range(300)
)
PROSE = " ".join(
    f"Sentence {i} tells a plain story about rivers, mountains and the people nearby."
    for i in range(300)
)


def doc(text: str) -> Document:
    return Document("d.txt", "/abs/d.txt", (Section(text),), "2024-01-01T00:00:00Z")


@pytest.mark.parametrize("strategy", ["recursive", "fixed_size"])
def test_no_chunk_overflows_the_window_even_for_dense_text(
    embedder: SentenceTransformerEmbedder, strategy: str
) -> None:
    window = embedder.window()
    assert window is not None and window.max_tokens == 254  # 256 less [CLS] and [SEP]
    chunker = Chunker(ChunkingConfig(strategy=strategy), window=window)
    chunks = chunker.chunk(doc(CODE))
    assert all(window.count(c.text) <= window.max_tokens for c in chunks)
    without = Chunker(ChunkingConfig(strategy=strategy), size_cap=chunker.size).chunk(doc(CODE))
    assert any(window.count(c.text) > window.max_tokens for c in without), "the text is dense"


def test_prose_chunks_use_most_of_the_window(embedder: SentenceTransformerEmbedder) -> None:
    window = embedder.window()
    assert window is not None
    chunks = Chunker(ChunkingConfig(), window=window).chunk(doc(PROSE))
    sizes = [window.count(c.text) for c in chunks[:-1]]
    assert max(sizes) <= window.max_tokens and min(sizes) >= 0.6 * window.max_tokens


def test_window_counter_pickles_for_worker_processes(
    embedder: SentenceTransformerEmbedder,
) -> None:
    window = embedder.window()
    assert window is not None
    copy = pickle.loads(pickle.dumps(window))
    text = "Tokenizers count word-pieces: unaffordable -> un ##af ##ford ##able."
    assert copy.count(text) == window.count(text) > len(text.split())
