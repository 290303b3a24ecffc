"""`RaglineLLM`: ragline's LLM router as a LlamaIndex LLM.

    from ragline.integrations.llama_index import RaglineLLM

    llm = RaglineLLM()                                   # llm.* settings: provider, policy, caches
    llm.complete("Say hello.").text
    for piece in llm.stream_chat([ChatMessage(role="user", content="Count to 3.")]):
        print(piece.delta, end="")
    llm.chat(messages).raw["cost_usd"]                   # what the call cost, from ragline's prices

Every call goes through `Pipeline.router` (`Router.complete` / `Router.stream`): routing
policy, fallbacks, caches, budgets and cost events as for `ragline chat`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import Field, PrivateAttr

from ragline import ChatRequest, Completion, Message
from ragline.core.chat import StreamChunk
from ragline.core.costs import cost_scope
from ragline.integrations.llama_index.messages import flat, report, to_messages
from ragline.integrations.llama_index.source import PipelineSource

if TYPE_CHECKING:
    from ragline import Pipeline, Settings

# per-call options a caller may pass as keyword arguments; LlamaIndex's own extras are ignored
CALL_OPTIONS = ("max_tokens", "temperature")


class RaglineLLM(CustomLLM):
    """A LlamaIndex LLM (chat, complete, both streamed) answered by ragline's router; each
    response's `raw` and `additional_kwargs` carry the model, token usage, `cost_usd` and the
    `request_id` of its cost events (`ragline costs breakdown REQUEST_ID`).

        RaglineLLM()                                               # settings as the CLI finds them
        RaglineLLM(ragline.load_settings(llm={"provider": "local"}), max_tokens=128)
        RaglineLLM(pipeline=pipeline)                              # share a pipeline's router
        llm.complete("Hello", max_tokens=16)     # per call: max_tokens, temperature
    """

    max_tokens: int = Field(512, gt=0, description="most tokens an answer may take")
    temperature: float | None = Field(
        None, ge=0, le=2, description="None: the provider's configured default"
    )
    context_window: int = Field(DEFAULT_CONTEXT_WINDOW, gt=0, description="what the model reads")
    _source: PipelineSource = PrivateAttr()

    def __init__(
        self, settings: Settings | None = None, *, pipeline: Pipeline | None = None, **fields: Any
    ) -> None:
        super().__init__(**fields)
        self._source = PipelineSource(settings, pipeline)

    @classmethod
    def class_name(cls) -> str:
        return "ragline_llm"

    @property
    def pipeline(self) -> Pipeline:
        """The ragline pipeline whose router answers."""
        return self._source.get()

    @property
    def metadata(self) -> LLMMetadata:
        llm = self._source.settings.llm
        name = llm.provider if llm.policy == "fixed" else f"router:{llm.policy}"
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens,
            is_chat_model=True,
            model_name=name,
        )

    # -- complete -------------------------------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        done, raw = self._complete((Message("user", prompt),), kwargs)
        return CompletionResponse(text=done.text, raw=raw, additional_kwargs=flat(raw))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        pieces = self._stream((Message("user", prompt),), kwargs)

        def responses() -> CompletionResponseGen:
            text = ""
            for chunk, raw in pieces:
                text += chunk.text
                yield CompletionResponse(
                    text=text, delta=chunk.text, raw=raw, additional_kwargs=flat(raw)
                )

        return responses()

    # -- chat -----------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        done, raw = self._complete(to_messages(messages), kwargs)
        reply = ChatMessage(role=MessageRole.ASSISTANT, content=done.text)
        return ChatResponse(message=reply, raw=raw, additional_kwargs=flat(raw))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        pieces = self._stream(to_messages(messages), kwargs)

        def responses() -> ChatResponseGen:
            text = ""
            for chunk, raw in pieces:
                text += chunk.text
                reply = ChatMessage(role=MessageRole.ASSISTANT, content=text)
                yield ChatResponse(
                    message=reply, delta=chunk.text, raw=raw, additional_kwargs=flat(raw)
                )

        return responses()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await asyncio.to_thread(self.chat, messages, **kwargs)  # off the event loop

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await asyncio.to_thread(self.complete, prompt, formatted, **kwargs)

    # -- the router ------------------------------------------------------------------------

    def _request(self, messages: tuple[Message, ...], options: dict[str, Any]) -> ChatRequest:
        return ChatRequest(
            messages=messages,
            max_tokens=int(options.get("max_tokens") or self.max_tokens),
            temperature=options.get("temperature", self.temperature),
        )

    def _complete(
        self, messages: tuple[Message, ...], options: dict[str, Any]
    ) -> tuple[Completion, dict[str, Any]]:
        request = self._request(messages, options)
        router = self.pipeline.router
        with cost_scope() as scope:
            done: Completion = router.complete(request)
        raw = report(
            done.usage,
            cost_usd=float(scope.total_usd()),
            model=done.model,
            request_id=scope.request_id,
            finish_reason=done.finish_reason,
        )
        return done, raw

    def _stream(
        self, messages: tuple[Message, ...], options: dict[str, Any]
    ) -> Iterator[tuple[StreamChunk, dict[str, Any]]]:
        """The router's chunks, each with the report so far (the last one: usage and cost)."""
        request = self._request(messages, options)
        request_id = uuid.uuid4().hex
        pieces: Iterator[StreamChunk] = self.pipeline.router.stream(request, request_id=request_id)
        spent = 0.0
        while True:
            # a scope around each step only: one held across `yield` would bill the caller's
            # own work between chunks to this request
            with cost_scope(request_id) as scope:
                chunk = next(pieces, None)
            spent += float(scope.total_usd())
            if chunk is None:
                return
            yield (
                chunk,
                report(
                    chunk.usage,
                    cost_usd=spent,
                    model=chunk.model,
                    request_id=request_id,
                    finish_reason=chunk.finish_reason,
                ),
            )

    def close(self) -> None:
        """Close the pipeline this LLM made (its router and ledger)."""
        self._source.close()
