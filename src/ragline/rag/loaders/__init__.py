"""Loaders turn one file into documents: txt, md, html, pdf, jsonl.

    docs = load_file(Path("guide.md"), relative="guide.md", text_field="text")

Every loader raises `IngestError` with a fixable reason; the ingest skips that file.
"""

from __future__ import annotations

from pathlib import Path

from ragline.rag.errors import IngestError
from ragline.rag.loaders.common import date_from, decode_text
from ragline.rag.loaders.jsonl import load_jsonl
from ragline.rag.loaders.walk import Candidate, Refused, walk
from ragline.rag.types import Document

__all__ = ["SUFFIXES", "Candidate", "Refused", "load_file", "walk"]

SUFFIXES = {
    ".txt": "txt",
    ".rst": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def load_file(path: Path, data: bytes, relative: str, text_field: str) -> list[Document]:
    """Parse `data` (the bytes of `path`) into documents named after `relative`."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(SUFFIXES))
        raise IngestError(
            f"unsupported file type {path.suffix or '(none)'!r}; ragline reads {known}"
        )
    mtime = path.stat().st_mtime
    source_path = str(path)
    # Parser libraries load on first use: an unchanged rerun imports none of them.
    if kind == "pdf":
        from ragline.rag.loaders.pdf import load_pdf

        sections, metadata = load_pdf(data)
    else:
        text = decode_text(data)
        if kind == "jsonl":
            docs = []
            for line, record_id, section, meta in load_jsonl(text, text_field):
                name = record_id if record_id is not None else f"{relative}#{line}"
                docs.append(Document(name, source_path, (section,), date_from(meta, mtime), meta))
            return docs
        if kind == "html":
            from ragline.rag.loaders.html import load_html as loader
        elif kind == "md":
            from ragline.rag.loaders.text import load_markdown as loader
        else:
            from ragline.rag.loaders.text import load_txt as loader
        sections, metadata = loader(text)
    date = date_from(metadata, mtime)
    return [Document(relative, source_path, tuple(sections), date, metadata)]
