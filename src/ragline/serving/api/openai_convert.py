"""OpenAI request bodies to ragline's `ChatRequest`, and completions back to OpenAI's shape.

    problem = refusal(body)                    # None, or (status, message, code, param)
    request = chat_request(body, messages)     # tools, tool_choice, sampling, JSON modes
    ChatCompletion(..., choices=[choice(completion)], usage=usage(completion.usage))

`n` > 1 is served as n calls of the model (independent samples, as OpenAI's are; each is
billed, and at temperature 0 they agree). Refused (400) because dropping them would change
the answer's meaning: `n` > 1 with `stream`, content parts other than text (no provider here
reads images, audio or files), `logit_bias` keys that are not token ids. Parameters a provider
cannot honour are otherwise dropped by the provider and named in `X-Ragline-Dropped-Params`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ragline.core.chat import (
    ChatRequest,
    Completion,
    Message,
    Sampling,
    TokenLogprob,
    Tool,
    ToolCall,
    Usage,
)
from ragline.serving.api.openai_schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    ChatUsage,
    ChoiceLogprobs,
    CitationField,
    FunctionCall,
    SamplingFields,
    TokenLogprobOut,
    ToolCallOut,
    TopLogprob,
)

DEFAULT_MAX_TOKENS = 512
DROPPED_HEADER = "X-Ragline-Dropped-Params"


class Refusal(ValueError):
    """A request ragline will not serve as asked: 400 with `code` and `param`."""

    def __init__(self, message: str, code: str, param: str) -> None:
        super().__init__(message)
        self.code, self.param = code, param


def check(body: ChatCompletionRequest) -> None:
    """Raise `Refusal` for what cannot be served without changing the meaning."""
    if body.n is not None and body.n > 1 and body.stream:
        raise Refusal(
            f"n={body.n} with stream: ragline streams one choice; send {body.n} streamed "
            "requests, or n>1 without stream",
            "unsupported_parameter",
            "n",
        )
    for at, message in enumerate(body.messages):
        parts = message.unsupported_parts()
        if parts:
            raise Refusal(
                f"messages[{at}] has {', '.join(sorted(set(parts)))} content, which no "
                "configured model reads; send text parts only",
                "unsupported_content",
                f"messages[{at}].content",
            )
    if body.logit_bias and not all(key.lstrip("-").isdigit() for key in body.logit_bias):
        raise Refusal(
            "logit_bias keys must be token ids (integers as strings)",
            "invalid_value",
            "logit_bias",
        )


def to_messages(messages: Sequence[ChatMessage]) -> tuple[Message, ...]:
    """The wire messages as ragline's (content parts joined, tool calls kept)."""
    return tuple(
        Message(
            m.role,
            m.text(),
            name=m.name,
            tool_calls=tuple(
                ToolCall(c.id, c.function.name, c.function.arguments) for c in m.tool_calls or ()
            ),
            tool_call_id=m.tool_call_id,
        )
        for m in messages
    )


def chat_request(body: ChatCompletionRequest, messages: tuple[Message, ...]) -> ChatRequest:
    """The router's request for a validated body (`check` first) and its `messages`."""
    choice = body.tool_choice
    named = choice if isinstance(choice, str) or choice is None else choice.function.name
    tools = tuple(
        Tool(
            t.function.name,
            t.function.description or "",
            t.function.parameters or {},
            t.function.strict,
        )
        for t in body.tools or ()
    )
    if named not in (None, "auto", "none", "required") and named not in {t.name for t in tools}:
        message = f"tool_choice names {named!r}, which is not one of tools"
        raise Refusal(message, "invalid_value", "tool_choice")
    sampling = dataclasses.replace(
        sampling_of(body),
        top_logprobs=body.top_logprobs,
        metadata=body.metadata,
        parallel_tool_calls=body.parallel_tool_calls,
    )
    return ChatRequest(
        messages=messages,
        max_tokens=body.token_limit(DEFAULT_MAX_TOKENS),
        temperature=body.temperature,
        stop=body.stops(),
        tools=tools,
        tool_choice=named if tools else None,
        sampling=sampling,
        logprobs=bool(body.logprobs),
    )


