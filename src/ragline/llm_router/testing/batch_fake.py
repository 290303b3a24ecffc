"""An HTTP fake of the OpenAI Batch API and Anthropic Message Batches (and of both vendors'
synchronous chat endpoints, so a batched run can be compared with a synchronous one), on
127.0.0.1, for tests and benches.

    with BatchFake(polls_until_done=3, fail_first=lambda body: "tides" in str(body)) as fake:
        settings: llm.openai.base_url = fake.openai_url      # http://127.0.0.1:PORT/v1
                  llm.anthropic.base_url = fake.anthropic_url  # http://127.0.0.1:PORT
        ... run the work (in this process or another: it is a real HTTP server) ...
        fake.batches_created, fake.polls, fake.sync_requests

Endpoints: POST /v1/files (multipart, purpose=batch), POST /v1/batches, GET /v1/batches/{id},
GET /v1/files/{id}/content; POST /v1/messages/batches, GET /v1/messages/batches/{id},
GET /v1/messages/batches/{id}/results; POST /v1/chat/completions, POST /v1/messages.
A batch reports progress on each status check and is done after `polls_until_done` checks.
`reply(body)` gives the text of the answer to a request body (default: `echo_reply`); token
counts are a deterministic function of the body and the reply, so a batched and a synchronous
run of the same work use the same tokens. A body for which `fail_first(body)` is true fails
the first time it is batched and succeeds when resubmitted.
"""

from __future__ import annotations

import email.parser
import itertools
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Reply = Callable[[dict[str, Any]], str]
JUDGE_REPLY = json.dumps(
    {
        "score": 1,
        "claims": [{"claim": "the answer", "supported": True}],
        "statements": [{"statement": "the reference", "attributed": True}],
        "reason": "fake judge",
    }
)
_BLOCK = re.compile(r"^\[1\] Source: (.+?)(?:, page (\d+))?(?: \| Section: .*)?$", re.MULTILINE)


def text_of(body: dict[str, Any]) -> str:
    """Every text of a chat body (system and messages, either vendor's shape), joined."""
    parts: list[str] = []
    system = body.get("system")
    for piece in [system, *(m.get("content") for m in body.get("messages", []))]:
        if isinstance(piece, str):
            parts.append(piece)
        elif isinstance(piece, list):
            parts += [b.get("text", "") for b in piece if isinstance(b, dict)]
    return "\n".join(parts)


def echo_reply(body: dict[str, Any]) -> str:
    """A grounded answer from the first context block (its first line, cited), or a judge's
    top grade for any other prompt (one JSON object that answer relevancy, faithfulness and
    context recall all parse)."""
    text = text_of(body)
    found = _BLOCK.search(text)
    if found is None:
        return JUDGE_REPLY
    following = text[found.end() :].strip().splitlines()
    first = following[0] if following else ""
    page = f", page {found.group(2)}" if found.group(2) else ""
    return f"{first} [Source: {found.group(1)}{page}]"


