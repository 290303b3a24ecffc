"""Sentence and paragraph splitting: spans that join back into the text, cut at real ends."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragline.rag.chunking.sentences import split_paragraphs, split_sentences

pytestmark = pytest.mark.unit


def stripped(pieces: list[str]) -> list[str]:
    return [p.strip() for p in pieces]


# Text made of the characters and words the splitter looks at, so that hypothesis hits them.
FRAGMENTS = [*"aZé1. !?\"')\n\t\r", "e.g.", "Dr.", " J. ", "\n\n", "Word", "“Q”"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_pieces_join_back_into_the_text(text: str) -> None:
    sentences = split_sentences(text)
    paragraphs = split_paragraphs(text)

    assert "".join(sentences) == text
    assert "".join(paragraphs) == text
    assert all(sentences) and all(paragraphs)  # no empty pieces


def test_splits_after_full_stop_exclamation_and_question_marks() -> None:
    text = "It works. Does it scale? Yes! 42 nodes ran it."
    assert split_sentences(text) == ["It works.", " Does it scale?", " Yes!", " 42 nodes ran it."]


@pytest.mark.parametrize(
    "text",
    [
        "Use a fast store, e.g. Qdrant for vectors.",
        "Ask Dr. Smith about it.",
        "Some tools, i.e. The ones we ship, are fast.",
        "Written by J. R. R. Tolkien in the last century.",
        "See Fig. 3 for the numbers.",
        "Acme Inc. Sells rockets.",
        "Pi is 3.14 and e is 2.72 here.",
        "Version 2. is not a sentence end when lower case follows. or here",
    ],
)
def test_does_not_split_inside_a_sentence(text: str) -> None:
    assert split_sentences(text) == [text]


def test_closing_quote_stays_with_its_sentence() -> None:
    text = 'He said "Stop." Then he left. (It was late.) Nobody saw.'
    assert stripped(split_sentences(text)) == [
        'He said "Stop."',
        "Then he left.",
        "(It was late.)",
        "Nobody saw.",
    ]


def test_sentence_starting_with_a_non_ascii_capital_is_split() -> None:
    assert stripped(split_sentences("Das ist gut. Über alles. Élan vital.")) == [
        "Das ist gut.",
        "Über alles.",
        "Élan vital.",
    ]


def test_whitespace_starts_the_next_sentence() -> None:
    assert split_sentences("One.  Two.\nThree.") == ["One.", "  Two.", "\nThree."]


def test_paragraphs_keep_the_blank_lines_that_follow_them() -> None:
    text = "First para\nstill first.\n\nSecond.\n  \n\n\nThird"
    assert split_paragraphs(text) == ["First para\nstill first.\n\n", "Second.\n  \n\n\n", "Third"]


def test_windows_line_endings_separate_paragraphs() -> None:
    assert split_paragraphs("One.\r\n\r\nTwo.\r\n") == ["One.\r\n\r\n", "Two.\r\n"]


def test_a_paragraph_break_ends_a_sentence_without_punctuation() -> None:
    text = "Heading without a stop\n\nbody text starts here. More."
    assert stripped(split_sentences(text)) == [
        "Heading without a stop",
        "body text starts here.",
        "More.",
    ]


def test_single_newline_is_not_a_paragraph() -> None:
    assert split_paragraphs("line one\nline two") == ["line one\nline two"]