def sampling_of(body: SamplingFields) -> Sampling:
    """The sampling options chat and text completions share."""
    return Sampling(
        top_p=body.top_p,
        seed=body.seed,
        frequency_penalty=body.frequency_penalty,
        presence_penalty=body.presence_penalty,
        logit_bias=body.logit_bias,
        user=body.user,
    )


def wants_usage(body: SamplingFields) -> bool:
    """Whether a stream ends with a usage chunk (`stream_options.include_usage`)."""
    return bool(body.stream_options and body.stream_options.include_usage)


def completion_body(
    ids: tuple[str, int],
    done: Sequence[Completion],
    conversation: str | None = None,
    citations: list[CitationField] | None = None,
    logprobs: bool = False,
) -> ChatCompletion:
    """A non-streamed chat completion of one choice per completion in `done` (usage summed):
    `ids` is (id, created); `logprobs` when the request asked for them."""
    total = Usage(
        sum(d.usage.tokens_in for d in done),
        sum(d.usage.tokens_out for d in done),
        sum(d.usage.cached_in for d in done),
    )
    return ChatCompletion(
        id=ids[0],
        created=ids[1],
        model=done[0].model,
        choices=[choice(d, at, logprobs) for at, d in enumerate(done)],
        usage=usage(total),
        citations=citations,
        conversation=conversation,
    )


def output_schema(body: ChatCompletionRequest) -> dict[str, Any] | None:
    """The JSON schema a reply must follow: the `json_schema` form's, `{"type": "object"}` for
    JSON mode, None for text."""
    form = body.response_format
    if form is None or form.type == "text":
        return None
    if form.type == "json_object" or form.json_schema is None:
        return {"type": "object"}
    return dict(form.json_schema.schema_)


def tool_calls_out(calls: Sequence[ToolCall], indexed: bool = False) -> list[ToolCallOut] | None:
    """Tool calls in OpenAI's shape (`index` set in stream deltas); None when there are none."""
    if not calls:
        return None
    return [
        ToolCallOut(
            index=at if indexed else None,
            id=call.id,
            function=FunctionCall(name=call.name, arguments=call.arguments),
        )
        for at, call in enumerate(calls)
    ]


def choice(completion: Completion, index: int = 0, logprobs: bool = False) -> ChatChoice:
    """The completion as OpenAI's choice `index` (content null when the model only called
    tools), with its token log-probabilities when `logprobs` and the provider gave them."""
    content = completion.text if completion.text or not completion.tool_calls else None
    message = AssistantMessage(content=content, tool_calls=tool_calls_out(completion.tool_calls))
    tokens = completion.logprobs if logprobs else ()
    return ChatChoice(
        index=index,
        message=message,
        finish_reason=completion.finish_reason,
        logprobs=ChoiceLogprobs(content=[_token(t) for t in tokens]) if tokens else None,
    )


def _token(token: TokenLogprob) -> TokenLogprobOut:
    top = [TopLogprob(token=t, logprob=p) for t, p in token.top]
    return TokenLogprobOut(token=token.token, logprob=token.logprob, top_logprobs=top)


def usage(counts: Usage) -> ChatUsage:
    return ChatUsage(
        prompt_tokens=counts.tokens_in,
        completion_tokens=counts.tokens_out,
        total_tokens=counts.total,
    )


def add_dropped(headers: dict[str, str], names: Sequence[str]) -> None:
    """Name `names` in `X-Ragline-Dropped-Params` (added to any named already).

    add_dropped(headers, ["seed", "metadata"])     # X-Ragline-Dropped-Params: seed, metadata
    """
    before = [n for n in headers.get(DROPPED_HEADER, "").split(", ") if n]
    merged = list(dict.fromkeys([*before, *names]))
    if merged:
        headers[DROPPED_HEADER] = ", ".join(merged)
