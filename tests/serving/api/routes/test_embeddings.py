"""POST /v1/embeddings and GET /v1/models/{id} on the real app, through the official openai SDK
(its HTTP client is the app's TestClient) and raw HTTP for the refusals."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np
import openai
import pytest
from fastapi.testclient import TestClient

from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.serving.api.app import create_app
from ragline.serving.api.services import Services
from tests.serving.api.test_services import api_settings

pytestmark = pytest.mark.integration
MODEL = "all-MiniLM-L6-v2"
TEXTS = ["Deltas form where rivers slow down.", "Yeast makes bread dough rise."]


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[TestClient]:
    services = Services(api_settings(tmp_path_factory.mktemp("emb"), embedder.config.onnx_cache))
    yield TestClient(create_app(services.settings, services))
    services.close()


@pytest.fixture(scope="module")
def sdk(client: TestClient) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client)


def test_the_sdk_gets_the_configured_embedders_vectors(
    sdk: openai.OpenAI, embedder: SentenceTransformerEmbedder
) -> None:
    result = sdk.embeddings.create(model=MODEL, input=TEXTS)
    assert result.model == MODEL and [row.index for row in result.data] == [0, 1]
    got = np.array([row.embedding for row in result.data], dtype=np.float32)
    want = embedder.embed(TEXTS, kind="document")
    cosines = (got * want).sum(axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert got.shape == (2, 384) and cosines.min() >= 0.999
    assert 0 < result.usage.prompt_tokens == result.usage.total_tokens < 40


def test_base64_and_a_single_string(client: TestClient, sdk: openai.OpenAI) -> None:
    response = client.post(
        "/v1/embeddings", json={"model": MODEL, "input": TEXTS[0], "encoding_format": "base64"}
    )
    assert response.status_code == 200, response.text
    [row] = response.json()["data"]
    decoded = np.frombuffer(base64.b64decode(row["embedding"]), dtype="<f4")
    [plain] = sdk.embeddings.create(model=MODEL, input=TEXTS[0]).data
    assert decoded.shape == (384,) and np.allclose(decoded, plain.embedding, atol=1e-6)
    assert float(response.headers["x-ragline-cost-usd"]) >= 0


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"model": "text-embedding-3-small", "input": "x"}, 404, "use 'all-MiniLM-L6-v2'"),
        ({"model": MODEL, "input": [[1, 2, 3]]}, 400, "list of strings"),
        ({"model": MODEL, "input": []}, 400, "non-empty"),
        ({"model": MODEL, "input": "x", "dimensions": 128}, 400, "not a Matryoshka model"),
        ({"model": MODEL, "input": "x", "encoding_format": "int8"}, 400, "encoding_format"),
    ],
)
def test_bad_requests_say_what_to_fix(
    client: TestClient, body: dict[str, object], status: int, says: str
) -> None:
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == status, response.text
    assert says in response.text


def test_unknown_fields_are_ignored(client: TestClient) -> None:
    body = {"model": "ragline", "input": "x", "user": "u1", "some_new_field": {"a": 1}}
    assert client.post("/v1/embeddings", json=body).status_code == 200


def test_models_list_and_retrieve(sdk: openai.OpenAI) -> None:
    ids = [m.id for m in sdk.models.list()]
    assert ids[0] == "ragline" and MODEL in ids
    assert sdk.models.retrieve(MODEL).id == MODEL
    assert sdk.models.retrieve("ragline").owned_by == "ragline"
    with pytest.raises(openai.NotFoundError, match="not served here"):
        sdk.models.retrieve("gpt-9")
