"""Shared fixtures: the real packaged embedding model (loaded once), PDF and corpus builders."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.config import EmbeddingConfig
from rag.embed.sentence_transformers import SentenceTransformerEmbedder

# Tests never reach a model hub: the packaged model is loaded from site-packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2 embedder (packaged, offline), loaded once per session."""
    model = SentenceTransformerEmbedder(EmbeddingConfig())
    model.warm_up()
    return model


def write_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """A real PDF with one text page per entry (reportlab), for loader tests."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    if title:
        pdf.setTitle(title)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            pdf.drawString(50, y, line)
            y -= 14
        pdf.showPage()
    pdf.save()
    return path


@pytest.fixture
def make_pdf() -> Callable[..., Path]:
    return write_pdf
