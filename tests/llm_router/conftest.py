"""Fixtures of the llm_router tests: an HTTP-level fake of the OpenAI chat API, for paid-API
behaviour a local server lacks (the real llama.cpp server, `llama_server_url`, is in
tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import httpx2
import pytest

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "served-model",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": " Hello there. "},
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 8},
    },
}


def chunk(content: str | None = None, finish: str | None = None, usage: object = None) -> str:
    """One `data:` line of an OpenAI chat stream."""
    choices = (
        []
        if content is None and finish is None
        else [
            {"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}
        ]
    )
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "served-model",
        "choices": choices,
        "usage": usage,
    }
    return f"data: {json.dumps(body)}\n\n"


class OpenAIFake:
    """The OpenAI chat API as an `httpx2.MockTransport` handler: records every request and
    answers with `reply()` (a canned completion unless a test sets another; a fresh response
    each time, since a body can be read once)."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.reply: Callable[[], httpx2.Response] = lambda: httpx2.Response(200, json=COMPLETION)
        self.models = ["served-model", "my-lora-adapter"]

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self.handle))

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if request.method == "GET" and request.url.path.endswith("/models"):
            data = [
                {"id": m, "object": "model", "created": 1, "owned_by": "x"} for m in self.models
            ]
            return httpx2.Response(200, json={"object": "list", "data": data})
        return self.reply()

    def answer(
        self, status: int, body: object = None, headers: Mapping[str, str] | None = None
    ) -> None:
        self.reply = lambda: httpx2.Response(status, json=body, headers=headers)

    def stream(self, *lines: str) -> None:
        events = "".join(lines) + "data: [DONE]\n\n"
        self.reply = lambda: httpx2.Response(
            200, content=events.encode(), headers={"content-type": "text/event-stream"}
        )

    def body(self, index: int = -1) -> dict[str, object]:
        sent: dict[str, object] = json.loads(self.requests[index].content)
        return sent


@pytest.fixture
def openai_fake() -> OpenAIFake:
    return OpenAIFake()
