"""Pure text splitters: fixed-size token windows, and recursive packing of whole sentences.

Sizes are counted in tokens by the `Tokenizer` passed in (tiktoken in production), always on
the final chunk text: tokens merge and split across the places where pieces are joined, and
stripping a chunk changes its first token (" naïve" is 2 cl100k tokens, "naïve" is 3), so
adding up the counts of the pieces is not enough to keep a chunk within its size.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from typing import Protocol

from rag.chunking.sentences import split_paragraphs, split_sentences


class Tokenizer(Protocol):
    """The slice of `tiktoken.Encoding` the splitters use."""

    def encode_ordinary(self, text: str) -> list[int]: ...

    def decode(self, tokens: Sequence[int]) -> str: ...

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]: ...


Count = Callable[[str], int]


def counter(tok: Tokenizer) -> Count:
    """The number of tokens in a text."""
    return lambda text: len(tok.encode_ordinary(text))


def fixed_size(text: str, size: int, overlap: int, tok: Tokenizer) -> list[str]:
    """Windows of at most `size` tokens, each starting `size - overlap` after the previous one.

    Windows start and end between characters (a token may hold part of one, e.g. of a CJK
    character), so no window shows a broken character; they are shortened where needed.
    """
    tokens = tok.encode_ordinary(text)
    count = counter(tok)
    cuts = _character_cuts(tok.decode_tokens_bytes(tokens))
    chunks = []
    start = 0
    while start < len(tokens):
        end = _cut_at_most(cuts, start + size, start)
        piece = tok.decode(tokens[start:end]).strip()
        while count(piece) > size and end > _cut_at_most(cuts, start, start):
            end = _cut_at_most(cuts, end - 1, start)  # the text re-encodes to more tokens
            piece = tok.decode(tokens[start:end]).strip()
        if piece:
            chunks.append(piece)
        if end >= len(tokens):
            break
        start = _cut_at_most(cuts, end - overlap, start)
    return chunks


def _character_cuts(token_bytes: Sequence[bytes]) -> list[int]:
    """Token indices where a character starts (the first byte is not a UTF-8 continuation)."""
    cuts = [i for i, b in enumerate(token_bytes) if not b or not 0x80 <= b[0] < 0xC0]
    return [*cuts, len(token_bytes)]


def _cut_at_most(cuts: Sequence[int], limit: int, above: int) -> int:
    """The last cut in (above, limit]; else the first cut after `above` (progress is kept)."""
    i = bisect.bisect_right(cuts, limit)
    if i > 0 and cuts[i - 1] > above:
        return cuts[i - 1]
    return cuts[bisect.bisect_right(cuts, above)]


def recursive(text: str, size: int, overlap: int, tok: Tokenizer) -> list[str]:
    """Chunks of at most `size` tokens made of whole paragraphs, else whole sentences.

    A sentence longer than `size` on its own is the only thing ever cut (at word boundaries).
    Consecutive chunks share trailing sentences worth at most `overlap` tokens.
    """
    count = counter(tok)
    return pack(_pieces(text, size, tok, count), size, overlap, count)


def _pieces(text: str, size: int, tok: Tokenizer, count: Count) -> list[str]:
    """Paragraphs that fit; larger ones as sentences; over-long sentences as word runs.

    The pieces join back into `text`, so the whitespace between words and paragraphs stays.
    """
    out: list[str] = []
    for paragraph in split_paragraphs(text):
        if count(paragraph.strip()) <= size:
            out.append(paragraph)
            continue
        for sentence in split_sentences(paragraph):
            if count(sentence.strip()) <= size:
                out.append(sentence)
            else:
                out.extend(_words(sentence, size, tok, count))
    return out


def _words(sentence: str, size: int, tok: Tokenizer, count: Count) -> list[str]:
    """Greedy runs of words of at most `size` tokens (a single huge word is cut by tokens)."""
    words = re.findall(r"\s*\S+", sentence)
    if not words:
        return [sentence]
    words[-1] += sentence[len("".join(words)) :]  # trailing whitespace separates what follows
    runs: list[str] = []
    current = ""
    for word in words:
        if count(word.strip()) > size:
            if current:
                runs.append(current)
            current = ""
            runs.extend(_cut_word(word, size, tok))
            continue
        if current and count((current + word).strip()) > size:
            runs.append(current)
            current = ""
        current += word
    if current:
        runs.append(current)
    return runs


def _cut_word(word: str, size: int, tok: Tokenizer) -> list[str]:
    """Token windows of one word, keeping the whitespace around it on the outer windows."""
    core = word.strip()
    lead = word[: len(word) - len(word.lstrip())]
    trail = word[len(word.rstrip()) :]
    parts = fixed_size(core, size, 0, tok)
    parts[0] = lead + parts[0]
    parts[-1] += trail
    return parts


def pack(pieces: Sequence[str], size: int, overlap: int, count: Count) -> list[str]:
    """Greedily join consecutive pieces up to `size`; carry a tail of <= `overlap` tokens."""
    chunks: list[str] = []
    window: list[int] = []  # indices of pieces in the chunk being built
    for i in range(len(pieces)):
        if window and count(_join(pieces, [*window, i])) > size:
            chunks.append(_join(pieces, window))
            window = _tail(pieces, window, i, size, overlap, count)
        window.append(i)
    if window:
        chunks.append(_join(pieces, window))
    return [c for c in chunks if c]


def _join(pieces: Sequence[str], window: Sequence[int]) -> str:
    return "".join(pieces[j] for j in window).strip()


def _tail(
    pieces: Sequence[str], window: list[int], following: int, size: int, overlap: int, count: Count
) -> list[int]:
    """The longest suffix of `window` within `overlap` tokens that leaves room for `following`."""
    tail: list[int] = []
    for start in range(len(window) - 1, 0, -1):
        candidate = window[start:]
        if count(_join(pieces, candidate)) > overlap:
            break
        if count(_join(pieces, [*candidate, following])) > size:
            break
        tail = candidate
    return tail


SplitFn = Callable[[str], list[str]]
