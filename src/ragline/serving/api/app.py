"""The FastAPI application of `ragline serve`: `create_app(settings)`.

    app = create_app(load_settings(Path("configs/prod.yaml")))
    uvicorn.run(app, host="127.0.0.1", port=8080)

    # several workers import the app themselves, from the environment ($RAGLINE_CONFIG, RAGLINE_*):
    uvicorn --factory ragline.serving.api.app:app_from_env --workers 4

Routes: /v1/* (ragline.serving.api.routes.v1, behind API keys and per-key rate limits) and the ops
routes /health, /ready, /metrics (ragline.serving.api.routes.ops, open). Middleware order, outermost
first: request context (id, access log, metrics, catch-all 500), CORS (only with
serve.cors_origins), body limit (413), auth + rate limit (401 / 429), per-route timeout (504). Every
error answers in OpenAI's error shape; provider errors map to statuses in `PROVIDER_STATUS`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ragline.llm_router.errors import (
    ProviderError,
    RateLimited,
)
from ragline.mltrack.monitor.request_log import RequestLog
from ragline.serving.api.context import request_id
from ragline.serving.api.errors import provider_status
from ragline.serving.api.metrics import Metrics
from ragline.serving.api.middleware import (
    BodyLimitMiddleware,
    RequestContextMiddleware,
    TimeoutMiddleware,
    error_body,
)
from ragline.serving.api.routes import ops
from ragline.serving.api.schemas import error_docs
from ragline.serving.api.security import (
    ApiKeyAuth,
    AuthMiddleware,
    build_rate_limiter,
    documented_api_key,
    retry_after,
)
from ragline.serving.logs import ERROR_LOGGER
from ragline.serving.settings import Settings, load_settings

if TYPE_CHECKING:
    from ragline.serving.api.services import Services

log = logging.getLogger(ERROR_LOGGER)
_MAX_VALIDATION_ERRORS = 5
OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/embeddings"})

# Statuses the middleware may answer on any /v1 route, documented for OpenAPI clients.
MIDDLEWARE_ERRORS = error_docs(400, 401, 413, 422, 429, 504)


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """The application; without `services`, `Services(settings, sink=metrics)` (warmed up in the
    background at start-up, closed at shutdown)."""
    metrics = Metrics()
    if services is None:
        from ragline.serving.api.services import Services

        services = Services(settings, sink=metrics)
    app = FastAPI(title="ragline", version="0.1.0", lifespan=_lifespan)
    app.state.settings, app.state.services = settings, services
    app.state.metrics, app.state.warm = metrics, ops.WarmUp()
    app.state.request_log = _request_log(settings)
    _add_error_handlers(app)
    app.include_router(ops.router)
    _include_v1(app, settings)
    _add_middleware(app, settings, metrics, app.state.request_log)
    return app


def _request_log(settings: Settings) -> RequestLog | None:
    """The request log the monitors read (monitor.request_log); None when disabled."""
    config = settings.monitor.request_log
    return RequestLog(config, settings.data_dir) if config.enabled else None


def app_from_env() -> FastAPI:
    """uvicorn's factory: settings from $RAGLINE_CONFIG and RAGLINE_* (each worker calls it)."""
    return create_app(load_settings())


def _include_v1(app: FastAPI, settings: Settings) -> None:
    from ragline.serving.api.routes import v1

    # The key schemes appear in the OpenAPI document only where keys are required.
    dependencies = [Depends(documented_api_key)] if settings.serve.api_keys else []
    app.include_router(v1.router, dependencies=dependencies, responses=MIDDLEWARE_ERRORS)


def _add_middleware(
    app: FastAPI, settings: Settings, metrics: Metrics, requests: RequestLog | None
) -> None:
    serve = settings.serve
    # add_middleware puts each one outside the ones added before: innermost first.
    app.add_middleware(TimeoutMiddleware, timeouts=serve.timeouts)
    app.add_middleware(
        AuthMiddleware, auth=ApiKeyAuth(serve.api_keys), limiter=build_rate_limiter(settings)
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=serve.max_body_bytes)
    if serve.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(serve.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "X-Ragline-Arm",
                "X-Ragline-Cost-USD",
                "X-Ragline-Cache",
                "Retry-After",
            ],
        )
    app.add_middleware(RequestContextMiddleware, metrics=metrics, requests=requests)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = app.state.services
    warm: ops.WarmUp = app.state.warm
    warm.start(services.warm_up)  # in a thread: /health answers and /ready is false meanwhile
    try:
        yield
    finally:
        grace = app.state.settings.serve.shutdown_grace_s
        # Closing while the warm-up still loads would race it; give it the grace period.
        await anyio.to_thread.run_sync(warm.wait, grace)
        await anyio.to_thread.run_sync(services.close)
        if app.state.request_log is not None:
            await anyio.to_thread.run_sync(app.state.request_log.close)


def _add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ProviderError, _provider_error)


def _json_error(
    request: Request,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    **fields: str | None,
) -> JSONResponse:
    body = error_body(status, message, request_id(request), **fields)
    return JSONResponse(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    lines = [_explain(error) for error in errors[:_MAX_VALIDATION_ERRORS]]
    if len(errors) > _MAX_VALIDATION_ERRORS:
        lines.append(f"and {len(errors) - _MAX_VALIDATION_ERRORS} more")
    param = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
    # OpenAI answers 400 to invalid bodies (its clients raise BadRequestError); so do its
    # routes here, and every route for a body that is not JSON at all
    not_json = any(error.get("type") == "json_invalid" for error in errors)
    status = 400 if not_json or request.url.path in OPENAI_PATHS else 422
    return _json_error(request, status, "; ".join(lines), param=param)


def _explain(error: Any) -> str:
    """One validation error as "path: reason"; the input is never echoed (it may be secret)."""
    loc = [str(p) for p in error.get("loc", ())]
    if error.get("type") == "json_invalid":
        reason = error.get("ctx", {}).get("error", "")
        return f"the request body is not valid JSON (at character {loc[-1]}): {reason}"
    return f"{'.'.join(loc) or 'request'}: {error.get('msg', 'invalid')}"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """HTTPException -> OpenAI's shape; `detail` may be a message or {message, type, code}."""
    assert isinstance(exc, HTTPException)
    detail, status = exc.detail, exc.status_code
    headers = dict(exc.headers or {})
    if not isinstance(detail, dict):
        return _json_error(request, status, str(detail), headers)
    return _json_error(
        request,
        status,
        str(detail.get("message", "")),
        headers,
        type_=_text(detail.get("type")),
        code=_text(detail.get("code")),
        param=_text(detail.get("param")),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


async def _provider_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProviderError)
    status, safe_message = provider_status(exc)
    fields = {"request_id": request_id(request), "status": status}
    log.warning("provider error", exc_info=exc, extra={"fields": fields})
    headers = {"Retry-After": str(retry_after(exc))} if isinstance(exc, RateLimited) else None
    return _json_error(request, status, safe_message or str(exc), headers)