def tokens(text: str) -> int:
    """The fake's token count: one per 4 characters, at least 1."""
    return max(1, len(text) // 4)


class BatchFake:
    """The fake server (see the module docstring); a context manager that stops it."""

    def __init__(
        self,
        polls_until_done: int = 1,
        reply: Reply = echo_reply,
        fail_first: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self.polls_until_done = polls_until_done
        self.reply = reply
        self.fail_first = fail_first or (lambda _body: False)
        self.batches_created = 0
        self.polls: dict[str, int] = {}
        self.sync_requests = 0
        self.batched_requests = 0
        self._files: dict[str, bytes] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._failed_once: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        port = self.server.server_address[1]
        self.anthropic_url = f"http://127.0.0.1:{port}"
        self.openai_url = f"{self.anthropic_url}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> BatchFake:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ replies to one body

    def _answer(self, body: dict[str, Any]) -> tuple[str, int, int]:
        text = self.reply(body)
        return text, tokens(text_of(body)), tokens(text)

    def openai_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        text, tokens_in, tokens_out = self._answer(body)
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            },
        }

    def anthropic_message(self, body: dict[str, Any]) -> dict[str, Any]:
        text, tokens_in, tokens_out = self._answer(body)
        return {
            "id": f"msg_{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
            },
        }

    def _fails(self, body: dict[str, Any]) -> bool:
        """True the first time a failing body is batched (the resubmission succeeds)."""
        canonical = json.dumps(body, sort_keys=True)
        with self._lock:
            if canonical in self._failed_once or not self.fail_first(body):
                return False
            self._failed_once.add(canonical)
            return True

    # ------------------------------------------------------------------ OpenAI

    def upload(self, content: bytes) -> dict[str, Any]:
        file_id = f"file-{next(self._ids)}"
        self._files[file_id] = content
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": 0,
            "filename": "batch.jsonl",
            "purpose": "batch",
            "status": "processed",
        }

    def create_openai(self, request: dict[str, Any]) -> dict[str, Any]:
        lines = [json.loads(x) for x in self._files[request["input_file_id"]].splitlines() if x]
        out, errors = [], []
        for line in lines:
            if self._fails(line["body"]):
                error = {"error": {"message": "fake server error", "type": "server_error"}}
                errors.append(
                    {
                        "id": "x",
                        "custom_id": line["custom_id"],
                        "error": None,
                        "response": {"status_code": 500, "body": error},
                    }
                )
            else:
                response = {"status_code": 200, "body": self.openai_completion(line["body"])}
                out.append({"id": "x", "custom_id": line["custom_id"], "response": response})
        batch_id = self._new_batch("openai", len(lines), len(errors))
        files = {"output_file_id": self._store(out), "error_file_id": self._store(errors)}
        self._batches[batch_id].update(files)
        return self.openai_batch(batch_id, poll=False)

    def _store(self, records: list[dict[str, Any]]) -> str | None:
        if not records:
            return None
        file_id = f"file-{next(self._ids)}"
        self._files[file_id] = "".join(json.dumps(r) + "\n" for r in records).encode()
        return file_id

    def openai_batch(self, batch_id: str, poll: bool = True) -> dict[str, Any]:
        done, completed, failed, total = self._progress(batch_id, poll)
        batch = self._batches[batch_id]
        return {
            "id": batch_id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": "file-in",
            "completion_window": "24h",
            "created_at": 0,
            "status": "completed" if done else "in_progress",
            "output_file_id": batch["output_file_id"] if done else None,
            "error_file_id": batch["error_file_id"] if done else None,
            "request_counts": {"total": total, "completed": completed, "failed": failed},
        }

    # ------------------------------------------------------------------ Anthropic

    def create_anthropic(self, request: dict[str, Any]) -> dict[str, Any]:
        results = []
        for item in request["requests"]:
            if self._fails(item["params"]):
                error = {"type": "error", "error": {"type": "api_error", "message": "fake"}}
                result: dict[str, Any] = {"type": "errored", "error": error}
            else:
                result = {"type": "succeeded", "message": self.anthropic_message(item["params"])}
            results.append({"custom_id": item["custom_id"], "result": result})
        failed = sum(r["result"]["type"] != "succeeded" for r in results)
        batch_id = self._new_batch("anthropic", len(results), failed)
        self._batches[batch_id]["results"] = results
        return self.anthropic_batch(batch_id, poll=False)

    def anthropic_batch(self, batch_id: str, poll: bool = True) -> dict[str, Any]:
        done, completed, failed, total = self._progress(batch_id, poll)
        succeeded = completed - failed if done else completed
        return {
            "id": batch_id,
            "type": "message_batch",
            "created_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-02T00:00:00Z",
            "archived_at": None,
            "cancel_initiated_at": None,
            "ended_at": "2026-01-01T00:01:00Z" if done else None,
            "processing_status": "ended" if done else "in_progress",
            "request_counts": {
                "processing": total - completed,
                "succeeded": succeeded,
                "errored": failed if done else 0,
                "canceled": 0,
                "expired": 0,
            },
            "results_url": f"{self.anthropic_url}/v1/messages/batches/{batch_id}/results"
            if done
            else None,
        }

    def anthropic_results(self, batch_id: str) -> bytes:
        results = self._batches[batch_id]["results"]
        return "".join(json.dumps(r) + "\n" for r in results).encode()

    # ------------------------------------------------------------------ both

    def _new_batch(self, vendor: str, total: int, failed: int) -> str:
        with self._lock:
            self.batches_created += 1
            self.batched_requests += total
            prefix = "batch" if vendor == "openai" else "msgbatch"
            batch_id = f"{prefix}_{next(self._ids)}"
            self._batches[batch_id] = {"total": total, "failed": failed}
            self.polls[batch_id] = 0
        return batch_id

    def _progress(self, batch_id: str, poll: bool) -> tuple[bool, int, int, int]:
        """(done, completed, failed, total) after this status check."""
        with self._lock:
            if poll:
                self.polls[batch_id] += 1
            seen = self.polls[batch_id]
        batch = self._batches[batch_id]
        total, failed = batch["total"], batch["failed"]
        done = seen >= self.polls_until_done
        if done:
            return True, total, failed, total
        return False, total * seen // self.polls_until_done, 0, total


def _handler(fake: BatchFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            path = self.path.split("?")[0]
            if path == "/v1/files":
                self._json(fake.upload(_multipart_file(self.headers["Content-Type"], raw)))
                return
            body = json.loads(raw)
            if path == "/v1/batches":
                self._json(fake.create_openai(body))
            elif path == "/v1/messages/batches":
                self._json(fake.create_anthropic(body))
            elif path == "/v1/chat/completions":
                fake.sync_requests += 1
                self._json(fake.openai_completion(body))
            elif path == "/v1/messages":
                fake.sync_requests += 1
                self._json(fake.anthropic_message(body))
            else:
                self._json({"error": {"message": f"no route {path}"}}, 404)

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[:2] == ["v1", "batches"]:
                self._json(fake.openai_batch(parts[2]))
            elif parts[:2] == ["v1", "files"] and parts[-1] == "content":
                self._send(fake._files[parts[2]], "application/octet-stream")
            elif parts[:3] == ["v1", "messages", "batches"] and parts[-1] == "results":
                self._send(fake.anthropic_results(parts[3]), "application/binary")
            elif parts[:3] == ["v1", "messages", "batches"]:
                self._json(fake.anthropic_batch(parts[3]))
            else:
                self._json({"error": {"message": f"no route {self.path}"}}, 404)

        def _json(self, data: object, code: int = 200) -> None:
            self._send(json.dumps(data).encode(), "application/json", code)

        def _send(self, raw: bytes, kind: str, code: int = 200) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _multipart_file(content_type: str, raw: bytes) -> bytes:
    """The `file` part of a multipart/form-data upload."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser().parsebytes(head + raw)
    for part in message.walk():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    return b""
