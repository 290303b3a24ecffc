"""The wire types of the /v1 API: pydantic models, kept apart from rag's and llm_router's types.

    body = QueryRequest(question="Why does dough rise?", filters=["page_number>=2"], k=5)
    body.filter()                      # the typed rag Filter (None without filters)
    error_response(404, "collection 'x' does not exist", code="collection_not_found")

Requests forbid unknown fields and constrain every value, so bad input is a 422 that names the
field. Errors use OpenAI's shape, `{"error": {"message", "type", "code", "param"}}`, so OpenAI
clients raise their usual exceptions (`NotFoundError` for a 404, ...).

OpenAI's chat, text-completion and model types live in `openai_schemas` (they accept unknown
fields, as OpenAI clients expect).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
)
from starlette.responses import JSONResponse

from ragline.core.filters import Filter
from ragline.rag.filter_parse import ACCEPTED_FORMS, parse_filters
from ragline.rag.retrieve import Mode
from ragline.serving.api.jobs import JobStatus

CONTROL_ARM = "control"  # the arm name reported for the main pipeline (no arm chosen)
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"  # as rag's StoreConfig.collection
MAX_K = 100
MAX_TEXT = 100_000  # characters of one message, question or query
# The shape of a filter expression (see ragline.rag.filter_parse): key, operator, then a value; a
# range takes a number or an ISO date. What a pattern cannot say (a real calendar date, a date
# field's value) is checked when the filter is parsed.
_NUMBER = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
_DATE = (
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?)?"
)
FILTER_SHAPE = (
    rf"^ *[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)* *((!=|=) *[^ =<>!,][^,]*(,[^,]*[^ ,][^,]*)*"
    rf"|(>=|<=|>|<) *({_NUMBER}|{_DATE})) *$"
)
PATH_SHAPE = r"^[^\x00]*[^\s\x00][^\x00]*$"  # not blank, no NUL


def whole(value: object) -> object:
    # JSON Schema's integer includes 13.0; a strict int would refuse it (and rightly "13", true)
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def _plain_path(value: str) -> str:
    if not value.strip() or "\x00" in value:
        raise ValueError("each path must be a file or folder path (not blank, no NUL)")
    return value


# Constraints live in the types, so the OpenAPI schema states them (clients and schemathesis
# see what is valid). Patterns are documented only: the validators give the clearer message.
Text = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT, json_schema_extra={"pattern": r"\S"}),
    AfterValidator(_not_blank),
]
TokenCount = Annotated[int, Field(strict=True, ge=1, le=65_536), BeforeValidator(whole)]
HitCount = Annotated[int, Field(strict=True, ge=1, le=MAX_K), BeforeValidator(whole)]
Temperature = Annotated[float, Field(strict=True, ge=0, le=2)]  # an int is fine, false is not
StopText = Annotated[str, Field(min_length=1, max_length=256)]
FilterExpr = Annotated[str, Field(max_length=1000, json_schema_extra={"pattern": FILTER_SHAPE})]
ServerPath = Annotated[
    str,
    Field(min_length=1, max_length=4096, json_schema_extra={"pattern": PATH_SHAPE}),
    AfterValidator(_plain_path),
]
Filters = Annotated[
    list[FilterExpr] | None,
    Field(max_length=32, description=f"payload filters, all must hold: {ACCEPTED_FORMS}"),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


def _filters(exprs: list[str] | None) -> list[str] | None:
    if exprs:
        parse_filters(exprs)  # a ValueError names the bad filter and the accepted forms
    return exprs


# -- errors -------------------------------------------------------------------------------


class ErrorDetail(_Response):
    """What went wrong and how to fix it: ErrorDetail(message="...", code="model_not_found")."""

    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    request_id: str | None = None


class ErrorBody(_Response):
    """The body of every error answer (OpenAI's shape)."""

    error: ErrorDetail


def error_response(
    status: int,
    message: str,
    *,
    code: str,
    type: str = "invalid_request_error",
    param: str | None = None,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON error answer; `message` says what to change."""
    detail = ErrorDetail(message=message, type=type, code=code, param=param, request_id=request_id)
    body = ErrorBody(error=detail).model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers=headers)


def usd_header(value: float) -> str:
    """A cost for the X-Ragline-Cost-USD header: plain digits, no exponent ("0.00000015")."""
    return format(Decimal(repr(value)), "f")


def error_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses (all with `ErrorBody`)."""
    return {status: {"model": ErrorBody, "description": "error"} for status in statuses}


# -- query and search --------------------------------------------------------------------------


class QueryRequest(_Request):
    """POST /v1/query: a question answered from a collection, with citations."""

    question: Text
    collection: str | None = Field(None, pattern=COLLECTION_PATTERN)
    filters: Filters = None
    k: HitCount | None = Field(None, description="hits retrieved (retrieval.top_k)")
    user: str | None = Field(None, max_length=256, description="sticky A/B key when keyless")

    @field_validator("filters")
    @classmethod
    def _filter_syntax(cls, filters: list[str] | None) -> list[str] | None:
        return _filters(filters)

    def filter(self) -> Filter | None:
        return parse_filters(self.filters or [])


class CitationOut(_Response):
    """A chunk the answer rests on: CitationOut(document="a.md", page=None, section=None,
    chunk_id="...", score=0.61)."""

    document: str
    page: int | None
    section: str | None
    chunk_id: str
    score: float
    inferred: bool = Field(False, description="the answer cited nothing; this is its top block")


class QueryUsage(_Response):
    """Tokens the answer took: QueryUsage(tokens_in=402, tokens_out=31)."""

    tokens_in: int
    tokens_out: int


class QueryResponse(_Response):
    """The answer of POST /v1/query; `arm` names the traffic arm ("control": main settings)."""

    answer: str
    abstained: bool
    citations: list[CitationOut]
    model: str
    usage: QueryUsage
    cost_usd: float
    latency_ms: float
    arm: str
    prompt: str | None = Field(
        None,
        description='the prompt template the model was asked with ("grounded-answer@1"); '
        "null when it answered without a model call (abstained on relevance)",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="what to know before trusting the answer, e.g. it repeats an instruction "
        "found in a retrieved document",
    )


class SearchRequest(_Request):
    """POST /v1/search: ranked chunks for a query."""

    query: Text
    collection: str | None = Field(None, pattern=COLLECTION_PATTERN)
    mode: Mode | None = Field(None, description="dense | sparse | hybrid (retrieval.mode)")
    k: HitCount | None = Field(None, description="results (retrieval.top_k)")
    per_document: int | None = Field(
        None,
        ge=0,
        le=1000,
        description="most chunks of one document among the results, 0: no cap "
        "(retrieval.per_document)",
    )
    filters: Filters = None
    user: str | None = Field(None, max_length=256, description="sticky A/B key when keyless")

    @field_validator("filters")
    @classmethod
    def _filter_syntax(cls, filters: list[str] | None) -> list[str] | None:
        return _filters(filters)

    def filter(self) -> Filter | None:
        return parse_filters(self.filters or [])


class SearchHit(_Response):
    """One ranked chunk: its known payload fields, and the rest of the payload as `metadata`."""

    chunk_id: str
    score: float
    source_document: str | None
    page_number: int | None
    section_heading: str | None
    text: str
    metadata: dict[str, JsonValue]


class SearchResponse(_Response):
    """The answer of POST /v1/search: the collection, the mode used and the ranked hits."""

    collection: str
    mode: Mode
    results: list[SearchHit]


# -- ingest and predict ------------------------------------------------------------------------


class IngestRequest(_Request):
    """POST /v1/ingest: server-side paths (under the working directory or data_dir)."""

    paths: list[ServerPath] = Field(min_length=1, max_length=100)
    collection: str | None = Field(None, pattern=COLLECTION_PATTERN)


class IngestCounts(_Response):
    """How far a job got: IngestCounts(files_total=3, files_done=1, files_ingested=1, ...)."""

    files_total: int = Field(description="files found to hash (known once the walk is done)")
    files_done: int = Field(description="files finished so far: ingested, unchanged or skipped")
    files_ingested: int
    files_unchanged: int
    files_skipped: int
    documents: int
    chunks_written: int
    chunks_removed: int


class IngestJob(_Response):
    """An ingest job: `done` may still list skipped files in `errors`; `failed` stopped early."""

    id: str
    collection: str
    paths: list[str]
    status: JobStatus
    counts: IngestCounts
    errors: list[str]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class PredictRequest(_Request):
    """POST /v1/predict/{model}: raw feature rows (the columns the model was trained on)."""

    rows: list[dict[str, float | int | str | bool | None]] = Field(min_length=1, max_length=10_000)
    user: str | None = Field(
        None, max_length=256, description="sticky canary key (else the API key's name)"
    )


class PredictResponse(_Response):
    """Predictions of the model's production (or canary) version, one per row, in row order.

    `scores`: positive-class probabilities (classification) or values (regression); `labels`:
    the class each score gives at 0.5 (classification only).
    """

    model: str
    version: int
    task: Literal["classification", "regression"]
    scores: list[float]
    labels: list[str | int | float | bool] | None = None
