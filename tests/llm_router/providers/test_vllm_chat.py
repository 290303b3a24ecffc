"""The vllm provider: guided decoding, LoRA ids and keys in the body it sends (HTTP-level fake),
and model discovery, chat and streaming against llama.cpp's OpenAI-compatible server."""

from __future__ import annotations

import pytest

from ragline.core.chat import ChatRequest, Message
from ragline.llm_router import LlmConfig, resolve
from ragline.llm_router.config import VllmConfig
from ragline.llm_router.errors import BadRequest, Unavailable
from ragline.llm_router.providers.vllm_chat import VllmChatModel
from tests.llm_router.conftest import OpenAIFake
from tests.llm_router.llama_server import MODEL_ALIAS, N_CTX, free_port

KEY_ENV = "RAGLINE_TEST_VLLM_KEY"
HELLO = ChatRequest(messages=(Message("user", "Say hello."),), max_tokens=8)
URL = "http://gpu-box:8000/v1"


def fake_model(fake: OpenAIFake, model: str | None = None) -> VllmChatModel:
    config = VllmConfig(base_url=URL, api_key_env=KEY_ENV)
    return VllmChatModel(config, model, http_client=fake.client())


@pytest.mark.unit
class TestWireFormat:
    def test_json_schema_is_sent_as_guided_json(self, openai_fake: OpenAIFake) -> None:
        schema = {"type": "object", "properties": {"city": {"type": "string"}}}
        request = ChatRequest(messages=HELLO.messages, json_schema=schema)
        fake_model(openai_fake, "base").complete(request)
        body = openai_fake.body()
        assert body["guided_json"] == schema
        assert "response_format" not in body and "guided_regex" not in body

    def test_regex_is_sent_as_guided_regex_also_when_streaming(
        self, openai_fake: OpenAIFake
    ) -> None:
        request = ChatRequest(messages=HELLO.messages, regex=r"(yes|no)")
        openai_fake.stream()
        list(fake_model(openai_fake, "base").stream(request))
        assert openai_fake.body()["guided_regex"] == "(yes|no)"
        assert openai_fake.body()["stream"] is True

    def test_a_lora_adapter_is_a_model_id(self, openai_fake: OpenAIFake) -> None:
        model = resolve("vllm:my-lora-adapter", LlmConfig())
        assert model.name == "vllm:my-lora-adapter"
        completion = fake_model(openai_fake, "my-lora-adapter").complete(HELLO)
        assert openai_fake.body()["model"] == "my-lora-adapter"
        assert completion.model == "vllm:my-lora-adapter"
        assert "guided_json" not in openai_fake.body()

    def test_the_key_is_optional(
        self, openai_fake: OpenAIFake, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv(KEY_ENV, raising=False)
        fake_model(openai_fake, "base").complete(HELLO)
        assert openai_fake.requests[-1].headers["authorization"] == "Bearer EMPTY"
        monkeypatch.setenv(KEY_ENV, "vllm-secret")
        fake_model(openai_fake, "base").complete(HELLO)
        assert openai_fake.requests[-1].headers["authorization"] == "Bearer vllm-secret"

    def test_no_model_asks_the_server_once(self, openai_fake: OpenAIFake) -> None:
        model = fake_model(openai_fake)
        assert openai_fake.requests == []  # constructing does no I/O
        model.complete(HELLO)
        model.complete(HELLO)
        paths = [(r.method, r.url.path) for r in openai_fake.requests]
        assert paths == [
            ("GET", "/v1/models"),
            ("POST", "/v1/chat/completions"),
            ("POST", "/v1/chat/completions"),
        ]
        assert openai_fake.body()["model"] == "served-model"
        assert model.name == "vllm:served-model"

    def test_a_server_without_models_says_what_to_do(self, openai_fake: OpenAIFake) -> None:
        openai_fake.models = []
        with pytest.raises(Unavailable, match=r"lists no models.*'vllm:<model>'"):
            fake_model(openai_fake).complete(HELLO)

    def test_errors_name_vllm_and_its_url(self, openai_fake: OpenAIFake) -> None:
        openai_fake.answer(400, {"error": {"message": "guided_regex is invalid"}})
        with pytest.raises(BadRequest, match=f"vllm at {URL} rejected.*guided_regex is invalid"):
            fake_model(openai_fake, "base").complete(HELLO)


@pytest.mark.integration
class TestAgainstLlamaServer:
    def test_finds_the_served_model_and_answers(self, llama_server_url: str) -> None:
        model = resolve("vllm", LlmConfig(vllm=VllmConfig(base_url=llama_server_url)))
        assert model.name == f"vllm:{MODEL_ALIAS}"  # from GET /v1/models
        request = ChatRequest(messages=HELLO.messages, max_tokens=6, temperature=0)
        completion = model.complete(request)
        assert completion.text and completion.model == f"vllm:{MODEL_ALIAS}"
        assert completion.usage.source == "provider" and completion.usage.tokens_out <= 6
        chunks = list(model.stream(request))
        assert "".join(c.text for c in chunks).strip() == completion.text
        assert chunks[-1].finish_reason == completion.finish_reason
        assert chunks[-1].usage is not None and chunks[-1].usage.tokens_out > 0

    def test_a_prompt_longer_than_the_window_is_a_bad_request(self, llama_server_url: str) -> None:
        model = VllmChatModel(VllmConfig(base_url=llama_server_url), MODEL_ALIAS)
        too_long = ChatRequest(messages=(Message("user", "word " * N_CTX),), max_tokens=8)
        with pytest.raises(BadRequest, match="maximum context length"):
            model.complete(too_long)

    def test_a_dead_port_is_unavailable(self) -> None:
        url = f"http://127.0.0.1:{free_port()}/v1"
        model = VllmChatModel(VllmConfig(base_url=url))
        with pytest.raises(Unavailable, match=rf"cannot reach vllm at {url}"):
            model.complete(HELLO)  # discovering the model is the first call that fails
