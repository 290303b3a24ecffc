"""A scripted OpenAI-format chat server on 127.0.0.1, for paths no free model takes (tools).

    with FakeOpenAI([Reply(tool_calls=[("get_weather", '{"city": "Oslo"}')]), Reply("Hi")]) as fake:
        OpenAI(base_url=fake.url, api_key="x").chat.completions.create(...)
        fake.bodies[-1]["tools"]          # what the server was sent

Replies are given in order (the last repeats). Streams send the content in two pieces, or each
tool call in two fragments (id and name, then the arguments), then a usage chunk, as OpenAI
does. Real HTTP on loopback: the client's whole stack (SDK, retries off, parsing) runs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}


@dataclass(frozen=True)
class Reply:
    """One scripted answer: text, or tool calls as (name, JSON arguments)."""

    content: str = ""
    tool_calls: Sequence[tuple[str, str]] = field(default_factory=tuple)

    def message(self) -> dict[str, Any]:
        calls = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(self.tool_calls)
        ]
        if calls:
            return {"role": "assistant", "content": None, "tool_calls": calls}
        return {"role": "assistant", "content": self.content}

    def finish(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


class FakeOpenAI:
    """The server (see the module docstring); `bodies` holds every request body received."""

    def __init__(self, replies: Sequence[Reply]) -> None:
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.bodies.append(body)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _stream(reply: Reply) -> list[dict[str, Any]]:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    if reply.content:
        half = len(reply.content) // 2
        chunks += [
            _chunk({"content": part}) for part in (reply.content[:half], reply.content[half:])
        ]
    for i, (name, arguments) in enumerate(reply.tool_calls):
        head = {"index": i, "id": f"call_{i}", "type": "function"}
        chunks.append(
            _chunk({"tool_calls": [head | {"function": {"name": name, "arguments": ""}}]})
        )
        chunks.append(_chunk({"tool_calls": [{"index": i, "function": {"arguments": arguments}}]}))
    chunks.append(_chunk({}, reply.finish()))
    chunks.append({**_chunk({}), "choices": [], "usage": USAGE})
    return chunks


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            models = {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
            self._send(json.dumps(models).encode(), "application/json")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply = fake.next_reply(body)
            if body.get("stream"):
                events = "".join(f"data: {json.dumps(c)}\n\n" for c in _stream(reply))
                self._send((events + "data: [DONE]\n\n").encode(), "text/event-stream")
                return
            answer = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": "fake-model",
                "choices": [
                    {"index": 0, "message": reply.message(), "finish_reason": reply.finish()}
                ],
                "usage": USAGE,
            }
            self._send(json.dumps(answer).encode(), "application/json")

    return Handler
