"""The local provider: the real SmolLM2-135M-Instruct GGUF run by llama.cpp on a tiny prompt."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ragline.core.chat import ChatModel, ChatRequest, Message, Sampling, Tool, Usage
from ragline.llm_router.config import LocalConfig
from ragline.llm_router.errors import Unavailable
from ragline.llm_router.providers.local import LocalModel, _usage, packaged_model
from ragline.llm_router.testing import REQUEST, ChatModelConformance
from ragline.llm_router.tokens import chat_tokens, content_tokens

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed (pip install 'ragline[llm]')",
)


@pytest.mark.unit
def test_a_missing_model_file_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match=r"set llm\.local\.model_path"):
        LocalModel(LocalConfig(model_path=tmp_path / "absent.gguf"))


@pytest.mark.unit
def test_usage_is_counted_when_the_engine_reports_none() -> None:
    reported = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert _usage(reported, REQUEST, "hello world") == Usage(7, 3)
    tokens_in = chat_tokens(REQUEST.messages)  # no model loaded: OpenAI's documented framing
    assert _usage(None, REQUEST, "hello world") == Usage(tokens_in, 2, source="counted")


@needs_llama
@pytest.mark.unit
def test_a_broken_model_file_fails_on_load_naming_the_setting(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    model = LocalModel(LocalConfig(model_path=broken))  # cheap: nothing loaded yet
    assert model.name == "local:broken"
    with pytest.raises(Unavailable, match=r"llm\.local\.model_path"):
        model.warm_up()


@needs_llama
@pytest.mark.integration
@pytest.mark.slow
class TestLocalModel(ChatModelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def model(cls) -> ChatModel:
        model = LocalModel(LocalConfig(n_ctx=1024))
        model.warm_up()
        return model

    def test_default_model_is_the_packaged_smollm2(self) -> None:
        path = packaged_model()
        assert path.suffix == ".gguf" and "smollm2" in path.name.lower()

    def test_answers_a_tiny_prompt(self, model: ChatModel) -> None:
        request = ChatRequest(
            messages=(Message("user", "What is the capital of France? One word."),),
            max_tokens=8,
        )
        completion = model.complete(request)
        assert "paris" in completion.text.lower()
        assert completion.usage.tokens_in > 5

    @pytest.mark.parametrize(
        "messages",
        [
            (Message("user", "What is the capital of France? One word."),),
            (Message("system", "Be brief."), Message("user", "Write two sentences about the sea.")),
        ],
    )
    def test_a_stream_counts_what_llama_cpp_reports(
        self, model: ChatModel, messages: tuple[Message, ...]
    ) -> None:
        """llama.cpp reports no usage in streams: the GGUF's chat template is rendered and
        tokenized as it does, so the counts match its own to the token (SmolLM2's default
        system prompt included: the contents alone are a quarter of the prompt or less)."""
        request = ChatRequest(messages=messages, max_tokens=24)
        reported = model.complete(request).usage
        streamed = list(model.stream(request))[-1].usage
        assert reported.source == "provider" and streamed is not None
        assert (streamed.tokens_in, streamed.source) == (reported.tokens_in, "counted")
        assert streamed.tokens_out == reported.tokens_out  # the answer, re-tokenized
        assert isinstance(model, LocalModel) and model.prompt_tokens(request) == reported.tokens_in
        assert content_tokens(messages) * 2 < reported.tokens_in

    def test_a_named_tool_is_called_with_arguments_in_its_schema(self, model: ChatModel) -> None:
        """llama.cpp constrains the arguments to the tool's schema with a grammar."""
        weather = Tool(
            "get_weather",
            "Current weather of a city",
            {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        )
        request = ChatRequest(
            messages=(Message("user", "What is the weather in Oslo?"),),
            tools=(weather,),
            tool_choice="get_weather",
            max_tokens=48,
            sampling=Sampling(seed=1, metadata={"team": "search"}),
        )
        done = model.complete(request)
        [call] = done.tool_calls
        assert call.name == "get_weather" and isinstance(json.loads(call.arguments)["city"], str)
        assert done.finish_reason == "tool_calls" and done.dropped == ("metadata",)
        [last] = [c for c in model.stream(request) if c.tool_calls]
        assert last.tool_calls[0].name == "get_weather" and last.finish_reason == "tool_calls"
        auto = ChatRequest(messages=request.messages, tools=(weather,), max_tokens=4)
        assert model.complete(auto).dropped == ("tools",)  # "auto": llama.cpp ignores tools
