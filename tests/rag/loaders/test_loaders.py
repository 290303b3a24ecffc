"""Loaders: one file's bytes -> documents, and a fixable IngestError for every bad input."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from ragline.rag.errors import IngestError
from ragline.rag.loaders import load_file
from ragline.rag.types import Document

pytestmark = pytest.mark.unit

MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z


def load(path: Path, content: str | bytes, text_field: str = "text") -> list[Document]:
    """Write `content` to `path` with a fixed mtime and load it as the ingest would."""
    data = content.encode() if isinstance(content, str) else content
    path.write_bytes(data)
    os.utime(path, (MTIME, MTIME))
    return load_file(path, data, path.name, text_field)


def only(docs: list[Document]) -> Document:
    assert len(docs) == 1
    return docs[0]


# --- plain text -------------------------------------------------------------------------------


def test_txt_is_one_section_named_after_the_relative_path(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("First line.\nSecond line.\n")
    os.utime(path, (MTIME, MTIME))

    doc = only(load_file(path, path.read_bytes(), "sub/notes.txt", "text"))

    assert doc.source_document == "sub/notes.txt"
    assert doc.source_path == str(path)
    assert [s.text for s in doc.sections] == ["First line.\nSecond line.\n"]
    assert doc.date_created == "2023-11-14T22:13:20Z"  # no date in the file: its mtime


def test_utf8_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "bom.txt", b"\xef\xbb\xbfhello"))
    assert doc.sections[0].text == "hello"


# --- markdown ---------------------------------------------------------------------------------

GUIDE = """\
---
title: Setup guide
date: 2024-03-05
tags: [install, linux]
---
Read this first.

# Guide

## Install

Run the installer.

```bash
# this comment is code, not a heading
pip install ragline
```

## Configure
### Files
Edit the config file.
"""


def test_markdown_front_matter_becomes_metadata_and_date(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "guide.md", GUIDE))

    assert doc.metadata["title"] == "Setup guide"
    assert doc.metadata["tags"] == ["install", "linux"]
    assert doc.date_created == "2024-03-05T00:00:00Z"
    assert "---" not in doc.sections[0].text


def test_markdown_date_with_offset_is_converted_to_utc(tmp_path: Path) -> None:
    text = "---\ndate: 2024-03-05T10:30:00+02:00\n---\nBody.\n"
    doc = only(load(tmp_path / "a.md", text))
    assert doc.date_created == "2024-03-05T08:30:00Z"


def test_markdown_sections_carry_heading_paths(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "guide.md", GUIDE))

    headings = [s.section_heading for s in doc.sections]
    # "# Guide" and "## Configure" hold only a heading: no section of their own.
    assert headings == [None, "Guide > Install", "Guide > Configure > Files"]
    assert doc.sections[0].text == "Read this first."
    assert doc.sections[2].text == "### Files\nEdit the config file."


def test_markdown_code_fence_lines_starting_with_hash_are_not_headings(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "guide.md", GUIDE))

    install = doc.sections[1]
    assert "# this comment is code, not a heading" in install.text
    assert "pip install ragline" in install.text
    assert all("comment" not in (s.section_heading or "") for s in doc.sections)


def test_markdown_title_falls_back_to_first_heading(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "a.md", "# Release notes\n\nBug fixes.\n"))
    assert doc.metadata["title"] == "Release notes"


def test_markdown_sibling_heading_replaces_deeper_path(tmp_path: Path) -> None:
    text = "# A\n## B\nb text\n### C\nc text\n## D\nd text\n# E\ne text\n"
    doc = only(load(tmp_path / "a.md", text))
    headings = [s.section_heading for s in doc.sections]
    assert headings == ["A > B", "A > B > C", "A > D", "E"]


# --- html -------------------------------------------------------------------------------------

PAGE = """\
<!DOCTYPE html>
<html><head><title>Ragline docs</title><style>body { color: red }</style></head>
<body>
  <nav><a href="/">Home</a> | <a href="/about">About us</a></nav>
  <header><p>Site banner</p></header>
  <main>
    <!-- draft: remove before publishing -->
    <h1>Install</h1>
    <p>Download the <b>wheel</b>.</p>
    <script>trackVisitor();</script>
    <h2>Linux</h2>
    <p>Use pip.</p>
    <h6>Footnote</h6>
    <p>Small print.</p>
  </main>
  <aside>Related links</aside>
  <footer>Copyright 2024</footer>
