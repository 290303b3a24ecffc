"""The `rag` and `rag:<collection>` chat models: a conversation answered from a collection.

    POST /v1/chat/completions {"model": "rag:docs", "messages": [...]}
    -> choices[0].message.content "Point ids are ... [Source: ids.md]", "citations": [...]

The last user message is condensed with the conversation into a standalone question (by the
configured LLM when there is one, else offline: `services.condense`), retrieved for and
answered with verified citations through the configured answerer, or abstained on ("I don't
have enough information"), as POST /v1/query. The citations are both in the text
(`[Source: …]`) and in the `citations` field (document, chunk id, page, section, score), which
OpenAI clients ignore. A stream sends the verified answer in pieces once it is ready (an
answer's citations are checked before any of it is shown) and the citations in its last chunk.
`X-Ragline-Question` carries the standalone question retrieval used (percent-encoded UTF-8).
A collection the key may not read is a 404, as a missing one (`ragline.serving.api.tenancy`).
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ragline.core.chat import Completion
from ragline.core.costs import cost_scope
from ragline.rag.answer import Answer
from ragline.serving.api.context import caller, request_id, tenant
from ragline.serving.api.openai_convert import completion_body, wants_usage
from ragline.serving.api.openai_schemas import ChatCompletionRequest, CitationField
from ragline.serving.api.routes.chat_memory import Memory
from ragline.serving.api.routes.chat_stream import structured_stream
from ragline.serving.api.schemas import CONTROL_ARM, error_response, usd_header
from ragline.serving.api.services import CollectionMissing, Services
from ragline.serving.api.streaming import StreamIds
from ragline.serving.api.tenancy.access import check_read
from ragline.serving.api.tenancy.grants import Denied
from ragline.serving.services.chat_qa import answer_conversation, condenser_for
from ragline.serving.services.query import BoundRouter

QUESTION_HEADER = "X-Ragline-Question"


def rag_reply(
    body: ChatCompletionRequest,
    memory: Memory,
    collection: str,
    request: Request,
    services: Services,
    arm: str | None,
) -> Response:
    """Answer the conversation `messages` from `collection` (see the module docstring)."""
    rid = request_id(request) or uuid.uuid4().hex
    who = caller(request)
    pipeline = services.pipeline(arm)
    try:
        check_read(tenant(request), services, collection)
    except Denied as exc:
        return error_response(exc.status, str(exc), code=exc.code, param="model", request_id=rid)
    outcome = services.outcome(arm)  # records the request once, however it ends
    with outcome, cost_scope(rid, key=who) as scope:
        try:
            retriever = pipeline.retriever(collection)
        except CollectionMissing as exc:
            return error_response(
                404, str(exc), code="model_not_found", param="model", request_id=rid
            )
        model = BoundRouter(pipeline.router, key=who, request_id=rid)
        try:
            asked = answer_conversation(
                memory.prompt,
                retriever,
                model,
                pipeline.settings.answer,
                pipeline.reranker,
                condenser=model if condenser_for(pipeline.router) else None,
            )
        except ValueError as exc:  # no user message to answer
            return error_response(400, str(exc), code="invalid_value", param="messages")
    result = asked.answer
    memory.keep(result.text)
    done = _completion(result, f"rag:{collection}")
    citations = [CitationField.model_validate(c, from_attributes=True) for c in result.citations]
    headers = {
        "X-Ragline-Arm": arm or CONTROL_ARM,
        QUESTION_HEADER: quote(asked.question, safe=" ?,.:;!'()-"),
    } | memory.headers()
    ids = StreamIds(f"chatcmpl-{rid}", int(time.time()), wants_usage(body))
    if body.stream:
        return structured_stream(done, ids, outcome, rid, headers, citations)
    headers["X-Ragline-Cost-USD"] = usd_header(float(scope.total_usd()))
    headers["X-Ragline-Cache"] = result.cache or "miss"
    out = completion_body((ids.id, ids.created), [done], memory.conversation, citations)
    return JSONResponse(out.model_dump(mode="json", exclude=out.unset_extras()), headers=headers)


def _completion(result: Answer, model: str) -> Completion:
    return Completion(
        text=result.text,
        model=model,
        usage=result.usage,
        latency_ms=result.latency_ms,
        cost_usd=result.cost_usd,
    )
