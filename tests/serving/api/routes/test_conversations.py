"""GET and DELETE /v1/conversations/{id} on the real app with two API keys: the owner reads and
deletes, the other key gets OpenAI-shaped 404s, bad ids a 400 that says what an id may be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.core.chat import Message, ToolCall
from ragline.serving.api.app import create_app
from ragline.serving.api.services import Services
from ragline.serving.serve_config import key_digest
from tests.serving.api.test_services import api_settings

pytestmark = pytest.mark.integration
ALICE, BOB = "alice-key-0123456789", "bob-key-0123456789"
CALL = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
STORED = (
    Message("system", "Answer briefly."),
    Message("user", "Weather in Oslo?"),
    Message("assistant", "", tool_calls=(CALL,)),
    Message("tool", '{"celsius": 4}', tool_call_id="call_1"),
    Message("assistant", "4 °C."),
)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    keys = [
        {"name": "alice", "sha256": key_digest(ALICE)},
        {"name": "bob", "sha256": key_digest(BOB)},
    ]
    services = Services(api_settings(tmp_path, None, serve={"api_keys": keys}))
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> TestClient:
    return TestClient(create_app(services.settings, services))


def as_(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_owner_reads_its_conversation_in_openai_shape(
    client: TestClient, services: Services
) -> None:
    services.conversations.append("trip-42", "alice", STORED)
    response = client.get("/v1/conversations/trip-42", headers=as_(ALICE))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": "trip-42",
        "object": "conversation",
        "turns": 1,
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "content": '{"celsius": 4}', "tool_call_id": "call_1"},
            {"role": "assistant", "content": "4 °C."},
        ],
    }


def test_another_key_gets_404_and_cannot_delete(client: TestClient, services: Services) -> None:
    services.conversations.append("trip-42", "alice", STORED)
    for method in ("GET", "DELETE"):
        response = client.request(method, "/v1/conversations/trip-42", headers=as_(BOB))
        assert response.status_code == 404, response.text
        error = response.json()["error"]
        assert error["code"] == "conversation_not_found" and "Oslo" not in response.text
    assert services.conversations.load("trip-42", "alice") == STORED


def test_delete_then_404(client: TestClient, services: Services) -> None:
    services.conversations.append("trip-42", "alice", STORED)
    assert client.delete("/v1/conversations/trip-42", headers=as_(ALICE)).status_code == 204
    assert services.conversations.load("trip-42", "alice") == ()
    again = client.delete("/v1/conversations/trip-42", headers=as_(ALICE))
    assert again.status_code == 404 and "never existed, expired" in again.text
    assert client.get("/v1/conversations/trip-42", headers=as_(ALICE)).status_code == 404


@pytest.mark.parametrize("bad", ["my%20trip", "-lead", "x" * 129, "caf%C3%A9"])
def test_bad_ids_get_400_saying_what_an_id_may_be(client: TestClient, bad: str) -> None:
    response = client.get(f"/v1/conversations/{bad}", headers=as_(ALICE))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_conversation_id"
    assert "conversation id" in response.json()["error"]["message"]


def test_no_key_no_conversation(client: TestClient) -> None:
    assert client.get("/v1/conversations/trip-42").status_code == 401


def test_a_store_that_is_down_is_a_503_that_names_no_host(tmp_path: Path) -> None:
    down = {"backend": "redis", "url": "redis://127.0.0.1:1/0"}  # nothing listens on port 1
    services = Services(api_settings(tmp_path, None, conversations=down))
    try:
        client = TestClient(create_app(services.settings, services))
        response = client.get("/v1/conversations/trip-42")
    finally:
        services.close()
    assert response.status_code == 503, response.text
    assert "retry later" in response.text and "127.0.0.1" not in response.text
