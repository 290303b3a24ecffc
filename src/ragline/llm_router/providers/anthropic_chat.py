"""The `anthropic` provider: Anthropic's Messages API via the official SDK.

    model = AnthropicChatModel(AnthropicConfig())        # key from ANTHROPIC_API_KEY
    model = resolve("anthropic:claude-3-5-haiku-latest", LlmConfig())
    model.complete(request).usage                        # cache reads counted in tokens_in

System (and developer) messages go to the API's `system` parameter, the rest are the
conversation; `stop` becomes `stop_sequences`; tools, tool calls and tool results are mapped
to and from Anthropic's tool_use blocks (`anthropic_tools`). `llm.anthropic.prompt_cache`
sets `cache_control` breakpoints: on the system prompt (free when it is shorter than the
model's cacheable minimum, a saving when it is longer and re-sent), and with ``conversation``
also on the last user turn, so the next turn of a chat (or a replayed prompt) reads the whole
earlier prompt from the cache. ``auto`` (default) marks the last user turn only in multi-turn
requests: a one-shot question is rarely re-sent, and its write would cost 1.25x input for
nothing (bench/prompt_cache.py: chats 38% cheaper net of writes, one-shot QA unchanged).
`usage.tokens_in` is every prompt token: Anthropic reports the uncached part (`input_tokens`)
apart from the cache reads and writes, and ragline adds them up (`cached_in` = the cache reads).
The SDK never retries (`max_retries=0`): the router decides.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Literal, NotRequired, TypedDict, cast

import anthropic
import httpx2
from anthropic.types import (
    CacheControlEphemeralParam,
    MessageParam,
    RawMessageStreamEvent,
    TextBlockParam,
)

from ragline.core.chat import (
    ChatRequest,
    Completion,
    FinishReason,
    StreamChunk,
    ToolCall,
    Usage,
    unhonoured,
)
from ragline.llm_router.config import AnthropicConfig
from ragline.llm_router.errors import BadRequest
from ragline.llm_router.providers.anthropic_tools import (
    HONOURS,
    conversation,
    extra_fields,
    system_prompt,
    tool_calls_of,
)
from ragline.llm_router.providers.http_errors import Endpoint, require_key, translate_sdk_errors
from ragline.llm_router.tokens import count_tokens

DEFAULT_URL = "https://api.anthropic.com"
PromptCache = Literal["off", "system", "auto", "conversation"]
EPHEMERAL = CacheControlEphemeralParam(type="ephemeral")  # the 5-minute prompt cache


class AnthropicChatModel:
    """A `ChatModel` for Claude models.

    model = AnthropicChatModel(AnthropicConfig(), "claude-3-5-haiku-latest")
    model.complete(ChatRequest(messages=(Message("system", rules), Message("user", q)))).text

    `http_client` replaces the SDK's HTTP client (proxies, a test transport).
    """

    def __init__(
        self,
        config: AnthropicConfig | None = None,
        model: str | None = None,
        *,
        http_client: httpx2.Client | None = None,
    ) -> None:
        self._config = config or AnthropicConfig()
        self.model = model or self._config.model
        key = require_key("anthropic", self._config.api_key_env, "Anthropic")
        self._client = anthropic.Anthropic(
            api_key=key,
            base_url=self._config.base_url,
            timeout=self._config.timeout_s,
            max_retries=0,
            http_client=http_client,
        )
        self._endpoint = Endpoint(
            "anthropic",
            self._config.base_url or DEFAULT_URL,
            self._config.api_key_env,
            self._config.timeout_s,
        )

    @property
    def timeout_s(self) -> float:
        """The SDK enforces this per call, so the router needs no timeout thread of its own."""
        return self._config.timeout_s

    @property
    def name(self) -> str:
        return f"anthropic:{self.model}"

    def complete(self, request: ChatRequest) -> Completion:
        request = request.with_default_temperature(self._config.temperature)
        model = request.model or self.model
        params = _params(request, model, self._config.prompt_cache)
        started = time.perf_counter()
        with _translate_errors(self._endpoint):
            message = self._client.messages.create(**params)
        return completion_of(message, request, model, (time.perf_counter() - started) * 1000)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        request = request.with_default_temperature(self._config.temperature)
        model = request.model or self.model
        params = _params(request, model, self._config.prompt_cache)  # fails here, unsent
        return self._stream(request, params, model)

    def _stream(self, request: ChatRequest, params: _Params, model: str) -> Iterator[StreamChunk]:
        name = f"anthropic:{model}"
        tally = _StreamTally()
        dropped = unhonoured(request, HONOURS)  # on the first chunk: a front door's header
        with _translate_errors(self._endpoint):
            events = self._client.messages.create(**params, stream=True)
            with events:
                for event in events:
                    piece = tally.read(event)
                    if piece:
                        yield StreamChunk(piece, name, dropped=dropped)
                        dropped = ()
        calls = tally.tool_calls()
        finish = _finish(tally.stop_reason)
        yield StreamChunk("", name, finish, tally.usage(request), calls, dropped)


def completion_of(
    message: anthropic.types.Message, request: ChatRequest, model: str, latency_ms: float
) -> Completion:
    """A Messages API reply as a `Completion` (a synchronous call's, or a batch result's)."""
    text = "".join(block.text for block in message.content if block.type == "text").strip()
    usage = message.usage
    return Completion(
        text=text,
        model=f"anthropic:{model}",
        usage=_usage(
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens,
        ),
        latency_ms=latency_ms,
        finish_reason=_finish(message.stop_reason),
        tool_calls=tool_calls_of(message.content),
        dropped=unhonoured(request, HONOURS),
    )


class _StreamTally:
    """What the stream's events say about the whole answer: text, stop reason, token counts."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.stop_reason: str | None = None
        self.tokens_in: int | None = None
        self.tokens_out: int | None = None
        self.cache_read: int | None = None
        self.cache_write: int | None = None
        self.tools: dict[int, list[str]] = {}  # block index -> [id, name, JSON fragments]

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(id, name, arguments or "{}")
            for _, (id, name, arguments) in sorted(self.tools.items())
        )

    def read(self, event: RawMessageStreamEvent) -> str:
        """Take in one event; the text it adds ("" for the others)."""
        if event.type == "content_block_start" and event.content_block.type == "tool_use":
            block = event.content_block
            self.tools[event.index] = [block.id, block.name, ""]
        elif event.type == "content_block_delta" and event.delta.type == "input_json_delta":
            self.tools[event.index][2] += event.delta.partial_json
        elif event.type == "message_start":
            start = event.message.usage
            self.tokens_in, self.tokens_out = start.input_tokens, start.output_tokens
            self.cache_read = start.cache_read_input_tokens
            self.cache_write = start.cache_creation_input_tokens
        elif event.type == "content_block_delta" and event.delta.type == "text_delta":
            self.pieces.append(event.delta.text)
            return event.delta.text
        elif event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            counts = event.usage  # cumulative; the input counts only on newer API versions
            self.tokens_out = counts.output_tokens
            self.tokens_in = _latest(counts.input_tokens, self.tokens_in)
            self.cache_read = _latest(counts.cache_read_input_tokens, self.cache_read)
            self.cache_write = _latest(counts.cache_creation_input_tokens, self.cache_write)
        return ""

    def usage(self, request: ChatRequest) -> Usage:
        if self.tokens_in is None or self.tokens_out is None:  # a stream cut before its counts
            counted_in = sum(count_tokens(m.content) for m in request.messages)
            text = "".join(self.pieces).strip()
            return Usage(counted_in, count_tokens(text), source="counted")
        return _usage(self.tokens_in, self.tokens_out, self.cache_read, self.cache_write)


