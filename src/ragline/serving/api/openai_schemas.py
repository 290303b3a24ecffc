"""OpenAI's chat and text completions, as wire types: the whole current request schema.

    body = ChatCompletionRequest.model_validate(json_body)
    body.stops(), body.token_limit(512), body.response_format

OpenAI clients add request fields often, so unknown fields are accepted and ignored (unlike
ragline's own requests, which forbid them). Every field OpenAI documents is typed and
constrained here; what a provider cannot honour is dropped later and named in the
`X-Ragline-Dropped-Params` header. Content is a string or a list of parts: text parts are
joined; other parts (images, audio, files) are refused by the route with a 400 that says so.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, StrictBool

from ragline.serving.api.schemas import MAX_TEXT, StopText, Temperature, TokenCount, whole

Penalty = Annotated[float, Field(strict=True, ge=-2, le=2)]
FunctionName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
SmallCount = Annotated[int, Field(strict=True, ge=0, le=20), BeforeValidator(whole)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- request ----------------------------------------------------------------------------------


class ContentPart(_Lenient):
    """One part of a message's content: {"type": "text", "text": "..."}; other types (image_url,
    input_audio, file) parse, and the route refuses them."""

    type: Literal["text", "image_url", "input_audio", "file", "refusal"]
    text: str | None = Field(None, max_length=MAX_TEXT)
    refusal: str | None = Field(None, max_length=MAX_TEXT)


class FunctionCall(_Lenient):
    """{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}."""

    name: FunctionName
    arguments: str = Field("{}", max_length=MAX_TEXT)


class ToolCallIn(_Lenient):
    """An assistant's earlier tool call, sent back in the history."""

    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Lenient):
    """One message. ChatMessage(role="user", content="Hi"), or content as a list of parts; an
    assistant message may hold `tool_calls` (content null), a "tool" message answers one."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[str, Field(max_length=MAX_TEXT)] | list[ContentPart] | None = None
    name: str | None = Field(None, max_length=64)
    tool_calls: list[ToolCallIn] | None = Field(None, max_length=128)
    tool_call_id: str | None = Field(None, max_length=256)

    def text(self) -> str:
        """The content as one string (text parts joined by newlines)."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "\n".join(p.text or p.refusal or "" for p in self.content)

    def unsupported_parts(self) -> list[str]:
        """The types of the parts ragline cannot pass on (all but text)."""
        parts = self.content if isinstance(self.content, list) else []
        return [p.type for p in parts if p.type not in ("text", "refusal")]


class FunctionDef(_Lenient):
    """A function a tool offers: name, description, JSON-schema parameters, strict."""

    name: FunctionName
    description: str | None = Field(None, max_length=MAX_TEXT)
    parameters: dict[str, JsonValue] | None = None
    strict: StrictBool | None = None


class ToolDef(_Lenient):
    """{"type": "function", "function": {...}}."""

    type: Literal["function"] = "function"
    function: FunctionDef


class NamedFunction(_Lenient):
    name: FunctionName


class NamedToolChoice(_Lenient):
    """{"type": "function", "function": {"name": "get_weather"}}: call this one."""

    type: Literal["function"] = "function"
    function: NamedFunction


class JsonSchemaFormat(_Lenient):
    """`response_format.json_schema`: {"name": ..., "schema": {...}, "strict": true}."""

    name: str = Field("output", max_length=64)
    description: str | None = Field(None, max_length=MAX_TEXT)
    schema_: dict[str, JsonValue] = Field(default_factory=dict, alias="schema")
    strict: StrictBool | None = None


