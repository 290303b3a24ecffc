"""`RaglineChatModel`: ragline's router as a complete LangChain chat model.

    llm = RaglineChatModel()                                  # llm.* of the settings
    llm.invoke("Say hello.").response_metadata["cost_usd"]
    for chunk in llm.stream("Count to three."): print(chunk.content, end="")
    llm.bind_tools([get_weather], tool_choice="get_weather").invoke("Weather in Oslo?").tool_calls
    llm.with_structured_output(Answer).invoke("...")          # an Answer instance

Every call goes through `ragline.Router` (policy, caches, retries, breaker, budgets, costs),
so it is costed in ragline's ledger like any other. `llm_router.langchain_chat.RouterChatModel`
(ragas' judge) stays where it is: llm_router may not import integrations, and this package
may use only ragline's public API, so each has its own small mapping (see docs/integrations.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import InputTokenDetails, UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import JsonOutputKeyToolsParser, PydanticToolsParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

import ragline
from ragline.core.chat import StreamChunk, Usage
from ragline.core.costs import cost_scope
from ragline.integrations.langchain.messages import (
    to_message,
    to_tool,
    tool_calls_of,
    tool_choice_name,
)
from ragline.integrations.langchain.streaming import scoped_stream

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]
_PER_CALL = frozenset({"temperature", "max_tokens", "tools", "tool_choice", "json_schema"})
_IGNORED = frozenset({"ls_structured_output_format", "structured_output_format"})


class RaglineChatModel(BaseChatModel):
    """A LangChain `BaseChatModel` over ragline's `Router` (see the module docstring).

        RaglineChatModel()                                        # settings as the CLI's
        RaglineChatModel(model="local", max_tokens=256)           # one "provider:model" alone
        RaglineChatModel(pipeline=pipeline, key="alice")          # a shared pipeline's router
        RaglineChatModel(router=router)                           # a router you built

    Tool calls: `bind_tools` sends ragline `Tool`s (`ChatRequest.tools`) and the model's
    `Completion.tool_calls` come back as `AIMessage.tool_calls`. `with_structured_output`
    constrains the reply to a JSON schema (method "json_schema", the default; the local model
    and vLLM decode with a grammar), a forced tool call ("function_calling") or JSON mode.
    `response_metadata` holds model_name, finish_reason, cost_usd (what ragline's ledger
    charged), cache, attempts and dropped; `usage_metadata` the tokens. Streaming yields the
    router's chunks as they are generated; the last carries usage and cost.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: str | None = Field(None, description='"provider:model" alone; None: llm.* routing')
    temperature: float | None = Field(None, ge=0, le=2, description="None: the provider's")
    max_tokens: int = Field(512, gt=0, description="reply budget of each call")
    stop: list[str] | None = Field(None, description="stop sequences of every call")
    timeout: float | None = Field(None, gt=0, description="per-call limit (s); None: settings'")
    max_retries: int | None = Field(None, ge=0, description="retries per deployment")
    streaming: bool = Field(False, description="invoke streams underneath (callbacks per token)")
    key: str = Field("langchain", description="budget and rate-limit key of every call")
    settings: ragline.Settings | None = Field(None, exclude=True)
    router: ragline.Router | None = Field(None, exclude=True)
    pipeline: ragline.Pipeline | None = Field(None, exclude=True, description="its router")

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _pipeline: ragline.Pipeline | None = PrivateAttr(None)

    @property
    def _llm_type(self) -> str:
        return "ragline"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    @property
    def model_name(self) -> str:
        """What answers: "provider:model" pinned or configured, or "router:<policy>"."""
        if self.model is not None:
            return self.model
        if self.router is not None:
            return self.router.name
        llm = (self.pipeline.settings if self.pipeline is not None else self._settings()).llm
        return llm.provider if llm.policy == "fixed" else f"router:{llm.policy}"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="ragline",
            ls_model_name=kwargs.get("model") or self.model_name,
            ls_model_type="chat",
            ls_max_tokens=self.max_tokens,
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    @property
    def chat_router(self) -> ragline.Router:
        """The router every call goes through (built from the settings on first use)."""
        if self.router is not None:
            return self.router
        if self.pipeline is not None:
            shared: ragline.Router = self.pipeline.router
            return shared
        with self._lock:
            if self._pipeline is None:
                self._pipeline = ragline.Pipeline(self._llm_settings())
            router: ragline.Router = self._pipeline.router
            return router

    def close(self) -> None:
        """Close the router this model built (not one passed in) and flush its ledger."""
        with self._lock:
            if self._pipeline is not None:
                self._pipeline.close()
                self._pipeline = None

    def _settings(self) -> ragline.Settings:
        if self.settings is None:
            self.settings = ragline.load_settings()
        return self.settings

    def _llm_settings(self) -> ragline.Settings:
        settings = self._settings()
        llm = settings.llm
        retry: dict[str, Any] = {}
        if self.timeout is not None:
            retry["timeout_s"] = self.timeout
        if self.max_retries is not None:
            retry["attempts"] = self.max_retries + 1
        update: dict[str, Any] = {"retry": llm.retry.model_copy(update=retry)}
        if self.model is not None:  # one deployment, no routing; fallbacks still apply
            update.update(provider=self.model, policy="fixed", deployments=[])
        return settings.model_copy(update={"llm": llm.model_copy(update=update)})

    # -- calls -------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        router = self.chat_router
        with cost_scope(key=self.key):
            completion = router.complete(request, key=self.key)
        calls, invalid = tool_calls_of(completion.tool_calls)
        message = AIMessage(
            content=completion.text,
            response_metadata=_metadata(completion),
            usage_metadata=_usage(completion.usage),
            tool_calls=calls,
            invalid_tool_calls=invalid,
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    # _astream: LangChain's default runs _stream on a worker thread, chunk by chunk

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # the router is synchronous and thread-safe: off the event loop
        return await asyncio.to_thread(self._generate, messages, stop, None, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs)
        router = self.chat_router

        def start(request_id: str) -> Iterator[StreamChunk]:
            return router.stream(request, key=self.key, request_id=request_id)

        for index, (piece, cost) in enumerate(scoped_stream(start, self.key)):
            chunk = ChatGenerationChunk(message=_chunk(piece, index, cost))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece.text, chunk=chunk)
            yield chunk

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ragline.ChatRequest:
        for name in _IGNORED & kwargs.keys():
            kwargs.pop(name)
        json_object = bool(kwargs.pop("json_mode", False))
        unknown = set(kwargs) - _PER_CALL
        if unknown:
            raise TypeError(
                f"RaglineChatModel does not take {', '.join(sorted(unknown))}; per call it "
                f"takes {', '.join(sorted(_PER_CALL | {'json_mode', 'stop'}))}"
            )
        tools = tuple(to_tool(t) for t in kwargs.get("tools") or ())
        return ragline.ChatRequest(
            messages=tuple(to_message(m) for m in messages),
            max_tokens=kwargs.get("max_tokens", self.max_tokens),
            temperature=kwargs.get("temperature", self.temperature),
            stop=tuple(stop or self.stop or ()),
            json_schema=kwargs.get("json_schema"),
            json_object=json_object,
            tools=tools,
            tool_choice=tool_choice_name(kwargs.get("tool_choice"), tools) if tools else None,
        )

    # -- tools and structured output -------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """This model with `tools` offered on every call (LangChain tools, functions, pydantic
        models or OpenAI tool dicts); `tool_choice` "auto", "none", "any"/"required", True or
        a tool's name. The local model calls tools only when one is named (or the only one is
        required)."""
        wire = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            tool_choice_name(tool_choice, [to_tool(t) for t in wire])  # refuse a bad one now
        return super().bind(tools=wire, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: StructuredMethod = "json_schema",
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable whose output is `schema` (a pydantic model: an instance; a TypedDict or
        JSON schema: a dict). `include_raw` returns {"raw", "parsed", "parsing_error"}."""
        kwargs.pop("strict", None)  # schemas are always enforced where the provider can
        if kwargs:
            raise TypeError(f"with_structured_output does not take {', '.join(sorted(kwargs))}")
        function = convert_to_openai_tool(schema)["function"]
        is_model = isinstance(schema, type) and issubclass(schema, BaseModel)
        marker = {
            "ls_structured_output_format": {
                "kwargs": {"method": method},
                "schema": convert_to_openai_tool(schema),
            }
        }
        parser: Runnable[Any, Any]
        if method == "function_calling":
            llm = self.bind_tools([schema], tool_choice=function["name"], **marker)
            parser = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)
                if is_model
                else JsonOutputKeyToolsParser(key_name=function["name"], first_tool_only=True)
            )
        elif method in ("json_schema", "json_mode"):
            asked = (
                {"json_schema": function["parameters"]}
                if method == "json_schema"
                else {"json_mode": True}
            )
            llm = self.bind(**asked, **marker)
            parser = (
                PydanticOutputParser(pydantic_object=schema) if is_model else JsonOutputParser()
            )
        else:
            raise ValueError(
                f"method must be json_schema, function_calling or json_mode, not {method!r}"
            )
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        failed = RunnablePassthrough.assign(parsed=lambda _: None)
        with_fallback = parsed.with_fallbacks([failed], exception_key="parsing_error")
        return RunnableMap(raw=llm) | with_fallback


