"""Semantic chunking: cut where the meaning of adjacent sentences shifts most.

Each sentence is embedded together with its neighbours; a cut falls where the cosine
distance between consecutive sentences exceeds the chosen percentile of all such distances.
Groups longer than the size limit are split again with the recursive splitter, so no chunk
is over size and no cut falls mid-sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rag.chunking.sentences import split_sentences
from rag.chunking.splitters import Tokenizer, recursive
from rag.types import FloatMatrix

EmbedFn = Callable[[list[str]], FloatMatrix]


def breakpoints(embeddings: FloatMatrix, percentile: float) -> list[int]:
    """Indices i where a cut falls between sentence i and i + 1."""
    if len(embeddings) < 2:
        return []
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = embeddings / np.maximum(norms, 1e-12)
    distances = 1.0 - np.sum(unit[:-1] * unit[1:], axis=1)
    threshold = float(np.percentile(distances, percentile))
    return [i for i, d in enumerate(distances) if d > threshold]


def semantic(
    text: str, size: int, overlap: int, tok: Tokenizer, embed: EmbedFn, percentile: float
) -> list[str]:
    """Topic-coherent chunks of whole sentences, each at most `size` tokens."""
    sentences = split_sentences(text)
    if len(sentences) < 3:
        return recursive(text, size, overlap, tok)
    windows = [" ".join(sentences[max(i - 1, 0) : i + 2]).strip() for i in range(len(sentences))]
    cuts = set(breakpoints(embed(windows), percentile))
    chunks: list[str] = []
    group: list[str] = []
    for i, sentence in enumerate(sentences):
        group.append(sentence)
        if i in cuts or i == len(sentences) - 1:
            chunks.extend(_fit(group, size, overlap, tok))
            group = []
    return chunks


def _fit(group: Sequence[str], size: int, overlap: int, tok: Tokenizer) -> list[str]:
    text = "".join(group)
    if len(tok.encode_ordinary(text)) <= size:
        return [text.strip()] if text.strip() else []
    return recursive(text, size, overlap, tok)
