"""One /v1/query's cost in the ledger: model call, query embedding and vector-store queries,
under the request's id, summing exactly to what the ledger holds for it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mltrack.ledger import Ledger
from rag.embed.sentence_transformers import SentenceTransformerEmbedder
from rag.ingest import NoProgress
from serving.api.app import create_app
from serving.api.services import Services
from tests.rag.ingest_helpers import write_corpus
from tests.serving.api.test_services import api_settings

pytestmark = pytest.mark.integration

PRICES = {"embedding_usd_per_hour": "36", "vector_db_usd_per_1k_ops": "1.5"}


def test_a_query_breaks_down_into_its_parts(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = api_settings(
        tmp_path, embedder.config.onnx_cache, llm={"provider": "extractive"},
        ml={"ledger": {**PRICES, "batch_size": 1}},
    )  # fmt: skip
    services = Services(settings)
    try:
        services.ingest("docs", [write_corpus(settings.data_dir / "corpus")], NoProgress())
        client = TestClient(create_app(settings, services))
        response = client.post(
            "/v1/query",
            json={"question": "Where do deltas form?", "collection": "docs"},
            headers={"X-Request-ID": "query-cost-1"},
        )
        assert response.status_code == 200, response.text
    finally:
        services.close()
    with Ledger(settings.ml.ledger, settings.data_dir) as ledger:
        parts = ledger.breakdown("query-cost-1")
        total = ledger.total()
    assert set(parts) == {"llm", "embedding", "vector_db"}
    assert parts["llm"] == Decimal(0)  # the extractive answerer is free
    assert parts["vector_db"] == Decimal("0.003")  # 2 store queries at $1.5 per 1,000
    assert Decimal(0) < parts["embedding"] < Decimal("0.1")  # 36 $/h = 1 cent per second
    assert sum(parts.values()) == total  # exactly: the ledger holds nothing else
