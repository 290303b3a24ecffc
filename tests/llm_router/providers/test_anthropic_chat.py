"""The anthropic provider against an HTTP-level fake of the Messages API (a paid API: no real
calls), answering JSON and server-sent events in Anthropic's own format."""

from __future__ import annotations

import json

import httpx2
import pytest

from ragline.core.chat import ChatRequest, Message, Sampling, StreamChunk, Tool, ToolCall, Usage
from ragline.llm_router import LlmConfig, resolve
from ragline.llm_router.config import AnthropicConfig
from ragline.llm_router.errors import (
    AuthError,
    BadRequest,
    RateLimited,
    ServerError,
    Timeout,
    Unavailable,
)
from ragline.llm_router.providers.anthropic_chat import AnthropicChatModel, PromptCache

pytestmark = pytest.mark.unit

KEY_ENV = "RAGLINE_TEST_ANTHROPIC_KEY"
MODEL = "claude-test"
NAME = f"anthropic:{MODEL}"
REQUEST = ChatRequest(
    messages=(
        Message("system", "Answer from the context."),
        Message("user", "How do I install ragline?"),
        Message("assistant", "Which platform?"),
        Message("system", "Be brief."),
        Message("user", "Linux."),
    ),
    max_tokens=64,
    stop=("\n\nHuman:",),
)
MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": MODEL,
    "content": [{"type": "text", "text": " Run pip install ragline. "}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 20,
        "output_tokens": 6,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 5,
    },
}


def sse(event: str, data: dict[str, object]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def stream_events(stop_reason: str = "max_tokens") -> str:
    """A streamed answer as the Messages API sends it (a ping and a text block included)."""
    start = {**MESSAGE, "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": 20, "output_tokens": 1, "cache_read_input_tokens": 100}
    delta = {"type": "text_delta"}
    return "".join(
        [
            sse("message_start", {"type": "message_start", "message": start}),
            sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            sse("ping", {"type": "ping"}),
            sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {**delta, "text": "Run pip"}},
            ),
            sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {**delta, "text": " install"}},
            ),
            sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": 3},
                },
            ),
            sse("message_stop", {"type": "message_stop"}),
        ]
    )


