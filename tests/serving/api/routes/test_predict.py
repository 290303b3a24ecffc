"""POST /v1/predict/{model}: a real model trained, registered and promoted with mltrack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.mltrack.costs.ledger import Ledger
from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.tabular.config import TrainConfig
from ragline.mltrack.tabular.jobs import promote_job, train_job
from ragline.mltrack.tracking.experiments import ExperimentPlan
from ragline.mltrack.tracking.gates import GateInputs, PrimaryMetric
from ragline.mltrack.tracking.registry import ModelRegistry
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.serving.api.app import create_app
from ragline.serving.api.services import Services
from tests.serving.api.test_services import api_settings

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def config(data: Path, numeric: list[str]) -> TrainConfig:
    return TrainConfig.model_validate(
        {
            "experiment": {"register_as": "adult"},
            "data": {"path": str(data), "target": "income", "task": "classification",
                     "positive_label": 1},
            "features": {"numeric": [{"columns": numeric}],
                         "categorical": [{"columns": ["relationship"], "encoding": "onehot"}]},
            "model": {"kind": "lightgbm", "rounds": 40, "early_stopping": 10, "threads": 1},
            "metrics": {"resamples": 100},
            "quality": {"target": "income", "min_rows": 1000, "min_rows_per_class": 100,
                        "declared": {"timeliness": 2}},
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[Services]:
    """Services whose registry holds "adult": version 1 in production, version 2 staged."""
    tmp = tmp_path_factory.mktemp("predict_api")
    services = Services(api_settings(tmp, embedder.config.onnx_cache))
    data = tmp / "adult.csv"
    load_adult().sample(n=4000, random_state=1).to_csv(data, index=False)
    ml, data_dir = services.settings.ml, services.settings.data_dir
    train_job(config(data, ["age", "education-num"]), ml, data_dir, tmp / "r1")
    train_job(config(data, ["age", "education-num", "hours-per-week"]), ml, data_dir, tmp / "r2")
    for stage in ("staging", "production"):
        promote_job("adult", 1, stage, ml, data_dir)
    yield services
    services.close()


NO_EVIDENCE = GateInputs(PrimaryMetric("roc_auc"))
ROWS = [
    {"age": 52, "education-num": 15, "hours-per-week": 60, "relationship": "Husband"},
    {"age": 19, "education-num": 8, "hours-per-week": 15, "relationship": "Own-child"},
]


def test_predict_serves_production_and_follows_a_promotion(services: Services) -> None:
    client = TestClient(create_app(services.settings, services))
    response = client.post(
        "/v1/predict/adult", json={"rows": ROWS}, headers={"X-Request-ID": "predict-1"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "adult" and body["version"] == 1 and body["task"] == "classification"
    high, low = body["scores"]
    assert 0.0 <= low < high <= 1.0  # the senior professional earns more than the teenager
    assert body["labels"] == [1 if s >= 0.5 else 0 for s in body["scores"]]

    services.costs_flush()
    with Ledger(services.settings.costs.ledger, services.settings.data_dir) as ledger:
        rows = {r.group: r for r in ledger.report(by="component")}
        assert set(ledger.breakdown("predict-1")) == {"prediction"}
    assert rows["prediction"].events == 1

    missing = client.post("/v1/predict/adult", json={"rows": [{"age": 30}]})
    assert missing.status_code == 422 and "education-num" in missing.json()["error"]["message"]

    # version 2 reaches production; the server picks it up without a restart
    ml, data_dir = services.settings.ml, services.settings.data_dir
    actor = ExperimentPlan("", "", "").actor
    registry = ModelRegistry(ml, data_dir)
    for stage in ("staging", "production"):
        registry.promote("adult", 2, stage, NO_EVIDENCE, actor=actor, force=True)
    registry.close()
    services.predictor.refresh_s = 0.0  # look the alias up on every request
    assert client.post("/v1/predict/adult", json={"rows": ROWS}).json()["version"] == 2


def test_served_predictions_land_in_the_prediction_log(services: Services) -> None:
    from datetime import UTC, datetime

    from ragline.mltrack.monitor.prediction_log import PredictionLog

    client = TestClient(create_app(services.settings, services))
    body = client.post("/v1/predict/adult", json={"rows": ROWS}).json()
    config = services.settings.monitor.prediction_log
    since, until = datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)  # any date
    with PredictionLog(config, services.settings.data_dir) as log:
        services.predictions_flush()  # the server's buffer, written now (or by its timer)
        window = log.window("adult", since, until)
    assert window.score.tolist()[-2:] == body["scores"]  # what monitor check reads for drift
    assert window.predicted[-2:] == tuple(str(v) for v in body["labels"])
