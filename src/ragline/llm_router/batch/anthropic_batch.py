"""The Anthropic Message Batches client: Messages API requests in one call, results as JSONL,
at half the list price.

    vendor = AnthropicBatches(AnthropicChatModel(AnthropicConfig(), "claude-haiku-4-5"))
    batch_id = vendor.submit([("r-0", vendor.body(request))])
        # POST /v1/messages/batches {requests: [{custom_id, params}]}
    vendor.status(batch_id)        # GET /v1/messages/batches/{id} until processing_status ended
    vendor.results(batch_id, {"r-0": request})     # GET its results_url (JSONL)

Through the provider's own SDK client (URL, key, timeout); each `params` is the body the
provider's synchronous `messages.create` sends (system prompt, prompt-cache breakpoints, tools),
and each succeeded message is read as the synchronous reply is (text, usage with cache reads
and writes, stop reason, tool calls).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import cast

from anthropic.types import Message as AnthropicMessage
from anthropic.types.messages.batch_create_params import Request

from ragline.core.chat import ChatRequest, Completion
from ragline.llm_router.batch.vendors import BatchStatus, Body, Replies
from ragline.llm_router.providers.anthropic_chat import (
    AnthropicChatModel,
    _params,
    _translate_errors,
    completion_of,
)


class AnthropicBatches:
    """`VendorBatches` for an `anthropic` deployment.

    vendor = AnthropicBatches(model)      # model: the router's resolved AnthropicChatModel
    """

    def __init__(self, model: AnthropicChatModel) -> None:
        self._model = model
        # the provider's client, config and endpoint: one definition of URL, key and timeout
        self._client = model._client
        self._config = model._config
        self._endpoint = model._endpoint

    @property
    def name(self) -> str:
        return self._model.name

    def body(self, request: ChatRequest) -> Body:
        asked = request.with_default_temperature(self._config.temperature)
        model = asked.model or self._model.model
        params = dict(_params(asked, model, self._config.prompt_cache))
        extra = params.pop("extra_body", None)  # the SDK merges these into the body
        if isinstance(extra, Mapping):
            params.update(extra)
        loaded: Body = json.loads(json.dumps(params))
        return loaded

    def submit(self, items: Sequence[tuple[str, Body]]) -> str:
        # the bodies are the provider's own params, JSON-normalised: the SDK's TypedDict
        requests = [cast(Request, {"custom_id": cid, "params": body}) for cid, body in items]
        with _translate_errors(self._endpoint):
            batch = self._client.messages.batches.create(requests=requests)
        return batch.id

    def status(self, batch_id: str) -> BatchStatus:
        with _translate_errors(self._endpoint):
            batch = self._client.messages.batches.retrieve(batch_id)
        counts = batch.request_counts
        failed = counts.errored + counts.canceled + counts.expired
        total = counts.processing + counts.succeeded + failed
        done = batch.processing_status == "ended"
        return BatchStatus(batch_id, batch.processing_status, total, counts.succeeded, failed, done)

    def results(self, batch_id: str, requests: Mapping[str, ChatRequest]) -> Replies:
        replies: Replies = {}
        with _translate_errors(self._endpoint):
            for entry in self._client.messages.batches.results(batch_id):
                result = entry.result
                request = requests.get(entry.custom_id)
                if result.type == "succeeded" and request is not None:
                    replies[entry.custom_id] = self._completion(result.message, request)
                elif result.type == "errored":
                    error = result.error.error
                    replies[entry.custom_id] = f"{error.type}: {error.message}"
                else:
                    replies[entry.custom_id] = f"the item was {result.type}"
        return replies

    def _completion(self, message: AnthropicMessage, request: ChatRequest) -> Completion:
        """The message as `AnthropicChatModel.complete` reads a synchronous one."""
        return completion_of(message, request, request.model or self._model.model, 0.0)
