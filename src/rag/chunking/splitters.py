"""Pure text splitters: fixed-size token windows, and recursive packing of whole sentences.

Sizes are counted in tokens by the `Tokenizer` passed in (tiktoken in production).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Protocol

from rag.chunking.sentences import split_paragraphs, split_sentences


class Tokenizer(Protocol):
    """The slice of `tiktoken.Encoding` the splitters use."""

    def encode_ordinary(self, text: str) -> list[int]: ...

    def decode(self, tokens: Sequence[int]) -> str: ...


def fixed_size(text: str, size: int, overlap: int, tok: Tokenizer) -> list[str]:
    """Windows of `size` tokens, each starting `size - overlap` after the previous one."""
    tokens = tok.encode_ordinary(text)
    step = size - overlap
    chunks = []
    for start in range(0, max(len(tokens) - overlap, 1), step):
        piece = tok.decode(tokens[start : start + size]).strip()
        if piece:
            chunks.append(piece)
    return chunks


def recursive(text: str, size: int, overlap: int, tok: Tokenizer) -> list[str]:
    """Chunks of at most `size` tokens made of whole paragraphs, else whole sentences.

    A sentence longer than `size` on its own is the only thing ever cut (at word boundaries).
    Consecutive chunks share trailing sentences worth at most `overlap` tokens.
    """
    pieces = _pieces(text, size, tok)
    return pack(pieces, [len(tok.encode_ordinary(p)) for p in pieces], size, overlap)


def _pieces(text: str, size: int, tok: Tokenizer) -> list[str]:
    """Paragraphs that fit; larger ones as sentences; over-long sentences as word runs."""
    out: list[str] = []
    for paragraph in split_paragraphs(text):
        if len(tok.encode_ordinary(paragraph)) <= size:
            out.append(paragraph)
            continue
        for sentence in split_sentences(paragraph):
            if len(tok.encode_ordinary(sentence)) <= size:
                out.append(sentence)
            else:
                out.extend(_words(sentence, size, tok))
    return out


def _words(sentence: str, size: int, tok: Tokenizer) -> list[str]:
    """Greedy runs of words of at most `size` tokens (a single huge word is cut by tokens)."""
    words = re.findall(r"\s*\S+", sentence)
    runs: list[str] = []
    current, used = "", 0
    for word in words:
        n = len(tok.encode_ordinary(word))
        if n > size:
            runs.extend(fixed_size(word, size, 0, tok))
            continue
        if used + n > size and current:
            runs.append(current)
            current, used = "", 0
        current += word
        used += n
    if current.strip():
        runs.append(current)
    return runs


def pack(pieces: Sequence[str], lengths: Sequence[int], size: int, overlap: int) -> list[str]:
    """Greedily join consecutive pieces up to `size`; carry a tail of <= `overlap` tokens."""
    chunks: list[str] = []
    window: list[int] = []  # indices of pieces in the chunk being built
    used = 0
    for i, n in enumerate(lengths):
        if window and used + n > size:
            chunks.append("".join(pieces[j] for j in window).strip())
            window, used = _tail(window, lengths, overlap, size - n)
        window.append(i)
        used += n
    if window:
        chunks.append("".join(pieces[j] for j in window).strip())
    return [c for c in chunks if c]


def _tail(
    window: list[int], lengths: Sequence[int], overlap: int, room: int
) -> tuple[list[int], int]:
    """The longest suffix of `window` within `overlap` tokens, leaving room for the next piece."""
    tail: list[int] = []
    used = 0
    for j in reversed(window):
        if used + lengths[j] > min(overlap, room):
            break
        tail.insert(0, j)
        used += lengths[j]
    return tail, used


SplitFn = Callable[[str], list[str]]
