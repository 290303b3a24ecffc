"""Fixtures of the LangChain integration tests: ragline settings in a temporary data dir, the
session's loaded embedding model standing in for a fresh load in each pipeline, and a small
corpus ingested into collection "kb"."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ragline
from ragline.core.embedding import Embedder
from tests.conftest import reuse
from tests.rag.ingest_helpers import write_corpus

pytest.importorskip("langchain_core")

SMALL_CHUNKS = {"chunk_size": 48, "chunk_overlap": 8}


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    """LangChain's standard tests hold unmarked `async def` tests (its own repos run
    pytest-asyncio in auto mode): mark them here, so the suite's strict mode stays as is."""
    if name.startswith("test") and inspect.iscoroutinefunction(obj):
        pytest.mark.asyncio(obj)


def use_loaded_model(patch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    """Every pipeline and CLI command meters the session's model instead of loading one."""
    patch.setattr("ragline.serving.wiring.build_embedder", reuse(embedder))
    patch.setattr("ragline.serving.library.build_embedder", reuse(embedder))


@pytest.fixture
def settings(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> ragline.Settings:
    """The default settings over an empty data dir of the test's own."""
    use_loaded_model(monkeypatch, embedder)
    return ragline.load_settings(data_dir=tmp_path / ".ragline", chunking=SMALL_CHUNKS)


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[ragline.Settings]:
    """Settings whose data dir holds collection "kb": the three-topic corpus, ingested."""
    root = tmp_path_factory.mktemp("kb")
    with pytest.MonkeyPatch.context() as patch:
        use_loaded_model(patch, embedder)
        settings = ragline.load_settings(data_dir=root / ".ragline", chunking=SMALL_CHUNKS)
        with ragline.Pipeline(settings) as pipeline:
            report = pipeline.ingest([write_corpus(root / "corpus", 3)], collection="kb")
        assert report.files_ingested == 3
        yield settings
