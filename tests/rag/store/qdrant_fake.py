"""A loopback HTTP server that answers the few Qdrant REST calls the server-store tests make.

    with FakeQdrant(fail_first=2) as fake:          # the first two point upserts get HTTP 503
        store = QdrantServerStore("docs", url=fake.url)
        ...
        fake.bodies("PUT", "/collections/docs")      # what qdrant-client sent, parsed JSON

No Qdrant server binary reaches these machines (DEPENDENCIES.md), so the adapter's behaviour at
the HTTP boundary (what it sends, how it retries) is checked against this stand-in; its answers
follow the shapes of Qdrant's REST API that qdrant-client parses. Everything a real server does
with the data is checked by the conformance suite (local mode, and a real server when
RAGLINE_QDRANT_URL is set).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

SNAPSHOT_BYTES = b"fake snapshot content\x00\x01"
_DONE = {"operation_id": 1, "status": "completed"}


class FakeQdrant:
    """Records every request as (method, path, body); fails the first `fail_first` point
    upserts with `fail_status`; starts holding `collections` (empty)."""

    def __init__(
        self, fail_first: int = 0, fail_status: int = 503, collections: tuple[str, ...] = ()
    ) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.requests: list[tuple[str, str, bytes]] = []
        self.collections: set[str] = set(collections)
        self.points: dict[str, Any] = {}
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def bodies(self, method: str, path: str) -> list[Any]:
        """The JSON bodies of the requests to `path` (without the query string)."""
        with self.lock:
            return [json.loads(b) for m, p, b in self.requests if m == method and p == path]

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return sum(1 for m, p, _ in self.requests if m == method and p == path)

    def __enter__(self) -> FakeQdrant:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """(status, JSON result or raw bytes) for one request."""
        with self.lock:
            self.requests.append((method, path, body))
            match = re.fullmatch(r"/collections/([^/]+)(/.*)?", path)
            if match is None:
                return 404, {"error": f"no route {path}"}
            name, rest = match.group(1), match.group(2) or ""
            return self._route(method, name, rest, body)

    def _route(self, method: str, name: str, rest: str, body: bytes) -> tuple[int, Any]:
        if (method, rest) == ("GET", "/exists"):
            return 200, {"exists": name in self.collections}
        if (method, rest) == ("PUT", ""):
            self.collections.add(name)
            return 200, True
        if (method, rest) == ("PUT", "/index"):
            return 200, _DONE
        if (method, rest) == ("PUT", "/points"):
            if self.fail_first > 0:
                self.fail_first -= 1
                return self.fail_status, {"error": "service unavailable (injected)"}
            for point in json.loads(body)["points"]:
                self.points[str(point["id"])] = point
            return 200, _DONE
        if (method, rest) == ("POST", "/points/count"):
            return 200, {"count": len(self.points)}
        if (method, rest) == ("POST", "/snapshots"):
            if name not in self.collections:
                return 404, {"error": f"Not found: Collection `{name}` doesn't exist!"}
            snapshot = {"name": f"{name}-1.snapshot", "size": len(SNAPSHOT_BYTES)}
            return 200, {**snapshot, "creation_time": None, "checksum": None}
        if method == "GET" and rest == f"/snapshots/{name}-1.snapshot":
            return 200, SNAPSHOT_BYTES
        if (method, rest) == ("POST", "/snapshots/upload") or (method, rest) == (
            "PUT",
            "/snapshots/recover",
        ):
            self.collections.add(name)
            return 200, True
        return 404, {"error": f"Not found: {method} {rest}"}


def _handler(fake: FakeQdrant) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, result = fake.answer(self.command, urlsplit(self.path).path, body)
            if isinstance(result, bytes):
                data, kind = result, "application/octet-stream"
            else:
                reply = {"result": result, "status": "ok"} if status < 400 else {"status": result}
                data = json.dumps({**reply, "time": 0.0}).encode()
                kind = "application/json"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read `fake.requests` instead."""

    return Handler