class MessagesFake:
    """POST /v1/messages: records each request, answers JSON or an event stream."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.status = 200
        self.headers: dict[str, str] = {}
        self.error: dict[str, object] | None = None

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.error is not None:
            body = {"type": "error", "error": self.error}
            return httpx2.Response(self.status, json=body, headers=self.headers)
        if json.loads(request.content).get("stream"):
            events = stream_events().encode()
            return httpx2.Response(
                200, content=events, headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(200, json=MESSAGE)

    def fail(self, status: int, kind: str, headers: dict[str, str] | None = None) -> None:
        self.status, self.headers = status, headers or {}
        self.error = {"type": kind, "message": f"the server says {kind}"}

    def body(self) -> dict[str, object]:
        sent: dict[str, object] = json.loads(self.requests[-1].content)
        return sent


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> MessagesFake:
    monkeypatch.setenv(KEY_ENV, "sk-ant-test")
    return MessagesFake()


def model_for(fake: MessagesFake, prompt_cache: PromptCache = "system") -> AnthropicChatModel:
    """The provider on `fake`; `prompt_cache` system unless a test is about the breakpoints."""
    settings = AnthropicConfig(api_key_env=KEY_ENV, model=MODEL, prompt_cache=prompt_cache)
    client = httpx2.Client(transport=httpx2.MockTransport(fake.handle))
    return AnthropicChatModel(settings, http_client=client)


def test_system_messages_go_to_the_system_parameter(fake: MessagesFake) -> None:
    model_for(fake).complete(REQUEST)
    sent = fake.requests[0]
    assert sent.url == "https://api.anthropic.com/v1/messages"
    assert "sk-ant-test" in (sent.headers.get("x-api-key") or sent.headers["authorization"])
    assert fake.body() == {
        "model": MODEL,
        "max_tokens": 64,
        "system": [  # llm.anthropic.prompt_cache: system, a breakpoint after the system prompt
            {
                "type": "text",
                "text": "Answer from the context.\n\nBe brief.",
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "messages": [
            {"role": "user", "content": "How do I install ragline?"},
            {"role": "assistant", "content": "Which platform?"},
            {"role": "user", "content": "Linux."},
        ],
        "stop_sequences": ["\n\nHuman:"],
        "temperature": 0.0,  # llm.anthropic.temperature: the request names none
    }


def test_a_request_temperature_wins_over_the_default(fake: MessagesFake) -> None:
    user_only = ChatRequest(messages=(Message("user", "hi"),), max_tokens=5, temperature=0.2)
    model_for(fake).complete(user_only)
    assert fake.body() == {
        "model": MODEL,
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
    }


def test_answer_text_usage_and_finish(fake: MessagesFake) -> None:
    completion = model_for(fake).complete(REQUEST)
    assert completion.text == "Run pip install ragline."
    assert completion.model == NAME
    # input_tokens is the uncached part: cache reads and writes are prompt tokens too
    assert completion.usage == Usage(125, 6, cached_in=100, source="provider")
    assert completion.finish_reason == "stop"


def test_stream_yields_text_then_usage_and_length(fake: MessagesFake) -> None:
    chunks = list(model_for(fake).stream(REQUEST))
    assert fake.body()["stream"] is True
    assert [c.text for c in chunks] == ["Run pip", " install", ""]
    assert chunks[-1] == StreamChunk("", NAME, "length", Usage(120, 3, cached_in=100))
    assert all(c.usage is None and c.finish_reason is None for c in chunks[:-1])


def test_resolves_by_name(fake: MessagesFake) -> None:
    config = LlmConfig(anthropic=AnthropicConfig(api_key_env=KEY_ENV))
    assert resolve("anthropic:claude-3-5-haiku-latest", config).name == (
        "anthropic:claude-3-5-haiku-latest"
    )


def test_a_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(AuthError, match="set ANTHROPIC_API_KEY"):
        resolve("anthropic")


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (ChatRequest(messages=REQUEST.messages, regex="[a-z]+"), "regex.*use vllm"),
        (ChatRequest(messages=(Message("system", "rules only"),)), "needs a user message"),
    ],
)
def test_what_anthropic_cannot_do_is_refused_unsent(
    fake: MessagesFake, request_: ChatRequest, words: str
) -> None:
    model = model_for(fake)
    with pytest.raises(BadRequest, match=words):
        model.complete(request_)
    with pytest.raises(BadRequest, match=words):
        model.stream(request_)
    assert fake.requests == []


def test_429_is_rate_limited_with_retry_after(fake: MessagesFake) -> None:
    fake.fail(429, "rate_limit_error", {"retry-after": "12"})
    with pytest.raises(RateLimited, match="rate_limit_error") as caught:
        model_for(fake).complete(REQUEST)
    assert caught.value.retry_after_s == 12.0
    assert len(fake.requests) == 1  # the SDK never retries: the router does


@pytest.mark.parametrize(
    ("status", "kind", "error", "words"),
    [
        (401, "authentication_error", AuthError, f"set {KEY_ENV}"),
        (403, "permission_error", AuthError, f"set {KEY_ENV}"),
        (400, "invalid_request_error", BadRequest, "will fail again"),
        (404, "not_found_error", BadRequest, "check the model name"),
        (500, "api_error", ServerError, "retry"),
        (529, "overloaded_error", ServerError, "retry"),
    ],
)
def test_status_codes_map_to_ragline_errors(
    fake: MessagesFake, status: int, kind: str, error: type[Exception], words: str
) -> None:
    fake.fail(status, kind)
    with pytest.raises(error, match=words) as caught:
        model_for(fake).complete(REQUEST)
    assert f"the server says {kind}" in str(caught.value)
    with pytest.raises(error):
        list(model_for(fake).stream(REQUEST))
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("failure", "error", "words"),
    [
        (httpx2.ReadTimeout, Timeout, r"within 5 s.*llm\.anthropic\.timeout_s"),
        (httpx2.ConnectError, Unavailable, r"cannot reach anthropic at http://claude\.test"),
    ],
)
def test_no_answer_is_a_timeout_and_no_connection_unavailable(
    fake: MessagesFake, failure: type[httpx2.TransportError], error: type[Exception], words: str
) -> None:
    def fail(request: httpx2.Request) -> httpx2.Response:
        raise failure("no answer", request=request)

    settings = AnthropicConfig(api_key_env=KEY_ENV, timeout_s=5, base_url="http://claude.test")
    client = httpx2.Client(transport=httpx2.MockTransport(fail))
    model = AnthropicChatModel(settings, http_client=client)
    with pytest.raises(error, match=words):
        model.complete(REQUEST)


WEATHER = Tool("get_weather", "Current weather", {"type": "object", "properties": {}})
TOOL_USE = {
    **MESSAGE,
    "content": [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
    ],
    "stop_reason": "tool_use",
}


def test_tools_and_tool_results_map_to_anthropic_blocks(fake: MessagesFake) -> None:
    history = (
        Message("user", "Weather in Oslo?"),
        Message(
            "assistant", "", tool_calls=(ToolCall("toolu_0", "get_weather", '{"city":"Oslo"}'),)
        ),
        Message("tool", '{"sky": "clear"}', tool_call_id="toolu_0"),
    )
    request = ChatRequest(
        messages=history,
        tools=(WEATHER,),
        tool_choice="get_weather",
        sampling=Sampling(top_p=0.5, seed=3, parallel_tool_calls=False),
    )
    done = model_for(fake).complete(request)
    sent = fake.body()
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert sent["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }
    assert sent["top_p"] == 0.5
    assert sent["messages"] == [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_0",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_0", "content": '{"sky": "clear"}'}
            ],
        },
    ]
    assert done.dropped == ("seed",)  # Anthropic has no seed


def test_tool_use_comes_back_as_tool_calls(fake: MessagesFake) -> None:
    fake_answer = TOOL_USE

    def handle(request: httpx2.Request) -> httpx2.Response:
        fake.requests.append(request)
        return httpx2.Response(200, json=fake_answer)

    client = httpx2.Client(transport=httpx2.MockTransport(handle))
    model = AnthropicChatModel(
        AnthropicConfig(api_key_env=KEY_ENV, model=MODEL), http_client=client
    )
    done = model.complete(ChatRequest(messages=(Message("user", "Weather?"),), tools=(WEATHER,)))
    assert done.tool_calls == (ToolCall("toolu_1", "get_weather", '{"city": "Oslo"}'),)
    assert done.finish_reason == "tool_calls" and done.text == "Let me look."


def test_prompt_cache_breakpoints_follow_the_setting(fake: MessagesFake) -> None:
    model_for(fake, prompt_cache="off").complete(REQUEST)
    assert fake.body()["system"] == "Answer from the context.\n\nBe brief."
    assert all("cache_control" not in str(m) for m in fake.body()["messages"])  # type: ignore[attr-defined]

    fake.requests.clear()
    completion = model_for(fake, prompt_cache="conversation").complete(REQUEST)
    body = fake.body()
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}  # type: ignore[index]
    *earlier, last = body["messages"]  # type: ignore[misc]
    assert last == {
        "role": "user",
        "content": [{"type": "text", "text": "Linux.", "cache_control": {"type": "ephemeral"}}],
    }
    assert earlier[0] == {"role": "user", "content": "How do I install ragline?"}
    # what the cache read is reported as: prompt tokens, of which cached
    assert completion.usage.cached_in == 100 and completion.usage.tokens_in >= 100

    fake.requests.clear()  # auto: a multi-turn request is marked as a conversation ...
    model_for(fake, prompt_cache="auto").complete(REQUEST)
    assert "cache_control" in fake.body()["messages"][-1]["content"][0]  # type: ignore[index]
    one_shot = ChatRequest(messages=(REQUEST.messages[0], Message("user", "Linux?")))
    model_for(fake, prompt_cache="auto").complete(one_shot)  # ... a one-shot one is not
    assert fake.body()["messages"] == [{"role": "user", "content": "Linux?"}]
    assert AnthropicConfig().prompt_cache == "auto"


def test_json_schema_is_asked_for_in_the_system_prompt(fake: MessagesFake) -> None:
    model_for(fake, prompt_cache="off").complete(
        ChatRequest(messages=REQUEST.messages, json_schema={"type": "object"})
    )
    system = fake.body()["system"]
    assert isinstance(system, str)
    assert system.endswith(
        'Reply with only one JSON object that matches this JSON schema: {"type":"object"}'
    )