def _metadata(completion: ragline.Completion) -> dict[str, Any]:
    return {
        "model_name": completion.model,
        "finish_reason": completion.finish_reason,
        "cost_usd": completion.cost_usd,
        "cache": completion.cache,
        "attempts": list(completion.attempts),
        "dropped": list(completion.dropped),
        "latency_ms": completion.latency_ms,
    }


def _usage(usage: Usage) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=usage.tokens_in,
        output_tokens=usage.tokens_out,
        total_tokens=usage.total,
        input_token_details=InputTokenDetails(cache_read=usage.cached_in),
    )


def _chunk(piece: StreamChunk, index: int, cost_usd: float) -> AIMessageChunk:
    """One LangChain chunk: text, whole tool calls, and on the last the usage and cost."""
    calls = [
        tool_call_chunk(name=c.name, args=c.arguments, id=c.id, index=n)
        for n, c in enumerate(piece.tool_calls)
    ]
    metadata: dict[str, Any] = {}
    if index == 0 and piece.dropped:
        metadata["dropped"] = list(piece.dropped)
    last = piece.finish_reason is not None or piece.usage is not None
    if last:
        metadata.update(
            model_name=piece.model, finish_reason=piece.finish_reason, cost_usd=cost_usd
        )
    return AIMessageChunk(
        content=piece.text,
        tool_call_chunks=calls,
        usage_metadata=_usage(piece.usage) if piece.usage is not None else None,
        response_metadata=metadata,
        chunk_position="last" if last else None,
    )
