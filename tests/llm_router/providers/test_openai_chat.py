"""The openai provider: its wire format and error mapping against an HTTP-level fake of OpenAI,
and everything a server really does (chat, streaming, usage, limits) against llama.cpp's
OpenAI-compatible server."""

from __future__ import annotations

from email.utils import formatdate
from pathlib import Path

import httpx2
import pytest

from ragline.core.chat import ChatModel, ChatRequest, Completion, Message, StreamChunk, Usage
from ragline.llm_router import LlmConfig, resolve
from ragline.llm_router.config import OpenAIConfig
from ragline.llm_router.errors import (
    AuthError,
    BadRequest,
    RateLimited,
    ServerError,
    Timeout,
    Unavailable,
)
from ragline.llm_router.providers.http_errors import retry_after_s
from ragline.llm_router.providers.openai_chat import OpenAIChatModel
from ragline.llm_router.testing import REQUEST, ChatModelConformance
from ragline.llm_router.tokens import chat_tokens, content_tokens, count_tokens
from tests.llm_router.conftest import OpenAIFake, chunk
from tests.llm_router.llama_server import MODEL_ALIAS, N_CTX, LlamaServer, free_port

KEY_ENV = "RAGLINE_TEST_OPENAI_KEY"
HELLO = ChatRequest(
    messages=(Message("system", "Be brief."), Message("user", "Say hello.")), max_tokens=16
)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    return KEY_ENV


def fake_model(fake: OpenAIFake, model: str = "gpt-4o-mini") -> OpenAIChatModel:
    config = OpenAIConfig(api_key_env=KEY_ENV, base_url="https://api.example.test/v1")
    return OpenAIChatModel(config, model, http_client=fake.client())


