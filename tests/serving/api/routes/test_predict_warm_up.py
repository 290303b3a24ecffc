"""The model registry opens during the server's start-up, not in the first POST /v1/predict."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.mltrack.config import MltrackConfig
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.serving.api.app import create_app
from ragline.serving.api.predictor import ModelNotServed, Predictor
from ragline.serving.api.services import Services
from tests.serving.api.test_services import api_settings

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ROWS = [{"age": 52, "education-num": 15, "hours-per-week": 60, "relationship": "Husband"}]


def test_the_first_predict_after_start_up_finds_the_registry_open(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, record_property: pytest.RecordProperty
) -> None:
    # issue 21 (B9): a new server's first predict created MLflow's database (2-7 s here, ~15 s
    # with a cold import); the cold predictor below shows what a request used to pay (printed,
    # not asserted: timings belong in bench/); the assertion is where the database is made
    cold = Predictor(MltrackConfig(), tmp_path / "cold")
    started = time.perf_counter()
    with pytest.raises(ModelNotServed):
        cold.predict("adult", ROWS)
    cold_s = time.perf_counter() - started
    cold.close()

    services = Services(api_settings(tmp_path / "server", embedder.config.onnx_cache))
    database = services.settings.data_dir / "mlflow.db"
    app = create_app(services.settings, services)
    with TestClient(app) as client:
        assert app.state.warm.wait(300), "the warm-up did not finish"
        assert database.is_file()  # MLflow's tables were made at start-up, before any request
        started = time.perf_counter()
        response = client.post("/v1/predict/adult", json={"rows": ROWS})
        warm_s = time.perf_counter() - started
    record_property("first_predict_s", {"before (lazy registry)": cold_s, "after": warm_s})
    print(f"first predict: {cold_s:.2f} s with a lazy registry, {warm_s:.3f} s after warm-up")
    assert response.status_code == 404, response.text  # an empty registry: not served, quickly
    assert "has no production version" in response.json()["error"]["message"]
