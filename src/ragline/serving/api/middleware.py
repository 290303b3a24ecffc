"""ASGI middleware of `ragline serve`, outermost first (see `ragline.serving.api.app`):

    RequestContextMiddleware   request id in and out, access log, request metrics, request log
                               (monitor.request_log), catch-all 500
    CORSMiddleware             only when serve.cors_origins lists origins
    BodyLimitMiddleware        413 by Content-Length, or once a streamed body passes the limit
    AuthMiddleware             (ragline.serving.api.security) 401 / 429 before any body is read
    TimeoutMiddleware          504 when no response byte is ready in time (per route family);
                               408 when the client stalls before its body is complete

Pure ASGI classes rather than `BaseHTTPMiddleware`: they keep streaming responses streaming
and see the ASGI messages themselves (the status, the first body byte). Every error they send
has OpenAI's error shape (`error_body`), so OpenAI clients parse it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragline.mltrack.errors import MltrackError
from ragline.mltrack.monitor.request_log import RequestRecord
from ragline.serving.api.context import set_request_id
from ragline.serving.api.metrics import Metrics
from ragline.serving.logs import ACCESS_LOGGER, ERROR_LOGGER
from ragline.serving.serve_config import RouteTimeouts

REQUEST_ID_HEADER = "X-Request-ID"
# A client's request id is reused only if it is short and plain: it ends up in logs.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Route families of serve.timeouts, by path prefix; anything else is `default`.
_FAMILIES = (
    ("/v1/chat", "chat"),
    ("/v1/query", "query"),
    ("/v1/search", "search"),
    ("/v1/ingest", "ingest"),
)
_TYPES = {401: "authentication_error", 402: "insufficient_quota", 429: "rate_limit_error"}
_CODES = {
    400: "bad_request",
    401: "invalid_api_key",
    402: "budget_exceeded",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "request_too_large",
    422: "validation_error",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "upstream_error",
    503: "unavailable",
    504: "timeout",
}
access_log = logging.getLogger(ACCESS_LOGGER)
error_log = logging.getLogger(ERROR_LOGGER)


def error_body(
    status: int,
    message: str,
    request_id: str,
    *,
    type_: str | None = None,
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error object, plus the request id: {"error": {message, type, code, param, ...}}.

    error_body(429, "rate limit reached", "r1")["error"]["type"]  # "rate_limit_error"
    """
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    error = {
        "message": message,
        "type": type_ or _TYPES.get(status, default_type),
        "code": code or _CODES.get(status),
        "param": param,
        "request_id": request_id,
    }
    return {"error": error}


