"""The `ChatModel` contract, checked with one small grounded prompt.

Every provider's tests inherit `ChatModelConformance` and provide a class-scoped `model`:

    class TestMyModel(ChatModelConformance):
        @pytest.fixture(scope="class")
        @classmethod
        def model(cls) -> ChatModel:
            return MyModel()
"""

from __future__ import annotations

import pytest

from ragline.core.chat import ChatModel, ChatRequest, Completion, Message
from ragline.llm_router.grounding import ContextBlock, format_user_prompt

BLOCKS = [
    ContextBlock(
        1,
        "guide.md",
        "To install ragline, run pip install ragline. It needs Python 3.11 or newer.",
        page=3,
        section="Install",
    ),
    ContextBlock(2, "faq.txt", "Ragline stores vectors in Qdrant Edge by default."),
]
REQUEST = ChatRequest(
    messages=(
        Message("system", "Answer from the context blocks only, and cite them."),
        Message("user", format_user_prompt(BLOCKS, "How do I install ragline?")),
    ),
    max_tokens=48,
)


class ChatModelConformance:
    """What every `ChatModel` owes its callers."""

    @pytest.fixture(scope="class")
    @classmethod
    def completion(cls, model: ChatModel) -> Completion:
        return model.complete(REQUEST)

    def test_is_a_chat_model_with_a_provider_name(self, model: ChatModel) -> None:
        assert isinstance(model, ChatModel)
        provider, _, name = model.name.partition(":")
        assert provider and name

    def test_completes_with_text_and_its_model_name(
        self, model: ChatModel, completion: Completion
    ) -> None:
        assert completion.text.strip()
        assert completion.model == model.name
        assert completion.finish_reason in ("stop", "length")
        assert completion.latency_ms > 0

    def test_usage_is_always_filled(self, completion: Completion) -> None:
        assert completion.usage.tokens_in > 20  # the prompt alone is longer than that
        assert 0 < completion.usage.tokens_out <= REQUEST.max_tokens
        assert completion.usage.total == completion.usage.tokens_in + completion.usage.tokens_out

    def test_is_deterministic_by_default(self, model: ChatModel, completion: Completion) -> None:
        assert model.complete(REQUEST).text == completion.text

    def test_stream_gives_the_same_text(self, model: ChatModel, completion: Completion) -> None:
        chunks = list(model.stream(REQUEST))
        assert len(chunks) > 2
        assert "".join(c.text for c in chunks).strip() == completion.text
        assert all(c.usage is None and c.finish_reason is None for c in chunks[:-1])
        assert chunks[-1].finish_reason == completion.finish_reason
        assert chunks[-1].usage is not None and chunks[-1].usage.tokens_out > 0

    def test_max_tokens_cuts_the_answer(self, model: ChatModel) -> None:
        short = ChatRequest(messages=REQUEST.messages, max_tokens=4)
        cut = model.complete(short)
        assert cut.usage.tokens_out <= 4
        assert cut.finish_reason == "length"
