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
from typing import NotRequired

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.chat_completion import ChoiceLogprobs
from openai.types.chat.completion_create_params import ResponseFormat
from openai.types.completion_usage import CompletionUsage

from ragline.core.chat import (
    ChatRequest,
    Completion,
    FinishReason,
    StreamChunk,
    TokenLogprob,
    Usage,
    unhonoured,
)
from ragline.llm_router.errors import BadRequest, ServerError
from ragline.llm_router.providers.http_errors import Endpoint, translate_sdk_errors
from ragline.llm_router.providers.openai_tools import (
    ToolCallAssembly,
    WireOptions,
    tool_calls_of,
    wire_messages,
    wire_options,
)
from ragline.llm_router.tokens import PromptEstimate, chat_tokens, count_tokens

# The optional parameters every OpenAI-format server takes (`metadata` is OpenAI's stored-
# completions tag: it is dropped, not sent, as other servers refuse it).
HONOURS = frozenset(
    {
        "top_p",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "user",
        "parallel_tool_calls",
        "tools",
        "tool_choice",
        "logprobs",
        "top_logprobs",
    }
)


@dataclass(frozen=True, slots=True)
class Guidance:
    """How a server is asked for constrained output: OpenAI's `response_format` field, or
    fields of the body that only some servers read (vLLM's `guided_json`)."""

    response_format: ResponseFormat | None = None
    extra_body: Mapping[str, object] | None = None


