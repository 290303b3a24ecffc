"""`run_ask`: what `ragline ask` prints, its JSON, and the provider fallback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from llm_router.config import LlmConfig
from llm_router.errors import UnknownProvider
from rag.answer import AnswerConfig
from rag.types import Hit
from serving.ask_cmd import build_chat_model, run_ask

pytestmark = pytest.mark.unit

HITS = [
    Hit(
        "c1",
        0.8,
        {
            "text": "To install ragline, run pip install ragline.",
            "source_document": "guide.md",
            "page_number": 3,
            "section_heading": "Install",
        },
    )
]


def consoles() -> tuple[Console, io.StringIO, Console, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(file=out, width=200), out, Console(file=err, width=200), err


def test_prints_answer_citations_latency_and_tokens() -> None:
    out, text, err, _ = consoles()
    code = run_ask(
        "How do I install ragline?",
        lambda q: HITS,
        LlmConfig(),
        AnswerConfig(),
        out,
        err,
        provider="extractive",
    )
    lines = text.getvalue().splitlines()
    assert code == 0
    assert lines[0] == "To install ragline, run pip install ragline. [Source: guide.md, page 3]"
    assert "  [1] guide.md, page 3 · Install  chunk c1  score 0.800" in lines
    assert lines[-1].startswith("extractive:bm25 · retrieval ")
    assert " in / " in lines[-1]


def test_json_is_one_object() -> None:
    out, text, err, _ = consoles()
    run_ask("What is ragline?", lambda q: [], LlmConfig(), AnswerConfig(), out, err,
            provider="extractive", as_json=True)  # fmt: skip
    data = json.loads(text.getvalue())
    assert data["abstained"] is True and data["citations"] == []
    assert data["question"] == "What is ragline?" and data["tokens_in"] == 0


def test_configured_provider_falls_back_when_unavailable(tmp_path: Path) -> None:
    config = LlmConfig(provider=f"local:{tmp_path / 'missing.gguf'}", fallback="extractive")
    model, note = build_chat_model(config)
    assert model.name == "extractive:bm25"
    assert note is not None and "missing.gguf not found" in note
    out, _, err, errors = consoles()
    assert (
        run_ask("How do I install ragline?", lambda q: HITS, config, AnswerConfig(), out, err) == 0
    )
    assert "answered with extractive" in errors.getvalue()


def test_an_explicit_provider_does_not_fall_back(tmp_path: Path) -> None:
    out, _, err, errors = consoles()
    missing = f"local:{tmp_path / 'missing.gguf'}"
    code = run_ask("q?", lambda q: HITS, LlmConfig(), AnswerConfig(), out, err, provider=missing)
    assert code == 2 and "llm.local.model_path" in errors.getvalue()
    with pytest.raises(UnknownProvider):
        build_chat_model(LlmConfig(provider="nope"))