@pytest.mark.unit
class TestWireFormat:
    def test_sends_the_chat_request_with_the_key(self, key: str, openai_fake: OpenAIFake) -> None:
        request = ChatRequest(messages=HELLO.messages, max_tokens=16, stop=("\n\n",))
        completion = fake_model(openai_fake).complete(request)
        sent = openai_fake.requests[0]
        assert sent.url == "https://api.example.test/v1/chat/completions"
        assert sent.headers["authorization"] == "Bearer sk-test-123"
        assert openai_fake.body() == {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Say hello."},
            ],
            "max_tokens": 16,
            "temperature": 0.0,
            "stop": ["\n\n"],
        }  # the request names no temperature: llm.openai.temperature (0) is sent
        assert completion.text == "Hello there."
        assert completion.model == "openai:gpt-4o-mini"

    def test_a_null_default_temperature_leaves_it_to_the_server(
        self, key: str, openai_fake: OpenAIFake
    ) -> None:
        config = OpenAIConfig(
            api_key_env=KEY_ENV, base_url="https://api.example.test/v1", temperature=None
        )
        model = OpenAIChatModel(config, http_client=openai_fake.client())
        model.complete(HELLO)
        assert "temperature" not in openai_fake.body()

    def test_temperature_and_request_model_are_sent(
        self, key: str, openai_fake: OpenAIFake
    ) -> None:
        request = ChatRequest(messages=HELLO.messages, model="gpt-4o", temperature=0.0)
        completion = fake_model(openai_fake).complete(request)
        assert openai_fake.body()["temperature"] == 0.0
        assert openai_fake.body()["model"] == "gpt-4o"
        assert completion.model == "openai:gpt-4o"

    def test_usage_as_reported_with_cached_tokens(self, key: str, openai_fake: OpenAIFake) -> None:
        completion = fake_model(openai_fake).complete(HELLO)
        assert completion.usage == Usage(12, 3, cached_in=8, source="provider")
        assert completion.finish_reason == "stop"

    def test_usage_is_counted_when_the_server_reports_none(
        self, key: str, openai_fake: OpenAIFake
    ) -> None:
        reply = {
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hi you"},
                    "finish_reason": "length",
                }
            ],
        }
        openai_fake.answer(200, reply)
        completion = fake_model(openai_fake).complete(HELLO)
        tokens_in = chat_tokens(HELLO.messages)  # the contents and OpenAI's documented framing
        assert tokens_in == count_tokens("Be brief.") + count_tokens("Say hello.") + 2 * 3 + 3
        assert completion.usage == Usage(tokens_in, count_tokens("Hi you"), source="counted")
        assert completion.finish_reason == "length"

    def test_a_reported_count_calibrates_the_streams_that_report_none(
        self, key: str, openai_fake: OpenAIFake
    ) -> None:
        model = fake_model(openai_fake)
        assert model.prompt_tokens(HELLO) == chat_tokens(HELLO.messages)  # nothing reported yet
        assert model.complete(HELLO).usage.tokens_in == 12  # the canned answer's report
        openai_fake.stream(chunk("Hi"), chunk(finish="stop"))  # no usage in the stream
        last = list(model.stream(HELLO))[-1]
        assert last.usage == Usage(12, count_tokens("Hi"), source="counted")
        assert model.prompt_tokens(HELLO) == 12  # and the router's budget pre-check

    def test_json_schema_becomes_response_format(self, key: str, openai_fake: OpenAIFake) -> None:
        schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
        fake_model(openai_fake).complete(ChatRequest(messages=HELLO.messages, json_schema=schema))
        assert openai_fake.body()["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema},
        }

    def test_regex_is_refused_before_anything_is_sent(
        self, key: str, openai_fake: OpenAIFake
    ) -> None:
        model = fake_model(openai_fake)
        request = ChatRequest(messages=HELLO.messages, regex=r"\d+")
        with pytest.raises(BadRequest, match=r"openai does not support regex.*use vllm"):
            model.complete(request)
        with pytest.raises(BadRequest, match="use vllm"):
            next(model.stream(request))
        assert openai_fake.requests == []

    def test_stream_asks_for_usage_and_reports_it(self, key: str, openai_fake: OpenAIFake) -> None:
        usage = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
        openai_fake.stream(chunk("Hel"), chunk("lo"), chunk(finish="length"), chunk(usage=usage))
        chunks = list(fake_model(openai_fake).stream(HELLO))
        assert openai_fake.body()["stream"] is True
        assert openai_fake.body()["stream_options"] == {"include_usage": True}
        assert [c.text for c in chunks] == ["Hel", "lo", ""]
        assert all(c.model == "openai:gpt-4o-mini" for c in chunks)
        assert chunks[-1] == StreamChunk("", "openai:gpt-4o-mini", "length", Usage(9, 2))

    def test_stream_counts_usage_when_the_server_sends_none(
        self, key: str, openai_fake: OpenAIFake
    ) -> None:
        openai_fake.stream(chunk("Hi"), chunk(" you"), chunk(finish="stop"))
        last = list(fake_model(openai_fake).stream(HELLO))[-1]
        assert last.usage is not None and last.usage.source == "counted"
        assert last.usage.tokens_out == count_tokens("Hi you")
        assert last.finish_reason == "stop"


