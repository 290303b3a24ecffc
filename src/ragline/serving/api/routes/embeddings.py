"""POST /v1/embeddings: the configured embedder, in OpenAI's request and response shape.

    client.embeddings.create(model="all-MiniLM-L6-v2", input=["first text", "second"])

`model` is the embedder's configured name (`embedding.model`, also its last path part) or
"ragline"/"default"; any other name is a 404 `model_not_found`. `input` is a string or a list
of strings (token-id arrays are refused with a 400 that says so). `encoding_format` "float"
(default) or "base64" (little-endian float32, as OpenAI's SDK decodes it). `dimensions` must
equal the model's width unless `embedding.truncate_dim` marks it a Matryoshka model, where
fewer dimensions are the first ones, re-normalised. The work is metered like every other
embedding (X-Ragline-Cost-USD).
"""

from __future__ import annotations

import base64
import uuid
from pathlib import PurePath
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ragline.core.costs import cost_scope
from ragline.core.embedding import Embedder
from ragline.serving.api.context import caller, request_id
from ragline.serving.api.schemas import error_docs, error_response, usd_header
from ragline.serving.api.services import ROUTER_ALIASES, ServicesDep

router = APIRouter(tags=["embeddings"])
MAX_INPUTS = 2048  # OpenAI's limit per request
Text = Annotated[str, Field(max_length=100_000)]


class EmbeddingsRequest(BaseModel):
    """POST /v1/embeddings; unknown fields are ignored, as OpenAI clients add new ones."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str = Field(max_length=256)
    input: Text | list[Text] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = Field(None, max_length=256)


class EmbeddingRow(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingsUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingRow]
    model: str
    usage: EmbeddingsUsage


@router.post(
    "/embeddings", response_model=EmbeddingsResponse, responses=error_docs(400, 404, 422, 429)
)
def embeddings(body: EmbeddingsRequest, request: Request, services: ServicesDep) -> Response:
    """Embed `input` with the configured embedder (see the module docstring)."""
    rid = request_id(request) or uuid.uuid4().hex
    config = services.settings.embedding
    names = (config.model, PurePath(config.model).name)
    if body.model not in (*names, *ROUTER_ALIASES):
        return _refuse(404, f"model {body.model!r} is not served here; use {names[1]!r}", rid)
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts or not all(isinstance(t, str) for t in texts):
        return _refuse(400, "input must be a string or a non-empty list of strings", rid, "input")
    if len(texts) > MAX_INPUTS:
        return _refuse(400, f"at most {MAX_INPUTS} inputs per request", rid, "input")
    embedder = services.embedder
    width = body.dimensions
    if width is not None and width != embedder.dims and not config.truncate_dim:
        message = (
            f"{names[1]} gives {embedder.dims} dimensions and is not a Matryoshka model "
            "(embedding.truncate_dim unset); leave dimensions out"
        )
        return _refuse(400, message, rid, "dimensions")
    if width is not None and width > embedder.dims:
        return _refuse(400, f"dimensions must be at most {embedder.dims}", rid, "dimensions")
    strings = [str(t) for t in texts]
    with cost_scope(rid, key=caller(request)) as scope:
        vectors = np.asarray(embedder.embed(strings, kind="document"), dtype=np.float32)
    if width is not None and width < vectors.shape[1]:
        vectors = vectors[:, :width]
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    tokens = _tokens(embedder, strings)
    rows = [
        EmbeddingRow(index=i, embedding=_encode(v, body.encoding_format))
        for i, v in enumerate(vectors)
    ]
    usage = EmbeddingsUsage(prompt_tokens=tokens, total_tokens=tokens)
    out = EmbeddingsResponse(data=rows, model=names[1], usage=usage)
    headers = {"X-Ragline-Cost-USD": usd_header(float(scope.total_usd()))}
    return JSONResponse(out.model_dump(mode="json"), headers=headers)


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


def _tokens(embedder: Embedder, texts: list[str]) -> int:
    """The inputs' tokens in the model's own tokenizer (words where it has none)."""
    window = embedder.window()
    if window is None:
        return sum(len(t.split()) for t in texts)
    return sum(min(window.count(t), window.max_tokens) for t in texts)


def _refuse(status: int, message: str, rid: str, param: str = "model") -> Response:
    code = "model_not_found" if status == 404 else "invalid_request_error"
    return error_response(status, message, code=code, param=param, request_id=rid)