class ResponseFormat(_Lenient):
    """{"type": "text" | "json_object" | "json_schema", "json_schema": {...}}."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Lenient):
    """`{"include_usage": true}`: a last chunk with the usage and no choices."""

    include_usage: StrictBool = False


class SamplingFields(_Lenient):
    """The parameters chat and text completions share."""

    model: str = Field("ragline", max_length=200)
    max_tokens: TokenCount | None = None
    temperature: Temperature | None = None
    top_p: Annotated[float, Field(strict=True, ge=0, le=1)] | None = None
    n: Annotated[int, Field(strict=True, ge=1, le=128), BeforeValidator(whole)] | None = None
    stop: StopText | Annotated[list[StopText], Field(max_length=4)] | None = None
    stream: StrictBool = False  # "yes" is not a bool
    stream_options: StreamOptions | None = None
    seed: Annotated[int, Field(strict=True), BeforeValidator(whole)] | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    logit_bias: dict[str, Annotated[float, Field(strict=True, ge=-100, le=100)]] | None = None
    user: str | None = Field(None, max_length=256)

    def stops(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())


class ChatCompletionRequest(SamplingFields):
    """POST /v1/chat/completions. `model`: "ragline" (or "default", or empty) for the
    configured router, one configured "provider:model", or "rag"/"rag:<collection>"."""

    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    max_completion_tokens: TokenCount | None = None
    tools: list[ToolDef] | None = Field(None, min_length=1, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    response_format: ResponseFormat | None = None
    logprobs: StrictBool | None = None
    top_logprobs: SmallCount | None = None
    metadata: dict[str, Annotated[str, Field(max_length=512)]] | None = Field(None, max_length=16)
    conversation: str | None = Field(
        None, max_length=128, description="a server-side conversation to continue (ragline)"
    )

    def token_limit(self, default: int) -> int:
        return self.max_completion_tokens or self.max_tokens or default


class CompletionRequest(SamplingFields):
    """POST /v1/completions (legacy text completions): one prompt, continued."""

    prompt: Annotated[str, Field(max_length=MAX_TEXT)] | list[str] = ""
    echo: StrictBool = False
    suffix: str | None = Field(None, max_length=MAX_TEXT)
    logprobs: SmallCount | None = None
    best_of: Annotated[int, Field(strict=True, ge=1, le=20)] | None = None

    def token_limit(self, default: int) -> int:
        return self.max_tokens or default


# -- response ---------------------------------------------------------------------------------

Finish = Literal["stop", "length", "tool_calls"]


class ChatUsage(_Response):
    """Tokens of one completion: ChatUsage(prompt_tokens=9, completion_tokens=3,
    total_tokens=12)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ToolCallOut(_Response):
    """A tool call the model asks for; `index` only in stream deltas."""

    index: int | None = None
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class CitationField(_Response):
    """A chunk a rag:<collection> answer rests on (ragline's field; OpenAI clients ignore it)."""

    document: str
    chunk_id: str
    page: int | None
    section: str | None
    score: float


class AssistantMessage(_Response):
    """The answer's message: AssistantMessage(content="Blue.")."""

    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCallOut] | None = None
    refusal: None = None


class TopLogprob(_Response):
    """A token and its log-probability."""

    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprobOut(TopLogprob):
    """A generated token, its log-probability and the likeliest alternatives."""

    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(_Response):
    """`logprobs` of a choice, when the request asked and the provider returned them."""

    content: list[TokenLogprobOut] | None
    refusal: None = None


class ChatChoice(_Response):
    """One choice of a completion (`n` choices: `index` 0 to n-1)."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Finish
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(_Response):
    """The answer of POST /v1/chat/completions without `stream`; `citations` is set for
    rag models only.

    ChatCompletion(id="chatcmpl-r1", created=0, model="extractive:bm25", choices=[...], usage=...)
    """

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage
    citations: list[CitationField] | None = None
    conversation: str | None = None

    def unset_extras(self) -> set[str]:
        """ragline's own fields that are None: left out of the body, as OpenAI sends none."""
        return {name for name in ("citations", "conversation") if getattr(self, name) is None}


class ChunkDelta(_Response):
    """What a chunk adds: the role (first chunk only), a piece of text, or whole tool calls."""

    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallOut] | None = None


class ChunkChoice(_Response):
    """A chunk's choice; `finish_reason` is set on the last text chunk only."""

    index: int = 0
    delta: ChunkDelta
    finish_reason: Finish | None = None
    logprobs: None = None


class ChatCompletionChunk(_Response):
    """One server-sent event of a streamed completion (`data: {chunk}`); a rag model's last
    chunk carries `citations`."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: ChatUsage | None = None
    citations: list[CitationField] | None = None


class TextChoice(_Response):
    """One choice of a text completion."""

    index: int = 0
    text: str
    finish_reason: Finish | None
    logprobs: None = None


class TextCompletion(_Response):
    """The answer of POST /v1/completions (also each streamed chunk, `usage` on the last)."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[TextChoice]
    usage: ChatUsage | None = None


class ModelCard(_Response):
    """A model name a request may use: ModelCard(id="ragline")."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "ragline"


class ModelList(_Response):
    """GET /v1/models: ModelList(data=[ModelCard(id="ragline"), ...])."""

    object: Literal["list"] = "list"
    data: list[ModelCard]