async def send_error(
    send: Send,
    scope: Scope,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answers `status` with an `error_body` (for middleware, below the routing layer)."""
    body = json.dumps(error_body(status, message, scope_request_id(scope))).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def scope_request_id(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


class RouteTemplates:
    """Finds the template of the route that served a request: the metrics' `route` label.

    FastAPI hands the routes of an included router to the scope as they were declared (without
    the router's prefix), so the full templates come from the app's OpenAPI paths, matched
    against the raw path once the router has matched it.
    """

    def __init__(self) -> None:
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    def label(self, scope: Scope) -> str:
        """/v1/ingest/{job_id} for /v1/ingest/abc; "unmatched" when no route matches.

        A request answered before routing (401, 413, 429) gets the template its path matches.
        """
        route = scope.get("route")
        declared = getattr(route, "path", "")
        path = scope["path"]
        regex = getattr(route, "path_regex", None)
        if isinstance(declared, str) and isinstance(regex, re.Pattern) and regex.match(path):
            return declared  # a route of the app itself: its path is the full template
        for pattern, template in self._table(scope):
            if isinstance(declared, str) and template.endswith(declared) and pattern.match(path):
                return template
        return "unmatched"

    def _table(self, scope: Scope) -> list[tuple[re.Pattern[str], str]]:
        if self._templates is None:
            openapi = getattr(scope.get("app"), "openapi", None)
            paths = openapi().get("paths", {}) if callable(openapi) else {}
            # Fewer parameters first: a static path wins over a template that also matches.
            ordered = sorted(paths, key=lambda t: (t.count("{"), t))
            self._templates = [(compile_path(t)[0], t) for t in ordered]
        return self._templates


class RequestSink(Protocol):
    """Where answered /v1 requests go for monitoring
    (`ragline.mltrack.monitor.request_log.RequestLog`)."""

    def record(self, record: RequestRecord) -> None: ...


class RequestContextMiddleware:
    """Gives every request an id, then logs and counts it once it is answered.

    app.add_middleware(RequestContextMiddleware, metrics=Metrics(), requests=RequestLog(...))

    The request log gets the /v1 requests only: probes of /health, /ready and /metrics would
    drown the traffic the monitors judge.

    The id is the client's X-Request-ID when sane, else a new one; it is echoed in the response
    header. An exception that escapes the app is logged (type and message) and answered with
    500 {"error": {"message": "internal error", "request_id": ...}}: never a traceback.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, requests: RequestSink | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.requests = requests
        self.routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        set_request_id(Request(scope), rid)
        started = time.perf_counter()
        seen: dict[str, Any] = {
            "status": 500,
            "started": False,
            "arm": None,
            "cache": None,
            "logged": False,
        }

        def finish() -> None:
            if not seen["logged"]:
                seen["logged"] = True
                self._finish(scope, seen, time.perf_counter() - started)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = rid
                seen.update(status=message["status"], started=True)
                seen["arm"] = headers.get("x-ragline-arm")
                seen["cache"] = headers.get("x-ragline-cache")
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finish()  # before the last byte leaves: a client never sees an unlogged answer
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # noqa: BLE001 - logged, and answered as a clean 500
            error_log.error("unhandled error", exc_info=exc, extra={"fields": {"request_id": rid}})
            if not seen["started"]:
                await send_error(send_with_id, scope, 500, "internal error")
        finally:
            finish()

    def _finish(self, scope: Scope, seen: Mapping[str, Any], seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route, status = self.routes.label(scope), int(seen["status"])
        self.metrics.observe_request(route, method, status, seconds)
        state = scope.get("state", {})
        fields = {
            "request_id": state.get("request_id"),
            "caller": state.get("caller"),
            "method": method,
            "path": scope["path"],  # no query string: it may carry data the client sent
            "route": route,
            "status": status,
            "latency_ms": round(seconds * 1000, 2),
        }
        if seen["arm"]:
            fields["arm"] = seen["arm"]
        access_log.info(f"{method} {scope['path']} {status}", extra={"fields": fields})
        if self.requests is not None and route.startswith("/v1/"):
            _log_request(self.requests, fields, seen, seconds)


def _log_request(
    sink: RequestSink, fields: Mapping[str, Any], seen: Mapping[str, Any], seconds: float
) -> None:
    record = RequestRecord(
        ts=time.time(),
        request_id=str(fields["request_id"] or ""),
        route=fields["route"],
        method=fields["method"],
        status=fields["status"],
        latency_ms=seconds * 1000,
        caller=fields["caller"],
        arm=seen["arm"],
        cache=seen["cache"],
    )
    try:
        sink.record(record)
    except MltrackError as exc:  # monitoring must not fail the request it watches
        error_log.warning("request log write failed", exc_info=exc)


def _request_id(sent: str | None) -> str:
    if sent and _SANE_ID.match(sent):
        return sent
    return uuid.uuid4().hex


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes serve.max_body_bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes (serve.max_body_bytes)")


class BodyLimitMiddleware:
    """413 for bodies over `max_bytes`: by Content-Length before reading, and by counting the
    bytes of a body without one (chunked uploads), so neither can exhaust memory.

    app.add_middleware(BodyLimitMiddleware, max_bytes=1_048_576)
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await send_error(send, scope, 413, BodyTooLarge(self.max_bytes).detail)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:
            # FastAPI routes turn it into a response through the HTTPException handler; this
            # catches bodies read outside a route (another middleware, a raw ASGI endpoint).
            if started:
                raise
            await send_error(send, scope, 413, exc.detail)


def timeout_for(path: str, timeouts: RouteTimeouts) -> float:
    """Seconds allowed for `path`'s route family (see serve.timeouts)."""
    for prefix, family in _FAMILIES:
        if path == prefix or path.startswith(prefix + "/"):
            return float(getattr(timeouts, family))
    return timeouts.default


class _FirstByteGate:
    """Holds back `http.response.start` until the first body message, so that a deadline that
    passes before any byte is ready can still be answered with a 504."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._start: Message | None = None
        self.first_byte = asyncio.Event()
        self.expired = False

    async def send(self, message: Message) -> None:
        if self.expired:
            return  # the 504 went out; what the abandoned handler sends now has nowhere to go
        if message["type"] == "http.response.start":
            self._start = message
            return
        self.first_byte.set()
        if self._start is not None:
            start, self._start = self._start, None
            await self._send(start)
        await self._send(message)


class BodyIncomplete(HTTPException):
    """Raised from `receive` when a request body stops arriving before its end (a client that
    sent less than its Content-Length and waits): the client's fault, answered 408, and the
    connection is closed since the rest of the body may still come."""

    def __init__(self, received: int, declared: str | None, seconds: float) -> None:
        of = f" of the {declared} declared by Content-Length" if declared else ""
        message = (
            f"request body incomplete: {received} bytes{of} arrived, then nothing for "
            f"{seconds:g} s; send the whole body"
        )
        super().__init__(408, message, headers={"Connection": "close"})


class _BodyWatch:
    """Wraps `receive`: while the body is incomplete, each read must bring bytes within
    `idle_s` (BodyIncomplete otherwise); once it is complete, reads pass through untouched
    (a streaming response waits on them for the client's disconnect)."""

    def __init__(self, receive: Receive, declared: str | None, idle_s: float) -> None:
        self._receive, self.declared, self.idle_s = receive, declared, idle_s
        self.complete, self.received = False, 0
        self.waiting = False  # the app is blocked reading the body: a stall is the client's

    async def receive(self) -> Message:
        if self.complete:
            return await self._receive()
        self.waiting = True
        try:
            message = await asyncio.wait_for(self._receive(), self.idle_s)
        except TimeoutError:
            raise self.error() from None
        finally:
            self.waiting = False
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        else:
            self.complete = True  # a disconnect: nothing more will come
        return message

    def error(self) -> BodyIncomplete:
        return BodyIncomplete(self.received, self.declared, self.idle_s)


class TimeoutMiddleware:
    """504 when a request's first response byte is not ready within its family's timeout;
    a streaming response, once its first byte is out, streams on without a deadline.
    408 instead when the request body stops arriving for `body_idle_s` (or the app is still
    waiting for it at the deadline): a stalled client is not a slow server, nor a 5xx.

    app.add_middleware(TimeoutMiddleware, timeouts=RouteTimeouts(search=5))

    The handler runs as its own task so the 504 goes out on time even when the handler is
    blocked in a worker thread (threads cannot be cancelled; it finishes there, unanswered).
    """

    def __init__(self, app: ASGIApp, timeouts: RouteTimeouts, body_idle_s: float = 5.0) -> None:
        self.app = app
        self.timeouts = timeouts
        self.body_idle_s = body_idle_s
        self._abandoned: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = timeout_for(scope["path"], self.timeouts)
        gate = _FirstByteGate(send)
        declared = Headers(scope=scope).get("content-length")
        body = _BodyWatch(receive, declared, min(self.body_idle_s, limit))
        handler = asyncio.ensure_future(self.app(scope, body.receive, gate.send))
        waiter = asyncio.ensure_future(gate.first_byte.wait())
        try:
            await asyncio.wait({handler, waiter}, timeout=limit, return_when="FIRST_COMPLETED")
        except asyncio.CancelledError:
            handler.cancel()
            raise
        finally:
            waiter.cancel()
        if handler.done() or gate.first_byte.is_set():
            try:
                await handler
            except BodyIncomplete as exc:  # read outside a route (routes answer it themselves)
                if gate.first_byte.is_set():
                    raise
                await send_error(send, scope, 408, exc.detail, exc.headers)
            return
        gate.expired = True
        self._abandon(handler)
        if body.waiting:  # no response because the body never came: the client's fault
            error = body.error()
            await send_error(send, scope, 408, error.detail, error.headers)
            return
        await send_error(send, scope, 504, f"no response within {limit:g} s (serve.timeouts)")

    def _abandon(self, handler: asyncio.Task[None]) -> None:
        handler.cancel()
        self._abandoned.add(handler)  # a strong reference until it ends
        handler.add_done_callback(self._forget)

    def _forget(self, handler: asyncio.Task[None]) -> None:
        self._abandoned.discard(handler)
        if not handler.cancelled() and handler.exception() is not None:
            error_log.warning("a timed-out request failed later", exc_info=handler.exception())
