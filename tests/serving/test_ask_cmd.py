"""`run_ask`: what `ragline ask` prints, its JSON, and the provider fallback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from llm_router.build import build_router
from llm_router.config import LlmConfig
from llm_router.router import Router
from rag.answer import AnswerConfig
from rag.types import Hit
from serving.ask_cmd import run_ask

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


def router(tmp_path: Path, provider: str = "extractive", *fallbacks: str) -> Router:
    config = LlmConfig(provider=provider, fallbacks=fallbacks, cache={"enabled": False})
    return build_router(config, data_dir=tmp_path)


def test_prints_answer_citations_latency_tokens_and_cost(tmp_path: Path) -> None:
    out, text, err, _ = consoles()
    code = run_ask(
        "How do I install ragline?", lambda q: HITS, router(tmp_path), AnswerConfig(), out, err
    )
    lines = text.getvalue().splitlines()
    assert code == 0
    assert lines[0] == "To install ragline, run pip install ragline. [Source: guide.md, page 3]"
    assert "  [1] guide.md, page 3 · Install  chunk c1  score 0.800" in lines
    assert lines[-1].startswith("extractive:bm25 · retrieval ")
    assert " in / " in lines[-1] and lines[-1].endswith("$0.000000")


def test_json_is_one_object(tmp_path: Path) -> None:
    out, text, err, _ = consoles()
    run_ask("What is ragline?", lambda q: [], router(tmp_path), AnswerConfig(), out, err,
            as_json=True)  # fmt: skip
    data = json.loads(text.getvalue())
    assert data["abstained"] is True and data["citations"] == []
    assert data["question"] == "What is ragline?" and data["tokens_in"] == 0
    assert data["cost_usd"] == 0.0


def test_a_failing_provider_falls_back_and_says_so(tmp_path: Path) -> None:
    missing = f"local:{tmp_path / 'missing.gguf'}"
    out, text, err, errors = consoles()
    model = router(tmp_path, missing, "extractive")
    assert (
        run_ask("How do I install ragline?", lambda q: HITS, model, AnswerConfig(), out, err) == 0
    )
    assert f"tried {missing}:Unavailable; answered with extractive:bm25" in errors.getvalue()
    assert text.getvalue().startswith("To install ragline")


def test_without_fallbacks_a_failing_provider_is_a_model_error(tmp_path: Path) -> None:
    out, _, err, errors = consoles()
    model = router(tmp_path, f"local:{tmp_path / 'missing.gguf'}")
    assert run_ask("q?", lambda q: HITS, model, AnswerConfig(), out, err) == 2
    assert "llm.local.model_path" in errors.getvalue()
    assert run_ask("q?", lambda q: HITS, router(tmp_path, "nope"), AnswerConfig(), out, err) == 2
    assert "unknown provider 'nope'" in errors.getvalue()
