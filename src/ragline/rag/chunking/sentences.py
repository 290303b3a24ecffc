"""Sentence and paragraph boundaries, as spans that join back into the original text."""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "cf",
        "al",
        "fig",
        "figs",
        "no",
        "nos",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "inc",
        "ltd",
        "co",
        "approx",
        "eq",
        "sec",
        "ch",
        "vol",
        "pp",
        "ca",
    ]
)
# End of sentence: . ! ? (plus closing quotes/brackets), whitespace, then a likely sentence start
# (checked in code: an upper-case letter in any script, or a digit).
_BOUNDARY = re.compile(r"""(?<=[.!?])["'”’)\]]*(?=\s+["'“‘(\[]?([^\W_]))""")
# A blank line; "\r" so that Windows line endings ("\r\n\r\n") separate paragraphs too.
_PARAGRAPH = re.compile(r"\n[ \t\r]*\n\s*")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs (blank-line separated); each keeps the blank lines that follow it."""
    pieces, start = [], 0
    for match in _PARAGRAPH.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return [p for p in pieces if p]


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`; "".join(result) == text. Whitespace starts the next sentence."""
    pieces: list[str] = []
    for paragraph in split_paragraphs(text):
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            end = match.end()
            following = match.group(1)
            if not (following.isupper() or following.isdigit()):
                continue
            if _is_abbreviation(paragraph[start:end]):
                continue
            pieces.append(paragraph[start:end])
            start = end
        if start < len(paragraph):
            pieces.append(paragraph[start:])
    return [p for p in pieces if p]


def _is_abbreviation(sentence: str) -> bool:
    """'e.g.', 'Dr.' or an initial ('J.') ends the candidate: not a real sentence end."""
    last = sentence.rstrip("\"'”’)]").rsplit(None, 1)[-1] if sentence.strip() else ""
    word = last.rstrip(".").lower()
    return last.endswith(".") and (word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()))