@pytest.mark.unit
class TestErrors:
    def test_a_missing_key_names_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        with pytest.raises(AuthError, match="set OPENAI_API_KEY"):
            OpenAIChatModel(OpenAIConfig())
        with pytest.raises(AuthError, match="set OPENAI_API_KEY"):
            resolve("openai:gpt-4o-mini")

    @pytest.mark.parametrize(
        ("headers", "expected"),
        [
            ({"retry-after": "7"}, 7.0),
            ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
            ({}, None),
        ],
    )
    def test_429_is_rate_limited_with_the_servers_hint(
        self,
        key: str,
        openai_fake: OpenAIFake,
        headers: dict[str, str],
        expected: float | None,
    ) -> None:
        body = {"error": {"message": "Rate limit reached", "type": "requests"}}
        openai_fake.answer(429, body, headers)
        with pytest.raises(RateLimited, match="Rate limit reached") as caught:
            fake_model(openai_fake).complete(HELLO)
        assert caught.value.retry_after_s == expected
        assert len(openai_fake.requests) == 1  # the SDK never retries: the router does

    @pytest.mark.parametrize(
        ("status", "error", "words"),
        [
            (401, AuthError, f"set {KEY_ENV}"),
            (403, AuthError, f"set {KEY_ENV}"),
            (400, BadRequest, "will fail again"),
            (404, BadRequest, "check the model name"),
            (422, BadRequest, "will fail again"),
            (500, ServerError, "retry"),
            (503, ServerError, "retry"),
        ],
    )
    def test_status_codes_map_to_ragline_errors(
        self,
        key: str,
        openai_fake: OpenAIFake,
        status: int,
        error: type[Exception],
        words: str,
    ) -> None:
        openai_fake.answer(status, {"error": {"message": "the server's reason"}})
        with pytest.raises(error, match=words) as caught:
            fake_model(openai_fake).complete(HELLO)
        assert "the server's reason" in str(caught.value)
        assert len(openai_fake.requests) == 1

    def test_status_errors_in_a_stream_are_mapped_too(
        self, key: str, openai_fake: OpenAIFake
    ) -> None:
        openai_fake.answer(503, {"error": {"message": "overloaded"}})
        with pytest.raises(ServerError, match="overloaded"):
            list(fake_model(openai_fake).stream(HELLO))

    def test_no_answer_in_time_is_a_timeout(self, key: str) -> None:
        def hang(request: httpx2.Request) -> httpx2.Response:
            raise httpx2.ReadTimeout("timed out", request=request)

        config = OpenAIConfig(api_key_env=KEY_ENV, timeout_s=3)
        client = httpx2.Client(transport=httpx2.MockTransport(hang))
        model = OpenAIChatModel(config, http_client=client)
        with pytest.raises(Timeout, match=r"within 3 s; retry, or raise llm\.openai\.timeout_s"):
            model.complete(HELLO)

    def test_retry_after_as_an_http_date(self) -> None:
        now = 1_700_000_000.0
        headers = httpx2.Headers({"Retry-After": formatdate(now + 30, usegmt=True)})
        assert retry_after_s(headers, now=lambda: now) == 30.0
        late = httpx2.Headers({"retry-after": formatdate(now - 30, usegmt=True)})
        assert retry_after_s(late, now=lambda: now) == 0.0
        assert retry_after_s(httpx2.Headers({"retry-after": "soon"})) is None


@pytest.fixture(scope="module")
def server_model(llama_server_url: str) -> OpenAIChatModel:
    with pytest.MonkeyPatch.context() as patch:  # the key is read once, at construction
        patch.setenv(KEY_ENV, "sk-local")
        config = OpenAIConfig(base_url=llama_server_url, api_key_env=KEY_ENV)
        return OpenAIChatModel(config, MODEL_ALIAS)