def _latest(value: int | None, before: int | None) -> int | None:
    return before if value is None else value


class _Params(TypedDict):
    """The fields of a Messages API request that ragline sets (stream aside)."""

    model: str
    max_tokens: int  # required by the API
    messages: list[MessageParam]
    system: NotRequired[str | list[TextBlockParam]]
    stop_sequences: NotRequired[list[str]]
    extra_body: NotRequired[Mapping[str, object]]


def _params(request: ChatRequest, model: str, cache: PromptCache = "off") -> _Params:
    """The request in the Messages API's shape, with `cache`'s breakpoints; refuses what only
    other providers can do."""
    if request.regex is not None:
        raise BadRequest("anthropic does not support regex-guided output; use vllm")
    turns = conversation(request.messages)
    if not turns:
        raise BadRequest("anthropic needs a user message besides the system prompt")
    multi_turn = any(m.role == "assistant" for m in request.messages)
    if cache == "conversation" or (cache == "auto" and multi_turn):
        turns[-1] = _marked(turns[-1])
    params = _Params(model=model, max_tokens=request.max_tokens, messages=turns)
    system = system_prompt(request)
    if system and cache != "off":
        params["system"] = [TextBlockParam(type="text", text=system, cache_control=EPHEMERAL)]
    elif system:
        params["system"] = system
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    # the installed SDK (2.x) has no sampling or tool arguments; the body fields are the API's
    extra = extra_fields(request)
    if extra:
        params["extra_body"] = extra
    return params


def _marked(turn: MessageParam) -> MessageParam:
    """`turn` with a cache breakpoint on its last block: the prompt up to here is cached (a
    write, 1.25x input) and read back (0.1x) by the next request that starts with it."""
    content = turn["content"]
    blocks: list[dict[str, object]] = (
        [dict(b) for b in content]
        if isinstance(content, list)
        else [{"type": "text", "text": content}]
    )
    blocks[-1]["cache_control"] = EPHEMERAL
    return cast(MessageParam, {"role": turn["role"], "content": blocks})


def _usage(
    tokens_in: int, tokens_out: int, cache_read: int | None, cache_write: int | None
) -> Usage:
    cached = cache_read or 0
    return Usage(tokens_in + cached + (cache_write or 0), tokens_out, cached)


def _finish(stop_reason: str | None) -> FinishReason:
    if stop_reason == "tool_use":
        return "tool_calls"
    return "length" if stop_reason in ("max_tokens", "model_context_window_exceeded") else "stop"


def _translate_errors(endpoint: Endpoint) -> AbstractContextManager[None]:
    """Re-raise the anthropic SDK's exceptions as `ragline.llm_router.errors` (529 ->
    ServerError)."""
    return translate_sdk_errors(endpoint, anthropic)
