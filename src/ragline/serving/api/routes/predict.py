"""POST /v1/predict/{model}: a registered classical model's production version, on raw rows.

    POST /v1/predict/adult-income {"rows": [{"age": 39, "workclass": "Private", ...}]}
    -> 200 {"model": "adult-income", "version": 3, "task": "classification",
            "scores": [0.12], "labels": [0]}

Models come from mltrack's registry (`ragline ml train` / `ragline ml promote`); a promotion
or rollback is picked up within seconds. During a gradual rollout (`ragline ml rollout start`)
a sticky share of callers gets the canary version, and `version` says which one answered:
the sticky key is the body's `user` (within the caller's API key), else the API key's name, else
the request id (keyless, no user: each request draws anew).

404 when the model has no production version; 422 when the rows lack a column the model was
trained on (the message names it); 503 when the model registry cannot be reached and the model
is not loaded yet (within seconds: the registry's database connect times out in ~2 s).
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from starlette.requests import Request
from starlette.responses import JSONResponse

from ragline.core.costs import cost_scope
from ragline.mltrack.errors import DataError
from ragline.serving.api.context import ANONYMOUS, caller, request_id
from ragline.serving.api.predictor import ModelNotServed, RegistryUnavailable
from ragline.serving.api.schemas import PredictRequest, PredictResponse, error_docs, error_response
from ragline.serving.api.services import ServicesDep

router = APIRouter(tags=["predict"])
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


@router.post(
    "/predict/{model}", response_model=PredictResponse, responses=error_docs(404, 422, 503)
)
def predict(
    model: Annotated[str, PathParam(pattern=MODEL_NAME)],
    body: PredictRequest,
    request: Request,
    services: ServicesDep,
) -> PredictResponse | JSONResponse:
    """Predict with the production version of `model` (or its canary, during a rollout)."""
    rid = request_id(request) or uuid.uuid4().hex
    started = time.perf_counter()
    with cost_scope(rid, key=caller(request)):
        try:
            key = _sticky_key(caller(request), body.user, rid)
            result = services.predictor.predict(model, body.rows, key=key)
        except ModelNotServed as exc:
            return error_response(404, str(exc), code="model_not_found", request_id=rid)
        except RegistryUnavailable as exc:
            return error_response(
                503, str(exc), code="registry_unavailable", type="server_error", request_id=rid
            )
        except (DataError, KeyError, ValueError) as exc:
            message = f"rows do not fit {model!r}: {exc}"
            return error_response(422, message, code="bad_rows", param="rows", request_id=rid)
        seconds = time.perf_counter() - started
        services.record_prediction(f"{model}:{result.version}", len(body.rows), seconds)
        services.log_predictions(rid, result)
    labels = None if result.labels is None else [_plain(v) for v in result.labels]
    return PredictResponse(
        model=result.model,
        version=result.version,
        task=result.task,
        scores=result.scores,
        labels=labels,
    )


def _sticky_key(who: str, user: str | None, rid: str) -> str:
    if user:
        return f"{who}/{user}"  # one caller's users never share a key with another caller's
    return rid if who == ANONYMOUS else who


def _plain(value: object) -> str | int | float | bool:
    if isinstance(value, str | int | float | bool):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    return item() if callable(item) else str(value)
