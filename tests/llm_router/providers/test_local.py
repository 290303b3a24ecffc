"""The local provider: the real SmolLM2-135M-Instruct GGUF run by llama.cpp on a tiny prompt."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ragline.core.chat import ChatModel, ChatRequest, Message, Usage
from ragline.llm_router.config import LocalConfig
from ragline.llm_router.errors import Unavailable
from ragline.llm_router.providers.local import LocalModel, _usage, packaged_model
from ragline.llm_router.testing import REQUEST, ChatModelConformance
from ragline.llm_router.tokens import count_tokens

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
    tokens_in = sum(count_tokens(m.content) for m in REQUEST.messages)
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
