"""POST /v1/chat/completions: end to end with the official OpenAI client against a real
`ragline serve` (generation by a real llama.cpp server through the `vllm` provider), and on the
in-process app for fallbacks, provider failures, validation and traffic arms."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient

from ragline.core.chat import StreamChunk
from ragline.llm_router.errors import ServerError
from ragline.llm_router.grounding import NOT_ENOUGH_INFO
from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
from ragline.serving.api.app import create_app
from ragline.serving.api.context import ANONYMOUS
from ragline.serving.api.routes.chat import StreamIds, sse_events
from ragline.serving.api.services import Outcome, Services
from ragline.serving.api.traffic.split import Traffic
from ragline.serving.serve_config import Arm, CanaryConfig, TrafficConfig
from tests.llm_router.llama_server import MODEL_ALIAS, free_port
from tests.serving.api.conftest import LiveServer
from tests.serving.api.test_services import api_settings

pytestmark = pytest.mark.integration

LLAMA = f"vllm:{MODEL_ALIAS}"
HELLO: Any = [{"role": "user", "content": "Name one colour of the sky."}]


@pytest.fixture(scope="module")
def server(live_server: Callable[..., LiveServer], llama_server_url: str) -> LiveServer:
    """`ragline serve` routing to the llama.cpp server, with extractive as the fallback."""
    llm = {"provider": LLAMA, "fallbacks": ["extractive"], "vllm": {"base_url": llama_server_url}}
    return live_server({"llm": llm}, name="chat")


@pytest.fixture(scope="module")
def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def test_completion_with_usage_and_headers(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="ragline",
        messages=HELLO,
        max_tokens=12,
    )
    completion = raw.parse()
    text = completion.choices[0].message.content
    assert text and text.strip()
    assert completion.model == LLAMA
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= 12
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert raw.headers["x-ragline-arm"] == "control"
    assert raw.headers["x-ragline-cost-usd"] == "0.0"  # vllm:* is priced at 0


def test_a_repeated_request_is_an_exact_cache_hit(client: openai.OpenAI) -> None:
    ask = {"model": "ragline", "messages": HELLO, "max_tokens": 10, "temperature": 0}
    first = client.chat.completions.with_raw_response.create(**ask)
    second = client.chat.completions.with_raw_response.create(**ask)
    assert first.headers["x-ragline-cache"] == "miss"
    assert second.headers["x-ragline-cache"] == "exact"
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content


def test_streaming_joins_to_the_complete_answer(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Count from one to five."}]
    whole = client.chat.completions.create(model="ragline", messages=messages, max_tokens=16)
    stream = client.chat.completions.create(
        model="ragline",
        messages=messages,
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len([p for p in pieces if p]) > 1  # it really came in pieces
    assert "".join(pieces) == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("stop", "length") and set(finishes[:-1]) == {None}
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert whole.usage is not None and usage.completion_tokens == whole.usage.completion_tokens


def test_a_named_model_answers_alone(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="extractive", messages=HELLO)
    assert completion.model == "extractive:bm25"
    assert completion.choices[0].message.content == NOT_ENOUGH_INFO  # no context to quote
    stream = client.chat.completions.create(model="extractive", messages=HELLO, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream) == NOT_ENOUGH_INFO


def test_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="openai:gpt-9", messages=HELLO)
    assert caught.value.code == "model_not_found"
    assert "ragline" in caught.value.message and LLAMA in caught.value.message


def test_models_lists_what_a_request_may_name(client: openai.OpenAI) -> None:
    # the chat models in config order, then the embedding model of POST /v1/embeddings
    ids = [m.id for m in client.models.list()]
    # then "rag" (the default collection; this server has none ingested) and the embedder
    assert ids == ["ragline", LLAMA, "extractive", "rag", "all-MiniLM-L6-v2"]


def test_bad_requests_are_400_as_openai_answers(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="ragline", messages=[])
    assert "messages" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="ragline", messages=HELLO, max_tokens=-1)


# -- in-process: providers down, validation, traffic arms -----------------------------------


def _app(tmp: Path, embedder: SentenceTransformerEmbedder, **sections: Any) -> Iterator[TestClient]:
    services = Services(api_settings(tmp, embedder.config.onnx_cache, **sections))
    try:
        yield TestClient(create_app(services.settings, services))
    finally:
        services.close()


def _dead_llm(fallbacks: list[str]) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    return {"provider": "vllm:gone", "fallbacks": fallbacks, "vllm": {"base_url": dead}}


@pytest.fixture
def falling_back(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[TestClient]:
    yield from _app(tmp_path, embedder, llm=_dead_llm(["extractive"]))


@pytest.fixture
def all_down(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[TestClient]:
    yield from _app(tmp_path, embedder, llm=_dead_llm([]))


def _sse(text: str) -> list[Any]:
    events = [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_the_fallback_answers_when_every_provider_is_down(falling_back: TestClient) -> None:
    body = {"messages": HELLO}
    answer = falling_back.post("/v1/chat/completions", json=body).json()
    assert answer["model"] == "extractive:bm25"
    assert answer["choices"][0]["message"]["content"] == NOT_ENOUGH_INFO
    streamed = falling_back.post("/v1/chat/completions", json={**body, "stream": True})
    chunks = _sse(streamed.text)
    assert {c["model"] for c in chunks} == {"extractive:bm25"}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == NOT_ENOUGH_INFO


def test_no_provider_left_is_503_before_any_stream_starts(all_down: TestClient) -> None:
    for stream in (False, True):
        response = all_down.post("/v1/chat/completions", json={"messages": HELLO, "stream": stream})
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["type"] == "server_error"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "role"),
        ({"messages": [{"role": "user", "content": 3}]}, "content"),
        ({"messages": HELLO, "max_tokens": 0}, "max_tokens"),
        ({"messages": HELLO, "temperature": 3}, "temperature"),
        ({"messages": HELLO, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": HELLO, "tools": []}, "tools"),
        ({"messages": HELLO, "stream": "yes"}, "stream"),
    ],
)
def test_bad_chat_bodies_are_400(falling_back: TestClient, body: object, field: str) -> None:
    response = falling_back.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["message"]


AB = {"arms": [{"name": "small", "llm": {"extractive": {"max_sentences": 1}}},
               {"name": "large", "llm": {"extractive": {"max_sentences": 5}}}]}  # fmt: skip


@pytest.fixture
def ab_services(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Services]:
    settings = api_settings(tmp_path, embedder.config.onnx_cache, serve={"traffic": {"ab": AB}})
    services = Services(settings)
    yield services
    services.close()


def test_each_answer_names_its_sticky_arm(ab_services: Services) -> None:
    client = TestClient(create_app(ab_services.settings, ab_services))
    seen = set()
    for user in (f"user-{i}" for i in range(12)):
        expected = ab_services.arm_for(ANONYMOUS, user)
        for stream in (False, True):
            body = {"messages": HELLO, "user": user, "stream": stream}
            response = client.post("/v1/chat/completions", json=body)
            assert response.headers["x-ragline-arm"] == expected
        seen.add(expected)
    assert seen == {"small", "large"}
    traffic = ab_services.traffic
    assert traffic is not None
    counted = {arm.name: arm.requests for arm in traffic.status().arms}
    assert sum(counted.values()) == 24  # every request, streamed or not, was recorded


def test_a_failing_arm_records_errors(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    canary = {"arm": {"name": "broken", "llm": _dead_llm([])}, "percent": 100}
    settings = api_settings(
        tmp_path, embedder.config.onnx_cache, serve={"traffic": {"canary": canary}}
    )
    services = Services(settings)
    try:
        client = TestClient(create_app(settings, services))
        response = client.post("/v1/chat/completions", json={"messages": HELLO, "user": "u1"})
        assert response.status_code == 503
        traffic = services.traffic
        assert traffic is not None
        broken = next(a for a in traffic.status().arms if a.name == "broken")
        assert (broken.requests, broken.errors) == (1, 1)
    finally:
        services.close()


def test_a_provider_failing_mid_stream_ends_with_an_error_event() -> None:
    traffic = Traffic(TrafficConfig(canary=CanaryConfig(arm=Arm(name="v2"))))

    def rest() -> Iterator[StreamChunk]:
        yield StreamChunk("second ", "vllm:x")
        raise ServerError("vllm at http://10.0.0.5:8000 answered 502")

    ids = StreamIds("chatcmpl-r1", 0, include_usage=True)
    events = list(
        sse_events(StreamChunk("first ", "vllm:x"), rest(), ids, Outcome(traffic, "v2"), "r1")
    )
    payloads = [json.loads(e.removeprefix("data: ")) for e in events]
    assert [p["choices"][0]["delta"]["content"] for p in payloads[:3]] == ["", "first ", "second "]
    error = payloads[-1]["error"]
    assert error["type"] == "server_error" and error["request_id"] == "r1"
    assert "10.0.0.5" not in error["message"]  # the client-safe message, as for a 503
    assert len(events) == 4  # no finish chunk, no usage chunk, no [DONE]
    canary = next(arm for arm in traffic.status().arms if arm.name == "v2")
    assert (canary.requests, canary.errors) == (1, 1)


def test_token_logprobs_come_back_in_openai_shape(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="ragline", messages=HELLO, max_tokens=6, logprobs=True, top_logprobs=2
    )
    [choice] = raw.parse().choices
    assert choice.logprobs is not None and choice.logprobs.content
    tokens = choice.logprobs.content
    assert "".join(t.token for t in tokens).strip() == choice.message.content
    assert all(t.logprob <= 0 and 1 <= len(t.top_logprobs) <= 2 for t in tokens)
    assert "x-ragline-dropped-params" not in raw.headers  # llama.cpp's server honours both


def test_a_stream_names_logprobs_dropped(client: openai.OpenAI) -> None:
    """The wire provider says so on its first chunk: streamed chunks carry no log-probabilities."""
    with client.chat.completions.with_streaming_response.create(
        model="ragline", messages=HELLO, max_tokens=4, logprobs=True, stream=True
    ) as raw:
        assert raw.headers["x-ragline-dropped-params"] == "logprobs"
        assert list(raw.iter_lines())  # the stream itself still answers
