"""One /v1/query's cost: the ledger events of its request (model call, query embedding,
vector-store queries) sum to the response's `cost_usd`, to its `X-Ragline-Cost-USD` header and
to `ragline costs breakdown <X-Request-ID> --format json`'s total; /v1/search and an ingest job
are metered the same way."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ragline.mltrack.costs.ledger import Ledger
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.ingest import NoProgress
from ragline.serving.api.app import create_app
from ragline.serving.api.services import Services
from ragline.serving.cli.app import app
from tests.rag.ingest_helpers import write_corpus
from tests.serving.api.test_services import api_settings

pytestmark = pytest.mark.integration

# the figures: $1000 per 1M embedding tokens, $5 per 1,000 vector queries
PRICES = {"embedding_usd_per_1m_tokens": "1000", "vector_usd_per_1k_queries": "5"}


def test_a_querys_cost_is_the_sum_of_its_ledger_events(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = api_settings(
        tmp_path, embedder.config.onnx_cache, llm={"provider": "extractive"}, costs=PRICES
    )
    services = Services(settings)
    try:
        services.ingest("docs", [write_corpus(settings.data_dir / "corpus")], NoProgress())
        client = TestClient(create_app(settings, services))
        response = client.post(
            "/v1/query", json={"question": "Where do deltas form?", "collection": "docs"}
        )
        assert response.status_code == 200, response.text
        searched = client.post("/v1/search", json={"query": "deltas", "collection": "docs"})
        assert searched.status_code == 200, searched.text
    finally:
        services.close()  # the ledger is flushed on close
    request_id = response.headers["X-Request-ID"]
    with Ledger(settings.costs.ledger, settings.data_dir) as ledger:
        parts = ledger.breakdown(request_id)
        search_parts = ledger.breakdown(searched.headers["X-Request-ID"])
    assert set(parts) == {"llm", "embedding", "vector_db"}
    assert parts["llm"] == Decimal(0)  # the extractive answerer is free
    assert parts["vector_db"] == Decimal("0.01")  # 2 leg queries (dense, BM25) at $5 per 1,000
    assert parts["embedding"] > 0  # the question's tokens at $1000 per 1M
    total = sum(parts.values())
    body = response.json()
    assert body["cost_usd"] == float(total) > 0
    assert float(response.headers["X-Ragline-Cost-USD"]) == body["cost_usd"]

    monkeypatch.setenv("RAGLINE_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(app, ["costs", "breakdown", request_id, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_usd"] == body["cost_usd"]

    assert set(search_parts) == {"embedding", "vector_db"}  # /v1/search: the same two legs
    assert search_parts["vector_db"] == Decimal("0.01")
    assert float(searched.headers["X-Ragline-Cost-USD"]) == float(sum(search_parts.values()))


def test_an_ingest_job_is_billed_to_its_job_id(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    costs = {"embedding_usd_per_1m_tokens": "1", "vector_usd_per_1k_writes": "1"}
    settings = api_settings(tmp_path, embedder.config.onnx_cache, costs=costs)
    corpus = write_corpus(settings.data_dir / "corpus")  # under data_dir: the server may read it
    services = Services(settings)
    try:
        client = TestClient(create_app(settings, services))
        submitted = client.post("/v1/ingest", json={"collection": "docs", "paths": [str(corpus)]})
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()["id"]
        for _ in range(600):
            view = client.get(f"/v1/ingest/{job}").json()
            if view["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert view["status"] == "done", view
    finally:
        services.close()
    with Ledger(settings.costs.ledger, settings.data_dir) as ledger:
        parts = ledger.breakdown(job)
        written = sum(e.units for e in ledger.events() if e.kind == "vector_db")
    assert set(parts) == {"embedding", "vector_db"}
    chunks = view["counts"]["chunks_written"]
    assert written == chunks > 0
    assert parts["vector_db"] == Decimal(chunks) / 1000  # $1 per 1,000 points written


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/health", None, 200),
        ("GET", "/v1/models", None, 200),
        ("GET", "/v1/nothing-here", None, 404),
        ("POST", "/v1/query", {"question": ""}, 422),
        ("POST", "/v1/query", {"question": "Where?", "collection": "missing"}, 404),
        ("POST", "/v1/chat/completions", {"model": "nope", "messages": []}, 400),
    ],
)
def test_every_response_carries_its_request_id(
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    method: str,
    path: str,
    body: dict[str, object] | None,
    status: int,
) -> None:
    settings = api_settings(tmp_path, embedder.config.onnx_cache)
    services = Services(settings)
    try:
        client = TestClient(create_app(settings, services))
        response = client.request(method, path, json=body)
    finally:
        services.close()
    assert response.status_code == status, response.text
    assert len(response.headers["X-Request-ID"]) >= 16
    if status >= 400:
        assert response.json()["error"]["request_id"] == response.headers["X-Request-ID"]
