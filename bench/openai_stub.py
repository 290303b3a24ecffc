"""A minimal OpenAI-compatible chat server for the router benchmarks, with injectable faults.

    python bench/openai_stub.py --port 8123 [--mode ok|slow|flaky|dead] [--hang-s 1.0]

It answers POST /v1/chat/completions with a fixed completion (usage included) in well under a
millisecond, so a client's own overhead is what a benchmark sees; GET /v1/models lists "stub".
Modes: `ok`; `slow`: every answer after `--hang-s` (a remote model's latency); `flaky`: every
other request fails, alternating a 500 and a hang of `--hang-s`
(the client's timeout fires); `dead`: every request gets a 503. POST /control {"mode": ...}
switches the mode; GET /stats returns {"requests": n, "failed": m}. Runs as its own process
so that its work never competes with the client's for the GIL.

    with StubServer(mode="ok") as stub:
        OpenAI(base_url=stub.url, api_key="x").chat.completions.create(...)
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

ANSWER = {
    "id": "chatcmpl-stub",
    "object": "chat.completion",
    "created": 0,
    "model": "stub",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14},
}
MODELS = {"object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "bench"}]}


class _State:
    def __init__(self, mode: str, hang_s: float) -> None:
        self.mode, self.hang_s = mode, hang_s
        self.requests = self.failed = 0
        self.lock = threading.Lock()


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # headers and body go out as two writes: without this, Nagle's algorithm meets the
            # client's delayed ACK and adds ~40 ms to some responses
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.endswith("/models"):
                self._send(200, MODELS)
            else:
                self._send(200, {"requests": state.requests, "failed": state.failed})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            if self.path == "/control":
                state.mode = body["mode"]
                self._send(200, {"mode": state.mode})
                return
            with state.lock:
                state.requests += 1
                n = state.requests
                fail = state.mode == "dead" or (state.mode == "flaky" and n % 2 == 0)
                state.failed += fail
            if not fail:
                if state.mode == "slow":
                    time.sleep(state.hang_s)
                self._send(200, ANSWER)
            elif state.mode == "flaky" and n % 4 == 0:
                time.sleep(state.hang_s)
                self._send(504, {"error": {"message": "upstream hung"}})
            else:
                self._send(503 if state.mode == "dead" else 500, {"error": {"message": "down"}})

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out on a hang hangs up first: a broken pipe, expected


class StubServer:
    """The stub as a child process on a free loopback port."""

    def __init__(self, mode: str = "ok", hang_s: float = 1.0) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/v1"
        self._args = ["--port", str(self.port), "--mode", mode, "--hang-s", str(hang_s)]
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> StubServer:
        self._process = subprocess.Popen([sys.executable, __file__, *self._args])
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{self.url}/models", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the stub server did not start on port {self.port}")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)

    def control(self, mode: str) -> None:
        request = urllib.request.Request(
            f"{self.base}/control", data=json.dumps({"mode": mode}).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=5).read()

    def stats(self) -> dict[str, int]:
        counts: dict[str, int] = json.loads(urllib.request.urlopen(f"{self.base}/stats").read())
        return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("ok", "slow", "flaky", "dead"), default="ok")
    parser.add_argument("--hang-s", type=float, default=1.0)
    args = parser.parse_args()
    server = _Server(("127.0.0.1", args.port), _handler(_State(args.mode, args.hang_s)))
    server.serve_forever()


if __name__ == "__main__":
    main()
