"""Tools, tool calls and structured outputs through POST /v1/chat/completions, with the OpenAI
SDK and LangChain's ChatOpenAI as clients and a scripted OpenAI-format server on loopback as
the provider (`openai` provider, real HTTP both ways)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.serving.api.app import create_app
from ragline.serving.api.services import Services
from tests.serving.api.openai_fake import FakeOpenAI, Reply
from tests.serving.api.test_services import api_settings

pytestmark = pytest.mark.integration

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
ASK: Any = [{"role": "user", "content": "What is the weather in Oslo?"}]
CITY_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["name", "population"],
}


class City(BaseModel):
    name: str
    population: int


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI([Reply("Hello.")]) as server:
        yield server


@pytest.fixture
def app(
    tmp_path: Any, embedder: SentenceTransformerEmbedder, fake: FakeOpenAI
) -> Iterator[TestClient]:
    os.environ["RAGLINE_TEST_OPENAI_KEY"] = "sk-test"
    llm = {
        "provider": "openai:fake-model",
        "fallbacks": [],
        "openai": {"base_url": fake.url, "api_key_env": "RAGLINE_TEST_OPENAI_KEY"},
        "cache": {"enabled": False},
    }
    settings = api_settings(
        tmp_path, embedder.config.onnx_cache, llm=llm, costs={"unpriced": "free"}
    )
    services = Services(settings)
    try:
        yield TestClient(create_app(settings, services))
    finally:
        services.close()
        os.environ.pop("RAGLINE_TEST_OPENAI_KEY", None)


@pytest.fixture
def sdk(app: TestClient) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=app)


def test_tool_calls_pass_through_and_come_back_in_openai_shape(
    sdk: openai.OpenAI, fake: FakeOpenAI
) -> None:
    fake.replies = [Reply(tool_calls=[("get_weather", '{"city": "Oslo"}')])]
    raw = sdk.chat.completions.with_raw_response.create(
        model="ragline", messages=ASK, tools=[WEATHER_TOOL], tool_choice="auto", seed=7
    )
    answer = raw.parse()
    [call] = answer.choices[0].message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    assert answer.choices[0].finish_reason == "tool_calls"
    sent = fake.bodies[-1]
    assert sent["tools"] == [WEATHER_TOOL] and sent["tool_choice"] == "auto"
    assert sent["seed"] == 7
    assert "x-ragline-dropped-params" not in raw.headers  # openai honours all of these


def test_a_tool_result_goes_back_to_the_provider(sdk: openai.OpenAI, fake: FakeOpenAI) -> None:
    fake.replies = [Reply("It is sunny in Oslo.")]
    history: Any = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": '{"sky": "clear"}'},
    ]
    answer = sdk.chat.completions.create(model="ragline", messages=history, tools=[WEATHER_TOOL])
    assert answer.choices[0].message.content == "It is sunny in Oslo."
    sent = fake.bodies[-1]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2] == {"role": "tool", "content": '{"sky": "clear"}', "tool_call_id": "call_0"}


def test_streamed_tool_calls_arrive_whole(sdk: openai.OpenAI, fake: FakeOpenAI) -> None:
    fake.replies = [Reply(tool_calls=[("get_weather", '{"city": "Oslo"}')])]
    chunks = list(
        sdk.chat.completions.create(
            model="ragline", messages=ASK, tools=[WEATHER_TOOL], stream=True
        )
    )
    calls = [
        c for chunk in chunks if chunk.choices for c in chunk.choices[0].delta.tool_calls or []
    ]
    assert [(c.index, c.id, c.function and c.function.name) for c in calls] == [
        (0, "call_0", "get_weather")
    ]
    assert calls[0].function is not None and calls[0].function.arguments == '{"city": "Oslo"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_json_schema_replies_are_validated_and_repaired(
    sdk: openai.OpenAI, fake: FakeOpenAI
) -> None:
    fake.replies = [Reply('{"name": "Oslo"}'), Reply('{"name": "Oslo", "population": 709000}')]
    answer = sdk.chat.completions.create(
        model="ragline",
        messages=[{"role": "user", "content": "Describe Oslo."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "city", "schema": CITY_SCHEMA, "strict": True},
        },
    )
    assert json.loads(answer.choices[0].message.content or "") == {
        "name": "Oslo",
        "population": 709000,
    }
    first, repair = fake.bodies[-2:]
    assert first["response_format"]["json_schema"]["schema"] == CITY_SCHEMA
    feedback = repair["messages"][-1]["content"]  # the validation error, fed back
    assert repair["messages"][-2]["content"] == '{"name": "Oslo"}' and "population" in feedback


def test_a_reply_that_never_validates_is_a_502(app: TestClient, fake: FakeOpenAI) -> None:
    fake.replies = [Reply("not json at all")]
    body = {"messages": ASK, "response_format": {"type": "json_object"}}
    response = app.post("/v1/chat/completions", json=body)
    assert response.status_code == 502, response.text
    assert "did not reply with JSON" in response.json()["error"]["message"]
    assert len(fake.bodies) == 3  # the first try and llm.max_repairs (2) repairs


def test_dropped_parameters_are_named(sdk: openai.OpenAI, fake: FakeOpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="ragline", messages=ASK, metadata={"team": "search"}, top_p=0.5
    )
    assert raw.headers["x-ragline-dropped-params"] == "metadata"
    assert fake.bodies[-1]["top_p"] == 0.5 and "metadata" not in fake.bodies[-1]


def test_langchain_bind_tools(app: TestClient, fake: FakeOpenAI) -> None:
    @tool
    def get_weather(city: str) -> str:
        """Current weather of a city."""
        return "sunny"

    fake.replies = [Reply(tool_calls=[("get_weather", '{"city": "Oslo"}')])]
    chat = ChatOpenAI(
        base_url="http://testserver/v1", api_key="unused", model="ragline", http_client=app
    )
    message = chat.bind_tools([get_weather]).invoke("What is the weather in Oslo?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
    assert fake.bodies[-1]["tools"][0]["function"]["name"] == "get_weather"


def test_langchain_with_structured_output(app: TestClient, fake: FakeOpenAI) -> None:
    fake.replies = [Reply('{"name": "Oslo", "population": 709000}')]
    chat = ChatOpenAI(
        base_url="http://testserver/v1", api_key="unused", model="ragline", http_client=app
    )
    city = chat.with_structured_output(City).invoke("Describe Oslo.")
    assert city == City(name="Oslo", population=709000)
    assert fake.bodies[-1]["response_format"]["type"] == "json_schema"