class _Params(WireOptions):
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
        return json_mode(request)
    schema = dict(request.json_schema)
    return Guidance(
        response_format={"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    )


def vllm_guide(request: ChatRequest) -> Guidance:
    """vLLM's guided decoding: the schema or pattern travels as extra body fields."""
    if request.json_schema is not None:
        return Guidance(extra_body={"guided_json": dict(request.json_schema)})
    if request.regex is not None:
        return Guidance(extra_body={"guided_regex": request.regex})
    return json_mode(request)


def schema_as_json_object(request: ChatRequest) -> Guidance:
    """llama.cpp's server form: `{"type": "json_object", "schema": ...}` (it builds a grammar)."""
    if request.regex is not None:
        raise BadRequest("llama.cpp's server takes no regex; give a json_schema")
    if request.json_schema is None:
        return json_mode(request)
    # the SDK's response_format type has no "schema": the field goes in the body as it is
    form = {"type": "json_object", "schema": dict(request.json_schema)}
    return Guidance(extra_body={"response_format": form})


def guide_for(form: str) -> Guide:
    """The `Guide` of a `structured_output` setting (json_schema | guided | json_object)."""
    return {"json_schema": openai_guide, "guided": vllm_guide}.get(form, schema_as_json_object)


def json_mode(request: ChatRequest) -> Guidance:
    """OpenAI's JSON mode (`{"type": "json_object"}`) when the request asks for any JSON."""
    return Guidance(response_format={"type": "json_object"}) if request.json_object else Guidance()


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
        self.prompt_estimate = PromptEstimate()  # learns the server's chat template's size

    def complete(self, request: ChatRequest, model: str) -> Completion:
        model = request.model or model
        started = time.perf_counter()
        with translate_errors(self.endpoint):
            response = self.client.chat.completions.create(**self._params(request, model))
        if not response.choices:
            raise ServerError(f"{self._name(model)} answered with no choices; retry")
        choice = response.choices[0]
        text = (choice.message.content or "").strip()
        calls = tool_calls_of(choice.message.tool_calls)
        return Completion(
            text=text,
            model=self._name(model),
            usage=usage_of(response.usage, request, text, self.prompt_estimate),
            latency_ms=(time.perf_counter() - started) * 1000,
            finish_reason="tool_calls" if calls else finish_of(choice.finish_reason),
            confidence=confidence_of(choice.logprobs),
            logprobs=token_logprobs(choice.logprobs) if request.logprobs else (),
            tool_calls=calls,
            dropped=unhonoured(request, HONOURS),
        )

    def stream(self, request: ChatRequest, model: str) -> Iterator[StreamChunk]:
        model = request.model or model
        name = self._name(model)
        pieces: list[str] = []
        finish: str | None = None
        reported: CompletionUsage | None = None
        calls = ToolCallAssembly()
        # on the first chunk (a front door's header); streamed chunks carry no log-probabilities
        dropped = unhonoured(request, HONOURS - {"logprobs", "top_logprobs"})
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
                        calls.add(choice.delta.tool_calls)
                        if choice.delta.content:
                            pieces.append(choice.delta.content)
                            yield StreamChunk(choice.delta.content, name, dropped=dropped)
                            dropped = ()
        text = "".join(pieces).strip()
        whole = calls.calls()
        reason: FinishReason = "tool_calls" if whole else finish_of(finish)
        usage = usage_of(reported, request, text, self.prompt_estimate)
        yield StreamChunk("", name, reason, usage, tool_calls=whole, dropped=dropped)

    def model_ids(self) -> list[str]:
        """The ids GET /models lists (vLLM: the base model, then its LoRA adapters)."""
        with translate_errors(self.endpoint):
            return [model.id for model in self.client.models.list()]

    def _params(self, request: ChatRequest, model: str) -> _Params:
        guidance = self._guide(request)  # first: refuse what the server cannot honour
        params = _Params(
            model=model,
            messages=wire_messages(request.messages),
            max_tokens=request.max_tokens,
        )
        params.update(wire_options(request))  # type: ignore[typeddict-item]
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.stop:
            params["stop"] = list(request.stop)
        if guidance.response_format is not None:
            params["response_format"] = guidance.response_format
        if guidance.extra_body is not None:
            params["extra_body"] = guidance.extra_body
        if request.logprobs:  # llama.cpp's server sends them only with top_logprobs set
            params["logprobs"] = True
            params["top_logprobs"] = request.sampling.top_logprobs or 1
        return params

    def _name(self, model: str) -> str:
        return f"{self.endpoint.provider}:{model}"


def translate_errors(endpoint: Endpoint) -> AbstractContextManager[None]:
    """Re-raise the openai SDK's exceptions as `ragline.llm_router.errors`, naming what to fix."""
    hint = "retry, or check that the server speaks the OpenAI chat API"
    return translate_sdk_errors(endpoint, openai, hint)


def usage_of(
    reported: CompletionUsage | None,
    request: ChatRequest,
    text: str,
    estimate: PromptEstimate | None = None,
) -> Usage:
    """The server's token counts, which also calibrate `estimate`. When it reported none
    (llama-cpp-python's server never does in streams) the server's chat template is unknown:
    the prompt is tiktoken's count of the contents plus the framing `estimate` learned from
    this server's last reported count (`PromptEstimate`; OpenAI's documented 3 tokens per
    message and 3 per reply before any), and the answer tiktoken's count of its text."""
    if reported is None:
        counted = estimate.count if estimate is not None else chat_tokens
        tokens_in = counted(request.messages)
        return Usage(tokens_in, count_tokens(text), source="counted")
    if estimate is not None:
        estimate.observe(request.messages, reported.prompt_tokens)
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


def token_logprobs(logprobs: ChoiceLogprobs | None) -> tuple[TokenLogprob, ...]:
    """The answer's tokens with their log-probabilities and alternatives (() if absent)."""
    tokens = (logprobs.content or []) if logprobs is not None else []
    return tuple(
        TokenLogprob(t.token, t.logprob, tuple((a.token, a.logprob) for a in t.top_logprobs))
        for t in tokens
    )


def finish_of(reason: str | None) -> FinishReason:
    return "length" if reason == "length" else "stop"


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

    def prompt_tokens(self, request: ChatRequest) -> int:
        """The prompt's tokens as this server last counted such a prompt (`PromptCounter`:
        the router's budget pre-check; `OpenAIWire.prompt_estimate`)."""
        return self._wire.prompt_estimate.count(request.messages)
