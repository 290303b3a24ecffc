"""Semantic chunking: cut where the meaning of adjacent sentences shifts most.

Each sentence is embedded on its own; at each gap between two sentences the mean of the
sentences just before it is compared with the mean of those just after it, and a cut falls
where that cosine distance exceeds the chosen percentile of all such distances.
Groups longer than the size limit are split again with the recursive splitter, so no chunk
is over size and no cut falls mid-sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ragline.core.types import FloatMatrix
from ragline.rag.chunking.sentences import split_sentences
from ragline.rag.chunking.splitters import Count, Tokenizer, counter, recursive

EmbedFn = Callable[[list[str]], FloatMatrix]


def breakpoints(embeddings: FloatMatrix, percentile: float, reach: int = 2) -> list[int]:
    """Indices i where a cut falls between sentence i and i + 1.

    The distance at a gap is between the `reach` sentences before it and the `reach` after
    it. Windows centred on each sentence would share most of their sentences with their
    neighbours, which smears a change of topic over several gaps and lets noise pick the cut.
    """
    if len(embeddings) < 2:
        return []
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = embeddings / np.maximum(norms, 1e-12)
    sums = np.vstack([np.zeros((1, unit.shape[1])), np.cumsum(unit, axis=0)])
    n = len(unit)
    gaps = np.arange(1, n)  # gap g lies between sentence g - 1 and sentence g
    before = sums[gaps] - sums[np.maximum(gaps - reach, 0)]
    after = sums[np.minimum(gaps + reach, n)] - sums[gaps]
    cosine = np.sum(before * after, axis=1) / np.maximum(
        np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1), 1e-12
    )
    distances = 1.0 - cosine
    threshold = float(np.percentile(distances, percentile))
    return [i for i, d in enumerate(distances) if d > threshold]


def semantic(
    text: str,
    size: int,
    overlap: int,
    tok: Tokenizer,
    embed: EmbedFn,
    percentile: float,
    count: Count | None = None,
) -> list[str]:
    """Topic-coherent chunks of whole sentences, each at most `size` tokens (by `count`)."""
    count = count or counter(tok)
    sentences = split_sentences(text)
    if len(sentences) < 3:
        return recursive(text, size, overlap, tok, count)
    cuts = set(breakpoints(embed([s.strip() for s in sentences]), percentile))
    chunks: list[str] = []
    group: list[str] = []
    for i, sentence in enumerate(sentences):
        group.append(sentence)
        if i in cuts or i == len(sentences) - 1:
            chunks.extend(_fit(group, size, overlap, tok, count))
            group = []
    return chunks


def _fit(group: Sequence[str], size: int, overlap: int, tok: Tokenizer, count: Count) -> list[str]:
    text = "".join(group)
    if count(text.strip()) <= size:  # counted as stored: stripped
        return [text.strip()] if text.strip() else []
    return recursive(text, size, overlap, tok, count)
