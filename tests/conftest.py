"""Shared fixtures: the real packaged embedding model (loaded once), PDF and corpus builders,
this machine's Redis, and one real llama.cpp OpenAI-compatible server per test session."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ragline.core.embedding import Embedder
from ragline.rag.config import EmbeddingConfig
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.metering import MeteredEmbedder

if TYPE_CHECKING:
    import redis

    from ragline.serving.settings import Settings
    from ragline.serving.wiring import Accounting

# Tests never reach a model hub: the packaged model is loaded from site-packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2 embedder (packaged, offline), loaded once per session; its
    ONNX query model is exported into a temp folder, not the user's cache."""
    model = SentenceTransformerEmbedder(EmbeddingConfig(onnx_cache=tmp_path_factory.mktemp("onnx")))
    model.warm_up()
    return model


def reuse(embedder: Embedder) -> Callable[[Settings, Accounting], MeteredEmbedder]:
    """A stand-in for `ragline.serving.wiring.build_embedder` that meters the session's loaded
    model instead of loading a fresh one in each command (monkeypatch it in)."""
    return lambda settings, costs: MeteredEmbedder(embedder, costs.meter)


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


@pytest.fixture
def redis_url() -> str:
    """The URL of this machine's Redis (database 15). Tests share it: give every key a prefix
    unique to the test (`redis_prefix`), never flush the database."""
    from urllib.parse import urlparse

    from tests.services import REDIS_URL, require

    parsed = urlparse(REDIS_URL)
    require("Redis", parsed.hostname or "127.0.0.1", parsed.port or 6379)
    return REDIS_URL


@pytest.fixture
def redis_client(redis_url: str, redis_prefix: str) -> Iterator[redis.Redis]:
    """A client of this machine's Redis; the test's `redis_prefix` keys are deleted after it."""
    import redis as redis_lib

    client = redis_lib.Redis.from_url(redis_url)
    yield client
    for key in client.scan_iter(match=f"{redis_prefix}*"):  # never flush: the db is shared
        client.delete(key)
    client.close()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses."""
    import uuid

    return f"ragline-test:{uuid.uuid4().hex}:"


def _server_missing() -> str | None:
    """Why the llama.cpp server cannot run here, or None when it can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install 'ragline[llm]')"
    for module in ("uvicorn", "fastapi", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            return f"llama_cpp.server needs {module} (pip install 'llama-cpp-python[server]')"
    return None


@pytest.fixture(scope="session")
def llama_server_url() -> Iterator[str]:
    """ "http://127.0.0.1:PORT/v1" of a llama_cpp.server running the packaged SmolLM2 GGUF,
    started once per test session (model id: `llama_server.MODEL_ALIAS`)."""
    missing = _server_missing()
    if missing is not None:
        pytest.skip(missing)
    from ragline.llm_router.providers.local import packaged_model
    from tests.llm_router.llama_server import LlamaServer

    server = LlamaServer(packaged_model())
    try:
        yield server.start()
    finally:
        server.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test says what it needs: `unit` (pure logic, tmp files) or `integration` (real
    engines, models or services). A test with neither fails the collection, by name."""
    unmarked = [
        item.nodeid
        for item in items
        if item.get_closest_marker("unit") is None
        and item.get_closest_marker("integration") is None
    ]
    if unmarked:
        shown = "\n  ".join(unmarked[:200])
        more = f"\n  ... and {len(unmarked) - 20} more" if len(unmarked) > 20 else ""
        raise pytest.UsageError(
            f"{len(unmarked)} tests carry neither `unit` nor `integration`; mark them "
            f"(pytestmark = pytest.mark.unit at the top of the module, or on the test):\n  "
            f"{shown}{more}"
        )