@pytest.mark.integration
@pytest.mark.slow
class TestOpenAIConformance(ChatModelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def model(cls, server_model: OpenAIChatModel) -> ChatModel:
        return server_model  # llm.openai.temperature 0 by default: deterministic

    def test_usage_is_the_servers_own_count(self, completion: Completion) -> None:
        assert completion.usage.source == "provider"  # llama.cpp's tokenizer, not tiktoken
        assert completion.model == f"openai:{MODEL_ALIAS}"


@pytest.mark.integration
class TestAgainstLlamaServer:
    def test_logprobs_give_a_confidence(self, server_model: OpenAIChatModel) -> None:
        asked = ChatRequest(messages=REQUEST.messages, max_tokens=6, logprobs=True)
        confidence = server_model.complete(asked).confidence
        assert confidence is not None and 0.0 < confidence <= 1.0
        plain = ChatRequest(messages=REQUEST.messages, max_tokens=6)
        assert server_model.complete(plain).confidence is None

    def test_stream_ends_with_counted_usage_and_the_finish_reason(
        self, server_model: OpenAIChatModel
    ) -> None:
        request = ChatRequest(messages=REQUEST.messages, max_tokens=6, temperature=0)
        chunks = list(server_model.stream(request))
        assert "".join(c.text for c in chunks).strip() == server_model.complete(request).text
        last = chunks[-1]
        assert last.finish_reason == "length"  # 6 tokens do not finish this answer
        # llama.cpp's server ignores stream_options.include_usage: the tokens are counted
        assert last.usage is not None and last.usage.source == "counted"
        assert last.usage.tokens_out > 0

    def test_max_tokens_cuts_the_answer(self, server_model: OpenAIChatModel) -> None:
        request = ChatRequest(messages=REQUEST.messages, max_tokens=3, temperature=0)
        cut = server_model.complete(request)
        assert cut.finish_reason == "length"
        assert cut.usage.tokens_out == 3

    def test_a_prompt_longer_than_the_window_is_a_bad_request(
        self, server_model: OpenAIChatModel
    ) -> None:
        too_long = ChatRequest(messages=(Message("user", "word " * N_CTX),), max_tokens=8)
        with pytest.raises(BadRequest, match="maximum context length is 2048 tokens"):
            server_model.complete(too_long)

    def test_resolves_by_name_with_the_config(
        self, llama_server_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
        config = LlmConfig(openai=OpenAIConfig(base_url=llama_server_url))
        model = resolve(f"openai:{MODEL_ALIAS}", config)
        assert model.name == f"openai:{MODEL_ALIAS}"
        assert model.complete(ChatRequest(messages=HELLO.messages, max_tokens=2)).text


@pytest.mark.integration
def test_streamed_prompts_count_what_the_server_reports(llama_server_url: str, key: str) -> None:
    """llama-cpp-python's server sends no usage in streams. The prompt is then counted with
    the framing learned from its last reported count of a prompt of the same shape (with or
    without a system message): exact for the same messages, within max(2 tokens, 5%) for
    other words (measured: 0-1 token off on SmolLM2, where the contents alone are 4x short)."""
    config = OpenAIConfig(base_url=llama_server_url, api_key_env=KEY_ENV)
    with httpx2.Client() as http:  # a model of its own (nothing learned yet), closed after
        _learns_each_shape(OpenAIChatModel(config, MODEL_ALIAS, http_client=http))


def _learns_each_shape(model: OpenAIChatModel) -> None:
    shapes = [
        (
            (Message("user", "What is the capital of France? One word."),),
            (Message("user", "Explain briefly why the sky is blue during the day."),),
        ),
        (
            (Message("system", "Be brief."), Message("user", "Say hello.")),
            (Message("system", "Answer in one sentence."), Message("user", "Name a big ocean.")),
        ),
    ]
    for seen, other in shapes:
        ask = ChatRequest(messages=seen, max_tokens=2)
        reported = model.complete(ask).usage
        assert reported.source == "provider" and content_tokens(seen) * 2 < reported.tokens_in
        streamed = list(model.stream(ask))[-1].usage
        assert streamed is not None and streamed.source == "counted"
        assert streamed.tokens_in == reported.tokens_in
        request = ChatRequest(messages=other, max_tokens=2)
        estimate = list(model.stream(request))[-1].usage
        truth = model.complete(request).usage.tokens_in
        assert estimate is not None
        assert abs(estimate.tokens_in - truth) <= max(2, 0.05 * truth), (estimate, truth)


@pytest.mark.integration
def test_a_dead_port_is_unavailable_naming_the_url(key: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = OpenAIChatModel(OpenAIConfig(base_url=url, api_key_env=KEY_ENV))
    with pytest.raises(Unavailable, match=rf"cannot reach openai at {url}.*llm\.openai\.base_url"):
        model.complete(HELLO)


@pytest.mark.integration
def test_the_server_helper_shows_why_the_server_died(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    with pytest.raises(RuntimeError, match=r"exited with code \d+ before it was ready:\n.+"):
        LlamaServer(broken).__enter__()
