"""POST /v1/predict/{model}: classical-model predictions, answered 501 for now.

Predictions come from models in mltrack's registry (trained, tracked and promoted with
`ragline ml ...`), which this version does not ship yet. Until it does, a valid request gets a
501 that says so, and a malformed one the usual 422, so clients can be written against the
final request shape. It stays out of the OpenAPI document until then.

    POST /v1/predict/churn {"rows": [{"tenure": 12, "plan": "pro"}]}
    -> 501 {"error": {"message": "...", "type": "not_implemented", "code": "predict_unavailable"}}
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from starlette.requests import Request
from starlette.responses import JSONResponse

from serving.api.context import request_id
from serving.api.schemas import PredictRequest, error_docs, error_response

router = APIRouter(tags=["predict"])
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


# Not in the OpenAPI document until it can answer: clients should not be offered it yet.
@router.post("/predict/{model}", responses=error_docs(422, 501), include_in_schema=False)
def predict(
    model: Annotated[str, PathParam(pattern=MODEL_NAME)], body: PredictRequest, request: Request
) -> JSONResponse:
    """Not available yet: needs mltrack's model registry (see the module docstring)."""
    return error_response(
        501,
        f"cannot predict with {model!r}: prediction serves models from mltrack's registry, "
        "which this ragline version does not include yet; use /v1/query, /v1/search or "
        "/v1/chat/completions meanwhile",
        code="predict_unavailable",
        type="not_implemented",
        request_id=request_id(request) or uuid.uuid4().hex,
    )
