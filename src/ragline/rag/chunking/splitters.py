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
from functools import lru_cache
from typing import Protocol

from ragline.rag.chunking.sentences import split_paragraphs, split_sentences


class Tokenizer(Protocol):
    """The slice of `tiktoken.Encoding` the splitters use."""

    def encode_ordinary(self, text: str) -> list[int]: ...

    def decode(self, tokens: Sequence[int]) -> str: ...

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]: ...


Count = Callable[[str], int]


def counter(tok: Tokenizer) -> Count:
    """The number of tokens in a text."""
    return lambda text: len(tok.encode_ordinary(text))


def fixed_size(
    text: str, size: int, overlap: int, tok: Tokenizer, count: Count | None = None
) -> list[str]:
    """Windows of at most `size` tokens, each starting `size - overlap` after the previous one.

    Windows start and end between characters (a token may hold part of one, e.g. of a CJK
    character), so no window shows a broken character; they are shortened where needed, also
    when `count` (default: the tokenizer's count) finds a window longer than `size`.
    """
    tokens = tok.encode_ordinary(text)
    count = count or counter(tok)
    cuts = _character_cuts(tok.decode_tokens_bytes(tokens))
    chunks = []
    start = 0
    while start < len(tokens):
        end = _cut_at_most(cuts, start + size, start)
        piece = tok.decode(tokens[start:end]).strip()
        while (n := count(piece)) > size and end > _cut_at_most(cuts, start, start):
            # shrink in proportion first (a stricter `count` may need far fewer tokens)
            target = start + (end - start) * size // n if n > size + 1 else end - 1
            end = _cut_at_most(cuts, min(target, end - 1), start)
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


def recursive(
    text: str, size: int, overlap: int, tok: Tokenizer, count: Count | None = None
) -> list[str]:
    """Chunks of at most `size` tokens made of whole paragraphs, else whole sentences.

    A sentence longer than `size` on its own is the only thing ever cut (at word boundaries).
    Consecutive chunks share trailing sentences worth at most `overlap` tokens. Lengths are
    measured by `count` (default: the tokenizer's count).
    """
    count = lru_cache(maxsize=4096)(count or counter(tok))  # pieces are counted twice
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
    """Greedy runs of words of at most `size` tokens (a single huge word is cut by tokens).

    Each run is the longest prefix that fits, found by binary search (every word is at least
    one token, so a run has at most `size` words): a few counts per run, not one per word.
    """
    words = re.findall(r"\s*\S+", sentence)
    if not words:
        return [sentence]
    words[-1] += sentence[len("".join(words)) :]  # trailing whitespace separates what follows
    per_word = count(sentence.strip()) / len(words)
    runs: list[str] = []
    start = 0
    while start < len(words):
        if count(words[start].strip()) > size:
            runs.extend(_cut_word(words[start], size, tok, count))
            start += 1
            continue
        fits, over = _bracket(words, start, size, per_word, count)
        while over - fits > 1:
            middle = (fits + over) // 2
            if count("".join(words[start:middle]).strip()) <= size:
                fits = middle
            else:
                over = middle
        runs.append("".join(words[start:fits]))
        start = fits
    return runs


def _bracket(
    words: Sequence[str], start: int, size: int, per_word: float, count: Count
) -> tuple[int, int]:
    """(fits, over): a run of words[start:fits] fits, words[start:over] does not (or runs out).

    The guess from the sentence's tokens per word is probed first, and a point 5% away on
    the other side, so the binary search that follows has a narrow range.
    """
    fits, over = start + 1, min(len(words), start + size) + 1
    guess = start + int(size / max(per_word, 1e-9))
    step = max(1, (guess - start) // 20)
    for probe in (guess, guess + step, guess - step):
        if fits < probe < over:
            if count("".join(words[start:probe]).strip()) <= size:
                fits = probe
            else:
                over = probe
    return fits, over


def _cut_word(word: str, size: int, tok: Tokenizer, count: Count) -> list[str]:
    """Token windows of one word, keeping the whitespace around it on the outer windows."""
    core = word.strip()
    lead = word[: len(word) - len(word.lstrip())]
    trail = word[len(word.rstrip()) :]
    parts = fixed_size(core, size, 0, tok, count)
    parts[0] = lead + parts[0]
    parts[-1] += trail
    return parts


def pack(pieces: Sequence[str], size: int, overlap: int, count: Count) -> list[str]:
    """Greedily join consecutive pieces up to `size`; carry a tail of <= `overlap` tokens.

    Sums of the pieces' lengths decide while a chunk is clearly within the size; the exact
    count of the joined text is taken only near the limit (tokens shift by about one at each
    join), which keeps packing linear instead of re-counting every growing chunk.
    """
    lengths = [count(p.strip()) for p in pieces]
    chunks: list[str] = []
    window: list[int] = []  # indices of pieces in the chunk being built
    used = 0
    for i, n in enumerate(lengths):
        if window and _over(pieces, [*window, i], used + n, size, count):
            chunks.append(_join(pieces, window))
            window = _tail(pieces, window, i, lengths, size, overlap, count)
            used = sum(lengths[j] for j in window)
        window.append(i)
        used += n
    if window:
        chunks.append(_join(pieces, window))
    return [c for c in chunks if c]


def _over(pieces: Sequence[str], window: list[int], estimate: int, size: int, count: Count) -> bool:
    if estimate + len(window) + 1 <= size:
        return False
    return count(_join(pieces, window)) > size


def _join(pieces: Sequence[str], window: Sequence[int]) -> str:
    return "".join(pieces[j] for j in window).strip()


def _tail(
    pieces: Sequence[str],
    window: list[int],
    following: int,
    lengths: Sequence[int],
    size: int,
    overlap: int,
    count: Count,
) -> list[int]:
    """The longest suffix of `window` within `overlap` tokens that leaves room for `following`."""
    tail: list[int] = []
    used = 0
    for start in range(len(window) - 1, 0, -1):
        used += lengths[window[start]]
        if used > overlap or _over(
            pieces, [*window[start:], following], used + lengths[following], size, count
        ):
            break
        tail = window[start:]
    return tail


SplitFn = Callable[[str], list[str]]
