"""Fixtures of the LlamaIndex integration's tests: ragline pipelines over temp data dirs, built
with the public API only (`ragline.load_settings`, `ragline.Pipeline`), on the real packaged
embedder, Qdrant Edge, the extractive answerer and the packaged local model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ragline
from tests.rag.ingest_helpers import write_corpus

COLLECTION = "kb"
QUERY = "What makes a loaf puff up before it bakes?"
# USD per 1M tokens for the local model in the LLM tests: a price, so costs are not all zero
LOCAL_PRICES = "models:\n  'local:*': {input: 1000, output: 2000}\n"


def settings_in(root: Path, **overrides: Any) -> ragline.Settings:
    """Settings whose every file (data dir, ONNX export, LLM cache) lives under `root`, with
    small chunks so the three-topic corpus makes several per document."""
    llm = {"cache": {"path": str(root / "llm_cache.sqlite")}, **overrides.pop("llm", {})}
    return ragline.load_settings(
        data_dir=root / ".ragline",
        chunking={"chunk_size": 48, "chunk_overlap": 8},
        embedding={"onnx_cache": str(root / "onnx")},
        llm=llm,
        **overrides,
    )


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small documents (rivers.md, baking.txt, orbits.md), three chunks each."""
    return write_corpus(tmp_path_factory.mktemp("li-corpus"), 3)


@pytest.fixture(scope="session")
def kb(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Iterator[ragline.Pipeline]:
    """A pipeline (extractive answers) with `corpus` ingested into collection `kb`."""
    pipeline = ragline.Pipeline(settings_in(tmp_path_factory.mktemp("li-kb")))
    report = pipeline.ingest([corpus], collection=COLLECTION)
    assert report.files_ingested == 3
    yield pipeline
    pipeline.close()


@pytest.fixture
def local_settings(tmp_path: Path) -> ragline.Settings:
    """The packaged local model (SmolLM2 on llama.cpp), priced by `LOCAL_PRICES`, uncached."""
    prices = tmp_path / "pricing.yaml"
    prices.write_text(LOCAL_PRICES, encoding="utf-8")
    return settings_in(
        tmp_path,
        llm={"provider": "local", "cache": {"enabled": False}},
        costs={"pricing": str(prices)},
    )
