"""The OpenAI chat-completions wire format, spoken through the official `openai` SDK.

    wire = OpenAIWire(client, endpoint, guide=openai_guide)
    wire.complete(request, model="gpt-4o-mini")          # -> Completion
    for chunk in wire.stream(request, model="gpt-4o-mini"): ...

One client for every server that speaks the format (OpenAI, vLLM, llama.cpp's server): the
providers (`openai_chat`, `vllm_chat`) only choose the URL, the key, the model and how
constrained output is asked for (a `Guide`). This module builds the request, reads the answer
and its token usage, and turns SDK exceptions into `ragline.llm_router.errors`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.chat_completion import ChoiceLogprobs
from openai.types.chat.completion_create_params import ResponseFormat
from openai.types.completion_usage import CompletionUsage

from ragline.core.chat import ChatRequest, Completion, FinishReason, Message, StreamChunk, Usage
from ragline.llm_router.errors import BadRequest, ServerError
from ragline.llm_router.providers.http_errors import Endpoint, translate_sdk_errors
from ragline.llm_router.tokens import count_tokens


@dataclass(frozen=True, slots=True)
class Guidance:
    """How a server is asked for constrained output: OpenAI's `response_format` field, or
    fields of the body that only some servers read (vLLM's `guided_json`)."""

    response_format: ResponseFormat | None = None
    extra_body: Mapping[str, object] | None = None


class _Params(TypedDict):
    """The fields of a chat-completions request that ragline sets (stream aside); a field
    left out lets the server use its default."""

    model: str
    messages: list[ChatCompletionMessageParam]
    max_tokens: int
    temperature: NotRequired[float]
    stop: NotRequired[list[str]]
    response_format: NotRequired[ResponseFormat]
    extra_body: NotRequired[Mapping[str, object]]
    logprobs: NotRequired[bool]
    top_logprobs: NotRequired[int]


# What a server needs to honour a request's json_schema / regex; raises BadRequest if it cannot.
Guide = Callable[[ChatRequest], Guidance]


def openai_guide(request: ChatRequest) -> Guidance:
    """OpenAI's structured outputs: a JSON schema as `response_format`; no regex."""
    if request.regex is not None:
        raise BadRequest("openai does not support regex-guided output; use vllm (guided_regex)")
    if request.json_schema is None:
        return Guidance()
    schema = dict(request.json_schema)
    return Guidance(
        response_format={"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    )


def make_client(
    base_url: str | None, api_key: str, timeout_s: float, http_client: httpx2.Client | None
) -> openai.OpenAI:
    """An SDK client that never retries: retries (and their backoff) are the router's job."""
    return openai.OpenAI(
        base_url=base_url,
        api_key=api_key,
        timeout=timeout_s,
        max_retries=0,
        http_client=http_client,
    )


class OpenAIWire:
    """Chat completions over one `openai.OpenAI` client; `model` names the model per call.

    wire = OpenAIWire(make_client(url, key, 60, None), Endpoint("vllm", url, "VLLM_API_KEY", 60))
    wire.complete(ChatRequest(messages=(Message("user", "hi"),)), model="my-lora-adapter")

    `request.model`, when set, wins over `model`; the answer's name is "<provider>:<model>".
    """

    def __init__(
        self, client: openai.OpenAI, endpoint: Endpoint, guide: Guide = openai_guide
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self._guide = guide

    def complete(self, request: ChatRequest, model: str) -> Completion:
        model = request.model or model
        started = time.perf_counter()
        with translate_errors(self.endpoint):
            response = self.client.chat.completions.create(**self._params(request, model))
        if not response.choices:
            raise ServerError(f"{self._name(model)} answered with no choices; retry")
        choice = response.choices[0]
        text = (choice.message.content or "").strip()
        return Completion(
            text=text,
            model=self._name(model),
            usage=usage_of(response.usage, request, text),
            latency_ms=(time.perf_counter() - started) * 1000,
            finish_reason=finish_of(choice.finish_reason),
            confidence=confidence_of(choice.logprobs),
        )

    def stream(self, request: ChatRequest, model: str) -> Iterator[StreamChunk]:
        model = request.model or model
        name = self._name(model)
        pieces: list[str] = []
        finish: str | None = None
        reported: CompletionUsage | None = None
        with translate_errors(self.endpoint):
            chunks = self.client.chat.completions.create(
                **self._params(request, model),
                stream=True,
                # the usage arrives in one last chunk with no choices (servers that ignore the
                # option send none, and the tokens are counted instead)
                stream_options={"include_usage": True},
            )
            with chunks:
                for chunk in chunks:
                    reported = chunk.usage or reported
                    for choice in chunk.choices[:1]:
                        finish = choice.finish_reason or finish
                        if choice.delta.content:
                            pieces.append(choice.delta.content)
                            yield StreamChunk(choice.delta.content, name)
        text = "".join(pieces).strip()
        yield StreamChunk("", name, finish_of(finish), usage_of(reported, request, text))

    def model_ids(self) -> list[str]:
        """The ids GET /models lists (vLLM: the base model, then its LoRA adapters)."""
        with translate_errors(self.endpoint):
            return [model.id for model in self.client.models.list()]

    def _params(self, request: ChatRequest, model: str) -> _Params:
        guidance = self._guide(request)  # first: refuse what the server cannot honour
        params = _Params(
            model=model,
            messages=[_wire(m) for m in request.messages],
            max_tokens=request.max_tokens,
        )
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.stop:
            params["stop"] = list(request.stop)
        if guidance.response_format is not None:
            params["response_format"] = guidance.response_format
        if guidance.extra_body is not None:
            params["extra_body"] = guidance.extra_body
        if request.logprobs:  # llama.cpp's server sends them only with top_logprobs set
            params["logprobs"], params["top_logprobs"] = True, 1
        return params

    def _name(self, model: str) -> str:
        return f"{self.endpoint.provider}:{model}"


def translate_errors(endpoint: Endpoint) -> AbstractContextManager[None]:
    """Re-raise the openai SDK's exceptions as `ragline.llm_router.errors`, naming what to fix."""
    hint = "retry, or check that the server speaks the OpenAI chat API"
    return translate_sdk_errors(endpoint, openai, hint)


def usage_of(reported: CompletionUsage | None, request: ChatRequest, text: str) -> Usage:
    """The server's token counts; tiktoken's estimate when it reported none."""
    if reported is None:
        tokens_in = sum(count_tokens(m.content) for m in request.messages)
        return Usage(tokens_in, count_tokens(text), source="counted")
    details = reported.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    tokens_in = reported.prompt_tokens
    return Usage(tokens_in, reported.completion_tokens, min(cached, tokens_in))


def confidence_of(logprobs: ChoiceLogprobs | None) -> float | None:
    """The mean token probability, exp(mean log-probability), of an answer (None if absent)."""
    tokens = (logprobs.content or []) if logprobs is not None else []
    if not tokens:
        return None
    return math.exp(sum(t.logprob for t in tokens) / len(tokens))


def finish_of(reason: str | None) -> FinishReason:
    return "length" if reason == "length" else "stop"


def _wire(message: Message) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


class WireChatModel:
    """What the `openai` and `vllm` providers share: a `ChatModel` over an `OpenAIWire`.

    Subclasses set `provider`, `_wire`, `_model_id`, `_temperature` and `_timeout_s` (or
    override `model`); requests naming no temperature get `_temperature`.
    """

    provider: str
    _wire: OpenAIWire
    _model_id: str | None
    _temperature: float | None
    _timeout_s: float

    @property
    def model(self) -> str:
        """The model id requests name."""
        assert self._model_id is not None
        return self._model_id

    @property
    def timeout_s(self) -> float:
        """The SDK enforces this per call, so the router needs no timeout thread of its own."""
        return self._timeout_s

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model}"

    def complete(self, request: ChatRequest) -> Completion:
        return self._wire.complete(request.with_default_temperature(self._temperature), self.model)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        return self._wire.stream(request.with_default_temperature(self._temperature), self.model)