</body></html>
"""


def test_html_title_is_metadata(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "page.html", PAGE))
    assert doc.metadata["title"] == "Ragline docs"


def test_html_keeps_main_text_only(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "page.html", PAGE))
    text = "\n".join(s.text for s in doc.sections)

    assert "Download the wheel." in text
    for noise in ("Home", "Site banner", "trackVisitor", "color: red", "Related", "Copyright"):
        assert noise not in text
    assert "draft" not in text  # an HTML comment is not visible text


def test_html_sections_start_at_each_heading(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "page.html", PAGE))

    assert [s.section_heading for s in doc.sections] == ["Install", "Linux", "Footnote"]
    assert [s.text for s in doc.sections] == [
        "Install\nDownload the wheel.",
        "Linux\nUse pip.",
        "Footnote\nSmall print.",
    ]


def test_html_article_header_keeps_its_heading(tmp_path: Path) -> None:
    html = "<body><article><header><h1>Post</h1></header><p>Body text.</p></article></body>"
    doc = only(load(tmp_path / "post.html", html))
    assert [(s.section_heading, s.text) for s in doc.sections] == [("Post", "Post\nBody text.")]
    assert doc.metadata["title"] == "Post"


def test_html_fragment_without_body_does_not_repeat_title_as_text(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "frag.html", "<title>Tab name</title><p>Only this.</p>"))
    assert [s.text for s in doc.sections] == ["Only this."]
    assert doc.metadata["title"] == "Tab name"


def test_html_text_right_after_a_heading_is_not_glued_to_it(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "a.html", "<body><h2>Title</h2>Loose text.</body>"))
    assert doc.sections[0].text == "Title\nLoose text."


# --- pdf --------------------------------------------------------------------------------------


def with_metadata(pdf: bytes, metadata: dict[str, str]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata(metadata)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_has_one_section_per_page_numbered_from_one(
    tmp_path: Path, make_pdf: Callable[..., Path]
) -> None:
    path = make_pdf(tmp_path / "report.pdf", ["First page.", "Second page\nmore text"])
    doc = only(load_file(path, path.read_bytes(), "report.pdf", "text"))

    assert [(s.page_number, s.text) for s in doc.sections] == [
        (1, "First page."),
        (2, "Second page\nmore text"),
    ]
    assert doc.metadata["page_count"] == 2


def test_pdf_blank_page_is_skipped_but_keeps_page_numbers(
    tmp_path: Path, make_pdf: Callable[..., Path]
) -> None:
    path = make_pdf(tmp_path / "a.pdf", ["One.", "", "Three."])
    doc = only(load_file(path, path.read_bytes(), "a.pdf", "text"))
    assert [s.page_number for s in doc.sections] == [1, 3]


def test_pdf_title_author_and_date_are_metadata(
    tmp_path: Path, make_pdf: Callable[..., Path]
) -> None:
    path = make_pdf(tmp_path / "a.pdf", ["Text."], title="Annual report")
    data = with_metadata(
        path.read_bytes(),
        {"/Author": "Ada Lovelace", "/CreationDate": "D:20240305120000+02'00'"},
    )
    doc = only(load(tmp_path / "b.pdf", data))

    assert doc.metadata["title"] == "Annual report"
    assert doc.metadata["author"] == "Ada Lovelace"
    assert doc.date_created == "2024-03-05T10:00:00Z"


# --- jsonl ------------------------------------------------------------------------------------


def jsonl(*records: object) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_jsonl_record_per_line_with_metadata_and_id(tmp_path: Path) -> None:
    text = jsonl(
        {"id": 7, "text": "Seven.", "lang": "en", "date": "2024-01-02T03:04:05Z"},
        {"_id": "abc", "doc_id": "ignored", "text": "Letters."},
        {"doc_id": "d-1", "text": "Doc id."},
    )
    docs = load(tmp_path / "data.jsonl", text)

    assert [d.source_document for d in docs] == ["7", "abc", "d-1"]
    assert [d.sections[0].text for d in docs] == ["Seven.", "Letters.", "Doc id."]
    assert docs[0].metadata == {"id": 7, "lang": "en", "date": "2024-01-02T03:04:05Z"}
    assert docs[0].date_created == "2024-01-02T03:04:05Z"
    assert docs[1].date_created == "2023-11-14T22:13:20Z"  # no date: the file's mtime
    assert all(d.source_path == str(tmp_path / "data.jsonl") for d in docs)


def test_jsonl_title_is_prepended_and_becomes_section_heading(tmp_path: Path) -> None:
    doc = only(load(tmp_path / "a.jsonl", jsonl({"title": "Refunds", "text": "Within 30 days."})))
    assert doc.sections[0].text == "Refunds\nWithin 30 days."
    assert doc.sections[0].section_heading == "Refunds"


def test_jsonl_text_field_is_configurable(tmp_path: Path) -> None:
    text = jsonl({"body": "The body.", "text": "not this"})
    doc = only(load(tmp_path / "a.jsonl", text, text_field="body"))
    assert doc.sections[0].text == "The body."
    assert doc.metadata["text"] == "not this"


def test_jsonl_records_without_id_are_named_by_their_line(tmp_path: Path) -> None:
    text = "\n" + jsonl({"text": "   "}, {"text": "On line three."})
    doc = only(load(tmp_path / "a.jsonl", text))
    assert doc.source_document == "a.jsonl#3"


def test_jsonl_line_separator_inside_a_string_is_not_a_new_line(tmp_path: Path) -> None:
    text = '{"text": "one\u2028two\u0085three"}\r\n'
    doc = only(load(tmp_path / "a.jsonl", text))
    assert doc.sections[0].text == "one\u2028two\u0085three"


# --- bad input --------------------------------------------------------------------------------

BAD_INPUTS = [
    pytest.param("scan.pdf", b"\x8f\x13garbage" * 64, "corrupt PDF", id="random-bytes-pdf"),
    pytest.param("a.pdf", b"", "corrupt PDF", id="empty-pdf"),
    pytest.param("blob.txt", b"text\x00\x01\x02", "binary file", id="nul-bytes-txt"),
    pytest.param("a.md", b"caf\xe9 au lait", "re-save the file as UTF-8", id="latin1"),
    pytest.param("a.txt", b"", "empty file", id="empty"),
    pytest.param("a.md", b" \n\t\r\n ", "empty file", id="whitespace-only"),
    pytest.param("a.md", b"---\ntitle: [open\n---\nBody.", "fix it or remove it", id="bad-yaml"),
    pytest.param("a.md", b"---\n- a\n- b\n---\nBody.", "key: value", id="yaml-list"),
    pytest.param("a.md", b"# Title\n## Sub\n", "no text besides headings", id="headings-only"),
    pytest.param("a.html", b"<nav>menu</nav><body></body>", "no visible text", id="empty-html"),
    pytest.param(
        "a.jsonl", b'{"text": "ok"}\n{"text": oops}\n', "line 2: invalid JSON", id="bad-line"
    ),
    pytest.param(
        "a.jsonl", b'{"text": "ok"}\n[1, 2]\n', "line 2: expected a JSON object", id="array"
    ),
    pytest.param(
        "a.jsonl", b'{"body": "x"}\n', "set ingest.jsonl_text_field", id="missing-text-field"
    ),
    pytest.param("a.docx", b"PK\x03\x04", "unsupported file type '.docx'", id="unsupported"),
    pytest.param("Makefile", b"all:", "unsupported file type '(none)'", id="no-suffix"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_INPUTS)
def test_bad_input_raises_ingest_error_saying_what_to_fix(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(IngestError, match=re.escape(message)):
        load(tmp_path / name, data)


def test_jsonl_missing_text_field_lists_the_fields_it_has(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"line 1: .*'text'.*fields: body, id"):
        load(tmp_path / "a.jsonl", jsonl({"id": 1, "body": "x"}))


def test_truncated_pdf_is_refused(tmp_path: Path, make_pdf: Callable[..., Path]) -> None:
    data = make_pdf(tmp_path / "a.pdf", ["Some text."]).read_bytes()
    with pytest.raises(IngestError, match=r"corrupt PDF.*re-export it"):
        load(tmp_path / "cut.pdf", data[: len(data) // 2])


def test_pdf_with_unknown_stream_filter_is_refused(
    tmp_path: Path, make_pdf: Callable[..., Path]
) -> None:
    data = make_pdf(tmp_path / "a.pdf", ["Some text."]).read_bytes()
    assert b"/FlateDecode" in data
    with pytest.raises(IngestError, match="re-export it"):
        load(tmp_path / "odd.pdf", data.replace(b"/FlateDecode", b"/BogusDecode"))


def test_pdf_without_text_asks_for_ocr(tmp_path: Path, make_pdf: Callable[..., Path]) -> None:
    path = make_pdf(tmp_path / "scan.pdf", [""])
    with pytest.raises(IngestError, match="run OCR first"):
        load_file(path, path.read_bytes(), "scan.pdf", "text")
