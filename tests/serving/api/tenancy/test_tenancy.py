"""Tenancy on the real app: two tenants (alice, bob), an admin and a key configured before
tenancy. Alice's collection, jobs and conversations are invisible to bob (404, as missing ones),
the admin and the old-style key see everything, ingest paths stay under each key's roots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import ValidationError

from ragline.core.chat import Message
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.ingest import NoProgress
from ragline.serving.api.app import create_app
from ragline.serving.api.services import Services
from ragline.serving.api.tenancy.grants import Tenant
from ragline.serving.api.tenancy.owners import OWNERS_FILE, CollectionOwners
from ragline.serving.serve_config import ApiKey, ServeConfig, key_digest
from tests.rag.ingest_helpers import write_corpus
from tests.serving.api.test_services import api_settings

pytestmark = pytest.mark.integration
WAIT_S = 120.0
KEYS = {
    name: f"{name}-secret-key-0123456789" for name in ("alice", "alice-ci", "bob", "root", "old")
}
READER = "reader-secret-key-0123456789"
QUESTION = {"question": "Where do deltas form?"}


def key_entries(tmp: Path) -> list[dict[str, Any]]:
    tenant = ["read", "write", "ingest"]
    return [
        {"name": "alice", "scopes": tenant, "ingest_roots": [str(tmp / "alice")]},
        {"name": "alice-ci", "owner": "alice", "scopes": ["read"]},
        {"name": "bob", "scopes": tenant, "ingest_roots": [str(tmp / "bob")]}
        | {"collections": ["handbook"]},
        {"name": "root", "scopes": ["admin"]},
        {"name": "old"},  # configured before tenancy: no scopes, so every right
        {"name": "reader", "scopes": ["read"], "sha256": key_digest(READER)},
    ]


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[Services]:
    """Alice ingested "alice-docs" through the API; an admin made "handbook" (unowned)."""
    tmp = tmp_path_factory.mktemp("tenancy")
    keys = [{"sha256": key_digest(KEYS.get(k["name"], ""))} | k for k in key_entries(tmp)]
    services = Services(api_settings(tmp, embedder.config.onnx_cache, serve={"api_keys": keys}))
    write_corpus(tmp / "alice" / "corpus", repeat=1)
    write_corpus(tmp / "bob" / "corpus", repeat=1)
    services.ingest("handbook", [write_corpus(tmp / "shared", repeat=1)], NoProgress())
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(services: Services) -> TestClient:
    return TestClient(create_app(services.settings, services))


@pytest.fixture(scope="module")
def alice_job(client: TestClient, services: Services) -> str:
    root = services.settings.data_dir.parent / "alice"
    body = {"paths": [str(root / "corpus")], "collection": "alice-docs"}
    response = client.post("/v1/ingest", json=body, headers=as_("alice"))
    assert response.status_code == 202, response.text
    job = services.jobs.wait(response.json()["id"], WAIT_S)
    assert job is not None and job.status == "done", job
    return job.id


def as_(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def test_alice_owns_what_she_ingested(alice_job: str, services: Services) -> None:
    table = CollectionOwners(services.settings.data_dir / OWNERS_FILE)
    assert table.all() == {"alice-docs": "alice"}  # the admin's "handbook" stays unowned


@pytest.mark.parametrize(
    ("route", "asked"), [("/v1/search", {"query": "deltas"}), ("/v1/query", QUESTION)]
)
def test_another_tenants_collection_is_not_found(
    client: TestClient, alice_job: str, route: str, asked: dict[str, str]
) -> None:
    body = asked | {"collection": "alice-docs"}
    for name in ("alice", "alice-ci", "root", "old"):
        assert client.post(route, json=body, headers=as_(name)).status_code == 200, name
    hidden = client.post(route, json=body, headers=as_("bob"))
    missing = client.post(route, json=body | {"collection": "nope"}, headers=as_("bob"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["message"] == missing.json()["error"]["message"].replace(
        "nope", "alice-docs"
    )  # word for word what a missing collection says: nothing leaks


def test_rag_chat_and_model_list_follow_the_owner(client: TestClient, alice_job: str) -> None:
    chat = {"model": "rag:alice-docs", "messages": [{"role": "user", "content": "Deltas?"}]}
    assert client.post("/v1/chat/completions", json=chat, headers=as_("bob")).status_code == 404
    assert client.post("/v1/chat/completions", json=chat, headers=as_("alice")).status_code == 200

    def rag_models(name: str) -> set[str]:
        data = client.get("/v1/models", headers=as_(name)).json()["data"]
        return {m["id"] for m in data if m["id"].startswith("rag:")}

    assert rag_models("alice") == {"rag:alice-docs"}
    assert rag_models("bob") == {"rag:handbook"}  # shared with bob by his key's collections
    assert rag_models("root") == rag_models("old") == {"rag:alice-docs", "rag:handbook"}
    assert client.get("/v1/models/rag:alice-docs", headers=as_("bob")).status_code == 404


def test_jobs_are_seen_by_their_owner_and_admins(client: TestClient, alice_job: str) -> None:
    for name in ("alice", "alice-ci", "root", "old"):
        response = client.get(f"/v1/ingest/{alice_job}", headers=as_(name))
        assert response.status_code == 200 and response.json()["status"] == "done", name
    hidden = client.get(f"/v1/ingest/{alice_job}", headers=as_("bob"))
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "job_not_found"


def test_ingest_paths_stay_under_the_keys_roots(client: TestClient, services: Services) -> None:
    tmp = services.settings.data_dir.parent
    for path in (tmp / "bob" / "corpus", services.settings.data_dir, tmp / "bob" / "nothing"):
        body = {"paths": [str(path)], "collection": "alice-2"}
        response = client.post("/v1/ingest", json=body, headers=as_("alice"))
        assert response.status_code == 403, path  # even a missing path: nothing leaks
        error = response.json()["error"]
        assert error["code"] == "path_not_allowed"
        assert f"ingest_roots of API key 'alice' ({tmp / 'alice'})" in error["message"]
    missing = {"paths": [str(tmp / "alice" / "nope")], "collection": "alice-2"}
    assert client.post("/v1/ingest", json=missing, headers=as_("alice")).status_code == 404
    owners = CollectionOwners(services.settings.data_dir / OWNERS_FILE).all()
    assert "alice-2" not in owners  # a refused request claims nothing


def test_ingest_into_another_tenants_or_a_shared_collection_is_refused(
    client: TestClient, services: Services, alice_job: str
) -> None:
    paths = [str(services.settings.data_dir.parent / "bob" / "corpus")]
    taken = client.post(
        "/v1/ingest", json={"paths": paths, "collection": "alice-docs"}, headers=as_("bob")
    )
    assert taken.status_code == 409 and "'alice-docs' is taken" in taken.text
    assert "alice" not in taken.json()["error"]["message"].replace("alice-docs", "")
    shared = client.post(
        "/v1/ingest", json={"paths": paths, "collection": "handbook"}, headers=as_("bob")
    )
    assert shared.status_code == 409 and "for reading only" in shared.text
    search = {"query": "rivers", "collection": "handbook"}
    assert client.post("/v1/search", json=search, headers=as_("bob")).status_code == 200
    assert client.post("/v1/search", json=search, headers=as_("alice")).status_code == 404


def test_a_missing_scope_is_a_403_naming_it(client: TestClient) -> None:
    reader = {"Authorization": f"Bearer {READER}"}
    refused = client.post("/v1/ingest", json={"paths": ["x"]}, headers=reader)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_scope"
    assert "lacks the 'ingest' scope (its scopes: read)" in refused.json()["error"]["message"]
    chat = {"model": "ragline", "messages": [{"role": "user", "content": "Hi"}]}
    kept = client.post("/v1/chat/completions", json=chat | {"conversation": "c1"}, headers=reader)
    assert kept.status_code == 403 and "'write' scope" in kept.text


def test_conversations_belong_to_the_keys_owner(client: TestClient, services: Services) -> None:
    services.conversations.append(
        "trip", "alice", [Message("user", "Hi"), Message("assistant", "Hey")]
    )
    for name in ("alice", "alice-ci"):  # alice-ci's owner is alice
        assert client.get("/v1/conversations/trip", headers=as_(name)).status_code == 200, name
    assert client.get("/v1/conversations/trip", headers=as_("bob")).status_code == 404
    peek = "/v1/conversations/trip?owner=alice"
    assert client.get(peek, headers=as_("bob")).status_code == 404  # only admins name an owner
    assert client.get(peek, headers=as_("root")).json()["turns"] == 1
    assert client.delete("/v1/conversations/trip", headers=as_("alice-ci")).status_code == 403
    assert client.delete("/v1/conversations/trip", headers=as_("bob")).status_code == 404
    assert client.delete("/v1/conversations/trip", headers=as_("alice")).status_code == 204


def test_an_ingest_key_must_name_its_roots() -> None:
    with pytest.raises(ValidationError, match=r"'bob' has the ingest scope but no ingest_roots"):
        ApiKey(name="bob", sha256="0" * 64, scopes=("read", "ingest"))
    old = ApiKey(name="old", sha256="0" * 64)  # the pre-tenancy shape still loads
    assert old.scopes is None and old.tenant == "old"


def test_the_tenancy_example_in_deploy_docs_is_valid_settings() -> None:
    from tests.paths import REPO

    text = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    block = text.split("## Tenancy", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    config = yaml.safe_load(block.replace("<digest>", key_digest("k")))
    keys = ServeConfig.model_validate(config["serve"]).api_keys
    assert [Tenant.of(k).admin for k in keys] == [True, False, False, True]
    assert Tenant.of(keys[2]).owner == "alice"
