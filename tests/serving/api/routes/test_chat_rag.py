"""RAG and conversations through the chat API: `rag:<collection>` models with citations,
follow-up questions condensed with their history, server-side conversations, the wider OpenAI
request schema and /v1/completions, with the official OpenAI SDK on the real app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import openai
import pytest
from fastapi.testclient import TestClient

from ragline.llm_router.grounding import NOT_ENOUGH_INFO
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.rag.ingest import NoProgress
from ragline.serving.api.app import create_app
from ragline.serving.api.services import Services
from tests.serving.api.test_services import api_settings

pytestmark = pytest.mark.integration

DOCS = {
    "queues.md": "# Queues\n\nQueue point ids are computed from the SHA-256 hash of the queue "
    "name and its vhost. A queue keeps messages until a consumer acknowledges them.",
    "exchanges.md": "# Exchanges\n\nExchange point ids are computed from the MD5 hash of the "
    "exchange routing key. An exchange routes each message to the queues bound to it.",
    "baking.txt": "Bread needs flour, water, salt and yeast. Dough rises when yeast ferments "
    "sugars. A hot oven gives a crisp crust.",
}
FIRST = "How are point ids computed for queues?"


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[Services]:
    tmp = tmp_path_factory.mktemp("chat_rag")
    services = Services(api_settings(tmp, embedder.config.onnx_cache))
    corpus = services.settings.data_dir / "corpus"
    corpus.mkdir(parents=True)
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    services.ingest("wiki", [corpus], NoProgress())
    yield services
    services.close()


@pytest.fixture(scope="module")
def app(services: Services) -> TestClient:
    return TestClient(create_app(services.settings, services))


@pytest.fixture(scope="module")
def sdk(app: TestClient) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=app)


def test_each_collection_is_a_model(sdk: openai.OpenAI) -> None:
    ids = [m.id for m in sdk.models.list()]
    assert "rag" in ids and "rag:wiki" in ids
    assert sdk.models.retrieve("rag:wiki").id == "rag:wiki"


def test_a_rag_model_answers_with_citations(sdk: openai.OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="rag:wiki", messages=[{"role": "user", "content": FIRST}]
    )
    answer = raw.parse()
    text = answer.choices[0].message.content or ""
    assert "SHA-256" in text and "[Source: queues.md]" in text
    citations: Any = answer.model_extra and answer.model_extra["citations"]
    assert citations[0]["document"] == "queues.md"
    assert set(citations[0]) >= {"document", "chunk_id", "page", "section", "score"}
    assert answer.model == "rag:wiki"


def test_a_follow_up_retrieves_for_the_condensed_question(sdk: openai.OpenAI) -> None:
    history: Any = [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": "From the SHA-256 hash of the queue name."},
        {"role": "user", "content": "and for exchanges?"},
    ]
    raw = sdk.chat.completions.with_raw_response.create(model="rag:wiki", messages=history)
    question = unquote(raw.headers["x-ragline-question"])
    assert question.startswith("and for exchanges?") and "point" in question
    assert "queues" not in question  # the word the follow-up replaced is not carried
    text = raw.parse().choices[0].message.content or ""
    assert "MD5" in text and "[Source: exchanges.md]" in text


def test_a_rag_model_abstains_and_streams_citations_last(sdk: openai.OpenAI) -> None:
    off_topic: Any = [{"role": "user", "content": "Who won the 1998 football cup?"}]
    answer = sdk.chat.completions.create(model="rag:wiki", messages=off_topic)
    assert (answer.choices[0].message.content or "").startswith(NOT_ENOUGH_INFO)
    chunks = list(
        sdk.chat.completions.create(
            model="rag:wiki", messages=[{"role": "user", "content": FIRST}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "[Source: queues.md]" in text
    last: Any = chunks[-1].model_extra
    assert last["citations"][0]["document"] == "queues.md"
    assert all(not (c.model_extra or {}).get("citations") for c in chunks[:-1])


def test_an_unknown_collection_is_not_found(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="rag:nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError) as caught:  # "rag": the default, not ingested here
        sdk.chat.completions.create(model="rag", messages=[{"role": "user", "content": "x"}])
    assert "ingest" in caught.value.message


def test_a_server_side_conversation_remembers_the_turns(
    app: TestClient, services: Services
) -> None:
    first = app.post(
        "/v1/chat/completions",
        json={"model": "rag:wiki", "messages": [{"role": "user", "content": FIRST}]},
        headers={"X-Ragline-Conversation": "trip-1"},
    )
    assert first.status_code == 200 and first.json()["conversation"] == "trip-1"
    follow = app.post(
        "/v1/chat/completions",
        json={
            "model": "rag:wiki",
            "conversation": "trip-1",
            "messages": [{"role": "user", "content": "and for exchanges?"}],
        },
    )
    assert "[Source: exchanges.md]" in follow.json()["choices"][0]["message"]["content"]
    stored = services.conversations.load("trip-1", "anonymous")
    assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
    assert app.delete("/v1/conversations/trip-1").status_code == 204
    assert services.conversations.load("trip-1", "anonymous") == ()


def test_the_whole_openai_request_schema_is_accepted(sdk: openai.OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="ragline",
        messages=[
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": [{"type": "text", "text": "Where do deltas form?"}]},
        ],
        seed=3,
        top_p=0.9,
        n=1,
        stop=["\n\n"],
        user="u-1",
        metadata={"team": "search"},
        frequency_penalty=0.1,
        presence_penalty=0.1,
        logprobs=False,
        parallel_tool_calls=False,
        max_completion_tokens=64,
        extra_body={"some_future_field": {"nested": True}},  # unknown: ignored
    )
    assert raw.http_response.status_code == 200
    dropped = raw.headers["x-ragline-dropped-params"].split(", ")
    assert {"seed", "top_p", "metadata"} <= set(dropped)  # the extractive answerer samples nothing


def test_n_choices_are_n_answers(sdk: openai.OpenAI) -> None:
    ask: Any = [{"role": "user", "content": "Where do bread doughs rise?"}]
    one = sdk.chat.completions.create(model="ragline", messages=ask)
    three = sdk.chat.completions.create(model="ragline", messages=ask, n=3)
    assert [c.index for c in three.choices] == [0, 1, 2]
    assert {c.message.content for c in three.choices} == {one.choices[0].message.content}
    assert one.usage is not None and three.usage is not None
    assert three.usage.prompt_tokens == 3 * one.usage.prompt_tokens  # each choice is a call


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"n": 2, "stream": True}, "unsupported_parameter", "n"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x/a.png"}}],
                    }
                ]
            },
            "unsupported_content",
            "messages[0].content",
        ),
        ({"logit_bias": {"hello": 5}}, "invalid_value", "logit_bias"),
        ({"conversation": "no spaces please"}, "invalid_conversation_id", "conversation"),
    ],
)
def test_what_would_change_the_meaning_is_a_400(
    app: TestClient, body: dict[str, Any], code: str, param: str
) -> None:
    request = {"messages": [{"role": "user", "content": "Hi"}]} | body
    response = app.post("/v1/chat/completions", json=request)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)


def test_invalid_json_is_a_400(app: TestClient) -> None:
    response = app.post(
        "/v1/chat/completions",
        content=b'{"messages": [',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_legacy_completions(sdk: openai.OpenAI) -> None:
    done = sdk.completions.create(model="ragline", prompt="Say hello.", max_tokens=16, echo=True)
    assert done.choices[0].text.startswith("Say hello.")
    assert done.usage is not None and done.usage.prompt_tokens > 0
    streamed = list(sdk.completions.create(model="ragline", prompt="Say hello.", stream=True))
    assert streamed[-1].choices[0].finish_reason == "stop"
    with pytest.raises(openai.BadRequestError):
        sdk.completions.create(model="ragline", prompt=["a", "b"])


def test_a_chat_stream_with_usage_still_parses(app: TestClient) -> None:
    body = {
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = [
        line.removeprefix("data: ")
        for line in app.post("/v1/chat/completions", json=body).text.splitlines()
        if line.startswith("data: ")
    ]
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["usage"]["total_tokens"] >= 0
