"""The OpenAI Batch API client: a JSONL file of chat-completions requests in, one reply per
line out, at half the list price.

    vendor = OpenAIBatches(OpenAIChatModel(OpenAIConfig(), "gpt-4o-mini"))
    batch_id = vendor.submit([("r-0", vendor.body(request))])
        # POST /v1/files (purpose=batch), then POST /v1/batches {input_file_id, endpoint,
        # completion_window: "24h"}
    vendor.status(batch_id)           # GET /v1/batches/{id}: completed/failed counts
    vendor.results(batch_id, {"r-0": request})   # GET /v1/files/{output|error}/content

It speaks through the provider's own SDK client (same URL, key and timeout as synchronous
calls), sends the body the provider's `OpenAIWire` builds for `chat.completions.create`, and
parses each reply with the same functions the synchronous path uses (usage, finish reason,
tool calls, log-probabilities).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Final

from openai.types.chat import ChatCompletion

from ragline.core.chat import ChatRequest, Completion, unhonoured
from ragline.llm_router.batch.vendors import BatchStatus, Body, Replies
from ragline.llm_router.providers.openai_chat import OpenAIChatModel
from ragline.llm_router.providers.openai_tools import tool_calls_of
from ragline.llm_router.providers.openai_wire import (
    HONOURS,
    confidence_of,
    finish_of,
    token_logprobs,
    translate_errors,
    usage_of,
)

ENDPOINT: Final = "/v1/chat/completions"
FINAL_STATES = frozenset({"completed", "failed", "expired", "cancelled"})


class OpenAIBatches:
    """`VendorBatches` for an `openai` deployment (api.openai.com or a compatible server that
    implements /v1/files and /v1/batches).

    vendor = OpenAIBatches(model)      # model: the router's resolved OpenAIChatModel
    """

    def __init__(self, model: OpenAIChatModel) -> None:
        self._model = model
        # the provider's wire: its SDK client, endpoint and request mapping (one definition)
        self._wire = model._wire

    @property
    def name(self) -> str:
        return self._model.name

    def body(self, request: ChatRequest) -> Body:
        asked = request.with_default_temperature(self._model._temperature)
        params = dict(self._wire._params(asked, asked.model or self._model.model))
        extra = params.pop("extra_body", None)  # the SDK merges these into the body
        if isinstance(extra, Mapping):
            params.update(extra)
        loaded: Body = json.loads(json.dumps(params))
        return loaded

    def submit(self, items: Sequence[tuple[str, Body]]) -> str:
        lines = (
            json.dumps({"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": body})
            for cid, body in items
        )
        data = ("\n".join(lines) + "\n").encode()
        client = self._wire.client
        with translate_errors(self._wire.endpoint):
            uploaded = client.files.create(file=("batch.jsonl", data), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h"
            )
        return batch.id

    def status(self, batch_id: str) -> BatchStatus:
        with translate_errors(self._wire.endpoint):
            batch = self._wire.client.batches.retrieve(batch_id)
        counts = batch.request_counts
        total, done, failed = (
            (counts.total, counts.completed, counts.failed) if counts is not None else (0, 0, 0)
        )
        final = batch.status in FINAL_STATES
        return BatchStatus(batch_id, batch.status, total, done, failed, final)

    def results(self, batch_id: str, requests: Mapping[str, ChatRequest]) -> Replies:
        client = self._wire.client
        with translate_errors(self._wire.endpoint):
            batch = client.batches.retrieve(batch_id)
            texts = [
                client.files.content(file_id).text
                for file_id in (batch.output_file_id, batch.error_file_id)
                if file_id
            ]
        replies: Replies = {}
        for text in texts:
            for line in text.splitlines():
                if line.strip():
                    cid, reply = self._reply(json.loads(line), requests)
                    replies[cid] = reply
        if batch.status != "completed" and batch.errors is not None:
            why = "; ".join(e.message or e.code or "?" for e in batch.errors.data or [])
            for cid in requests:
                replies.setdefault(cid, f"batch {batch.status}: {why}")
        return replies

    def _reply(
        self, record: dict[str, object], requests: Mapping[str, ChatRequest]
    ) -> tuple[str, Completion | str]:
        cid = str(record.get("custom_id"))
        response = record.get("response")
        if isinstance(response, dict) and response.get("status_code") == 200:
            request = requests.get(cid)
            if request is None:
                return cid, "a reply for a request this batch did not send"
            parsed = ChatCompletion.model_validate(response.get("body"))
            return cid, self._completion(parsed, request)
        return cid, _error_text(record)

    def _completion(self, response: ChatCompletion, request: ChatRequest) -> Completion:
        """The reply as `OpenAIWire.complete` reads a synchronous one (latency: not a wait
        anyone had, so 0)."""
        if not response.choices:
            return Completion("", self._named(request), usage_of(response.usage, request, ""), 0)
        choice = response.choices[0]
        text = (choice.message.content or "").strip()
        calls = tool_calls_of(choice.message.tool_calls)
        return Completion(
            text=text,
            model=self._named(request),
            usage=usage_of(response.usage, request, text),
            latency_ms=0.0,
            finish_reason="tool_calls" if calls else finish_of(choice.finish_reason),
            confidence=confidence_of(choice.logprobs),
            logprobs=token_logprobs(choice.logprobs) if request.logprobs else (),
            tool_calls=calls,
            dropped=unhonoured(request, HONOURS),
        )

    def _named(self, request: ChatRequest) -> str:
        return f"{self._wire.endpoint.provider}:{request.model or self._model.model}"


def _error_text(record: dict[str, object]) -> str:
    """What a failed line says: its `error`, or the error body of its non-200 response."""
    error = record.get("error")
    if isinstance(error, dict):
        return f"{error.get('code', 'error')}: {error.get('message', '')}"
    response = record.get("response")
    if isinstance(response, dict):
        body = response.get("body")
        inner = body.get("error") if isinstance(body, dict) else None
        message = inner.get("message") if isinstance(inner, dict) else body
        return f"HTTP {response.get('status_code')}: {message}"
    return "the batch returned no reply for this request"
