"""Chunking: token-bounded splitters, semantic cuts, the Chunker, and offline tiktoken."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry
from hypothesis import given, settings
from hypothesis import strategies as st

from ragline.rag.chunking import Chunker, chunk_id, get_encoding
from ragline.rag.chunking.semantic import breakpoints
from ragline.rag.chunking.splitters import fixed_size, recursive
from ragline.rag.config import ChunkingConfig
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.errors import IngestError
from ragline.rag.types import Document, Section

ENC = get_encoding("cl100k_base")


def tokens(text: str) -> int:
    return len(ENC.encode_ordinary(text))


def shared(first: str, second: str) -> str:
    """The longest start of `second` that `first` ends with (the overlap of two chunks)."""
    for end in range(len(second), 0, -1):
        if first.endswith(second[:end]):
            return second[:end]
    return ""


def sentences_text(count: int) -> str:
    """Distinct sentences ("Sentence number 3 talks about item 3.") in paragraphs of four."""
    out = []
    for i in range(count):
        out.append(f"Sentence number {i} talks about item {i}.")
        out.append("\n\n" if i % 4 == 3 else " ")
    return "".join(out).strip()


def ends_a_sentence(chunk: str) -> bool:
    return chunk.rstrip("\"')”’").endswith((".", "!", "?"))


# --- fixed_size -------------------------------------------------------------------------------


# Common words that are one cl100k token with or without a leading space.
WORDS = [
    "the", "cat", "sat", "on", "a", "mat", "and", "we", "ate", "red", "jam", "from", "one", "big",
]  # fmt: skip


@pytest.mark.unit
@pytest.mark.parametrize(("size", "overlap"), [(16, 0), (16, 4), (50, 10), (7, 3)])
def test_fixed_size_windows_have_size_tokens_and_overlap(size: int, overlap: int) -> None:
    assert all(tokens(w) == tokens(f" {w}") == 1 for w in WORDS)
    words = [WORDS[i % len(WORDS)] for i in range(203)]  # one token per word

    chunks = fixed_size(" ".join(words), size, overlap, ENC)

    step = size - overlap
    starts = range(0, len(words) - overlap, step)
    assert chunks == [" ".join(words[i : i + size]) for i in starts]
    assert all(tokens(c) == size for c in chunks[:-1])


@pytest.mark.unit
def test_fixed_size_chunks_stay_within_size_on_any_text() -> None:
    text = sentences_text(30) + " Naïve café — 1999 e.g. Dr. Who?"
    for size, overlap in [(5, 0), (7, 3), (16, 4)]:
        chunks = fixed_size(text, size, overlap, ENC)
        assert all(tokens(c) <= size for c in chunks)
        assert text.endswith(chunks[-1])


@pytest.mark.unit
def test_fixed_size_without_overlap_loses_no_text() -> None:
    text = sentences_text(12)
    chunks = fixed_size(text, 9, 0, ENC)
    assert "".join("".join(chunks).split()) == "".join(text.split())


@pytest.mark.unit
def test_fixed_size_never_cuts_a_character_in_half() -> None:
    text = "日本語のテキストと絵文字🙂を含む文章です。" * 20  # tokens split these characters' bytes

    chunks = fixed_size(text, 7, 2, ENC)

    assert all("\ufffd" not in c for c in chunks)
    assert all(tokens(c) <= 7 for c in chunks)
    assert all(c in text for c in chunks)
    assert text.startswith(chunks[0]) and text.endswith(chunks[-1])


@pytest.mark.unit
def test_fixed_size_of_short_and_empty_text() -> None:
    assert fixed_size("Just this.", 50, 10, ENC) == ["Just this."]
    assert fixed_size("", 50, 10, ENC) == []
    assert fixed_size("   \n ", 50, 10, ENC) == []


# --- recursive --------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(("size", "overlap"), [(20, 0), (40, 12), (64, 20), (200, 50)])
def test_recursive_chunks_are_whole_sentences_within_size(size: int, overlap: int) -> None:
    text = sentences_text(40)

    chunks = recursive(text, size, overlap, ENC)

    assert len(chunks) > 1
    assert all(tokens(c) <= size for c in chunks)
    assert all(ends_a_sentence(c) for c in chunks)
    assert all(c.startswith("Sentence number") for c in chunks)
    for i in range(40):
        assert any(f"item {i}." in c for c in chunks)


@pytest.mark.unit
def test_recursive_overlap_is_whole_sentences_within_overlap_tokens() -> None:
    text = sentences_text(40)

    chunks = recursive(text, 30, 12, ENC)  # paragraphs (40 tokens) are cut into sentences

    overlaps = [shared(a, b) for a, b in pairwise(chunks)]
    assert any(overlaps)  # the setting is used at all
    assert all(tokens(o) <= 12 for o in overlaps)
    assert all(not o or ends_a_sentence(o) for o in overlaps)


@pytest.mark.unit
def test_recursive_without_overlap_shares_nothing() -> None:
    chunks = recursive(sentences_text(40), 40, 0, ENC)
    assert not any(shared(a, b) for a, b in pairwise(chunks))


@pytest.mark.unit
def test_recursive_prefers_whole_paragraphs() -> None:
    text = "First paragraph has two sentences. Here is the second.\n\nSecond paragraph. Also two."
    assert recursive(
        text, tokens("First paragraph has two sentences. Here is the second."), 0, ENC
    ) == [
        "First paragraph has two sentences. Here is the second.",
        "Second paragraph. Also two.",
    ]


@pytest.mark.unit
def test_recursive_cuts_an_over_long_sentence_at_words_only() -> None:
    text = "Short one.\n\n" + "word " * 50 + "end\n\nNext paragraph here."

    chunks = recursive(text, 20, 0, ENC)

    assert all(tokens(c) <= 20 for c in chunks)
    chunk_words = [w for c in chunks for w in c.split()]
    assert chunk_words == text.split()  # nothing lost, nothing glued together ("endNext")


@pytest.mark.unit
def test_recursive_cuts_a_huge_word_by_tokens_and_keeps_its_neighbours_apart() -> None:
    text = "Before it. " + "x" * 400 + " after it."

    chunks = recursive(text, 16, 0, ENC)

    assert all(tokens(c) <= 16 for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")
    assert chunks[0] == "Before it." and chunks[-1].endswith(" after it.")


@pytest.mark.unit
def test_recursive_counts_tokens_of_the_stripped_chunk() -> None:
    # " naïve" is 2 tokens but "naïve", the start of a stripped chunk, is 3: counting the
    # pieces (" naïve" + " naïve") rather than the chunk ("naïve naïve", 5) overshoots.
    chunks = recursive("naïve " * 12 + "end.", 4, 0, ENC)
    assert all(tokens(c) <= 4 for c in chunks)
    assert " ".join(chunks).split() == ["naïve"] * 12 + ["end."]


# Sentences the splitter sees as such: a capital first, no abbreviation or initial last.
SENTENCE = st.builds(
    lambda first, middle, last, stop: " ".join([first, *middle, last]) + stop,
    st.sampled_from(["Alpha", "Naïve", "Café", "1999", "Über"]),
    st.lists(st.sampled_from(["beta", "日本", "x", "e.g.", "Dr.", "—", "naïve"]), max_size=12),
    st.sampled_from(["end", "café", "2024", "日本語"]),
    st.sampled_from([".", "!", "?"]),
)


@pytest.mark.unit
@settings(max_examples=100, deadline=None)
@given(
    sentences=st.lists(SENTENCE, min_size=1, max_size=15),
    separators=st.lists(st.sampled_from([" ", "  ", "\n", "\n\n", " \n\n "]), min_size=15),
    size=st.integers(8, 80),
    overlap_share=st.floats(0, 0.5),
)
def test_recursive_property_size_and_no_text_lost(
    sentences: list[str], separators: list[str], size: int, overlap_share: float
) -> None:
    text = "".join(s + sep for s, sep in zip(sentences, separators, strict=False))

    chunks = recursive(text, size, int(size * overlap_share), ENC)

    assert all(tokens(c) <= size for c in chunks)
    assert all(c == c.strip() and c for c in chunks)
    for sentence in sentences:
        if tokens(sentence) <= size:
            assert any(sentence in c for c in chunks)
    words = {w for w in text.split() if tokens(w) <= size}  # longer ones are cut by tokens
    assert words <= {w for c in chunks for w in c.split()}


# --- semantic ---------------------------------------------------------------------------------

CATS = (
    "Cats are small domesticated carnivores that purr. A kitten sleeps up to sixteen hours "
    "a day. Cats groom their fur with rough tongues. Most cats dislike getting wet in water. "
    "A cat's whiskers help it sense narrow spaces."
)
TAXES = (
    "Income tax returns are due in April each year. Deductions reduce the taxable income you "
    "report. Businesses file quarterly estimated tax payments. The revenue service audits a "
    "small share of returns. Capital gains are taxed at a different rate."
)


@pytest.mark.unit
def test_breakpoints_fall_where_the_embeddings_change() -> None:
    rng = np.random.default_rng(0)
    topic_a, topic_b = rng.normal(size=(2, 16))
    rows = [topic_a + 0.1 * rng.normal(size=16) for _ in range(6)]
    rows += [topic_b + 0.1 * rng.normal(size=16) for _ in range(6)]

    assert breakpoints(np.array(rows, dtype=np.float32), 90) == [5]
    assert breakpoints(np.zeros((1, 16), dtype=np.float32), 90) == []


@pytest.mark.integration
def test_semantic_cuts_between_two_topics(embedder: SentenceTransformerEmbedder) -> None:
    config = ChunkingConfig(strategy="semantic", chunk_size=200, chunk_overlap=0)
    chunker = Chunker(config, embed=embedder.embed)

    assert chunker.split(f"{CATS} {TAXES}") == [CATS, TAXES]


@pytest.mark.integration
def test_semantic_chunks_stay_within_size_and_whole_sentences(
    embedder: SentenceTransformerEmbedder,
) -> None:
    config = ChunkingConfig(strategy="semantic", chunk_size=24, chunk_overlap=0)
    chunker = Chunker(config, embed=embedder.embed)

    chunks = chunker.split(f"{CATS}\n\n{TAXES}")

    assert all(tokens(c) <= 24 for c in chunks)
    assert all(ends_a_sentence(c) for c in chunks)
    assert not any("cat" in c.lower() and "tax" in c.lower() for c in chunks)


@pytest.mark.integration
def test_semantic_short_text_is_one_chunk(embedder: SentenceTransformerEmbedder) -> None:
    config = ChunkingConfig(strategy="semantic", chunk_size=200, chunk_overlap=0)
    assert Chunker(config, embed=embedder.embed).split("One. Two.") == ["One. Two."]


@pytest.mark.unit
def test_semantic_strategy_needs_an_embed_function() -> None:
    with pytest.raises(ValueError, match="embed function"):
        Chunker(ChunkingConfig(strategy="semantic"))


# --- Chunker ----------------------------------------------------------------------------------


def doc(*sections: Section, source: str = "guide.md", path: str = "/data/guide.md") -> Document:
    return Document(source, path, sections, "2024-01-01T00:00:00Z", {"lang": "en"})


@pytest.mark.unit
@pytest.mark.parametrize(
    ("chunk_size", "cap", "expected"), [(512, 128, 128), (100, 256, 100), (300, None, 300)]
)
def test_size_is_chunk_size_capped_to_the_embedder(
    chunk_size: int, cap: int | None, expected: int
) -> None:
    chunker = Chunker(ChunkingConfig(chunk_size=chunk_size, chunk_overlap=10), size_cap=cap)

    chunks = chunker.chunk(doc(Section(sentences_text(80))))

    assert chunker.size == expected
    assert all(tokens(c.text) <= expected for c in chunks)
    assert max(tokens(c.text) for c in chunks) > expected // 2  # not some smaller size


@pytest.mark.unit
def test_overlap_is_at_most_half_the_capped_size() -> None:
    chunker = Chunker(ChunkingConfig(chunk_size=512, chunk_overlap=200), size_cap=64)
    assert chunker.overlap == 32


@pytest.mark.unit
def test_chunk_ids_are_stable_uuid5() -> None:
    chunker = Chunker(ChunkingConfig(chunk_size=40, chunk_overlap=0))
    document = doc(Section(sentences_text(10)))

    first = chunker.chunk(document)
    again = chunker.chunk(document)

    assert [c.id for c in first] == [c.id for c in again]
    assert all(uuid.UUID(c.id).version == 5 for c in first)
    assert len({c.id for c in first}) == len(first)
    assert first[0].id == chunk_id("/data/guide.md", "guide.md", first[0].text)


@pytest.mark.unit
def test_chunk_id_depends_on_source_and_text() -> None:
    base = chunk_id("/data/a.md", "a.md", "Same text.")
    assert chunk_id("/data/a.md", "a.md", "Same text.") == base
    assert chunk_id("/data/b.md", "a.md", "Same text.") != base
    assert chunk_id("/data/a.md", "b.md", "Same text.") != base
    assert chunk_id("/data/a.md", "a.md", "Other text.") != base


@pytest.mark.unit
def test_chunks_never_span_sections() -> None:
    chunker = Chunker(ChunkingConfig(chunk_size=200, chunk_overlap=20))
    document = doc(
        Section("Page one text.", page_number=1, section_heading="Intro"),
        Section("Page two text.", page_number=2, section_heading="Intro > Details"),
    )

    chunks = chunker.chunk(document)

    assert [(c.text, c.page_number, c.section_heading) for c in chunks] == [
        ("Page one text.", 1, "Intro"),
        ("Page two text.", 2, "Intro > Details"),
    ]


@pytest.mark.unit
def test_chunks_carry_document_fields_and_consecutive_indexes() -> None:
    chunker = Chunker(ChunkingConfig(chunk_size=30, chunk_overlap=0))

    chunks = chunker.chunk(doc(Section(sentences_text(12)), Section("Last section.")))

    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert {(c.source_document, c.source_path, c.date_created) for c in chunks} == {
        ("guide.md", "/data/guide.md", "2024-01-01T00:00:00Z")
    }
    assert chunks[0].payload()["lang"] == "en"


@pytest.mark.unit
def test_duplicate_text_in_one_document_is_stored_once() -> None:
    chunker = Chunker(ChunkingConfig(chunk_size=200, chunk_overlap=0))
    boilerplate = "Copyright Example Corp. All rights reserved."

    chunks = chunker.chunk(
        doc(Section(boilerplate, page_number=1), Section("Body."), Section(boilerplate))
    )

    assert [c.text for c in chunks] == [boilerplate, "Body."]
    assert [c.chunk_index for c in chunks] == [0, 1]


@pytest.mark.unit
def test_document_without_text_is_an_ingest_error() -> None:
    chunker = Chunker(ChunkingConfig())
    with pytest.raises(IngestError, match="no text left"):
        chunker.chunk(doc(Section("  \n\n  ")))


@pytest.mark.unit
def test_chunker_splits_with_the_configured_strategy_and_size() -> None:
    text = sentences_text(20)
    fixed = Chunker(ChunkingConfig(strategy="fixed_size", chunk_size=25, chunk_overlap=5))
    packed = Chunker(ChunkingConfig(strategy="recursive", chunk_size=25, chunk_overlap=5))

    assert fixed.split(text) == fixed_size(text, 25, 5, ENC)
    assert packed.split(text) == recursive(text, 25, 5, ENC)
    assert fixed.split(text) != packed.split(text)


# --- tiktoken offline -------------------------------------------------------------------------

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


@pytest.fixture
def offline_tiktoken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty tiktoken cache in tmp_path, no loaded encodings, and no network."""

    def no_network(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    get_encoding.cache_clear()
    yield tmp_path
    get_encoding.cache_clear()


@pytest.mark.unit
def test_tiktoken_loads_from_the_packaged_file(offline_tiktoken: Path) -> None:
    encoding = get_encoding("cl100k_base")

    cached = offline_tiktoken / hashlib.sha1(CL100K_URL.encode()).hexdigest()
    assert cached.is_file()
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == CL100K_SHA256
    assert encoding.encode_ordinary("hello world") == ENC.encode_ordinary("hello world")


@pytest.mark.unit
def test_damaged_cache_file_is_replaced_not_downloaded(offline_tiktoken: Path) -> None:
    cached = offline_tiktoken / hashlib.sha1(CL100K_URL.encode()).hexdigest()
    cached.write_bytes(b"half a download")

    encoding = get_encoding("cl100k_base")

    assert len(encoding.encode_ordinary("hello world")) == 2
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == CL100K_SHA256
