"""POST /v1/query (a grounded answer with citations, usage and cost) and POST /v1/search.

    POST /v1/query  {"question": "Why does dough rise?", "filters": ["page_number>=2"], "k": 5}
    -> {"answer": "... [Source: baking.txt]", "abstained": false, "citations": [...],
        "model": "extractive:bm25", "usage": {...}, "cost_usd": 0.0, "latency_ms": 3.1,
        "arm": "control"}
    POST /v1/search {"query": "yeast", "mode": "sparse", "k": 3} -> {"results": [...]}

Both run under a cost scope of the request id: `cost_usd` (and `X-Ragline-Cost-USD`) is the
sum of the request's ledger events (model calls, query embedding, vector-DB queries), the same
total `ragline costs breakdown <X-Request-ID>` shows. Query is
`ragline.serving.services.query.ask` (as `ragline ask`): hits scored by dense cosine so
`answer.min_relevance` can abstain. Search is `ragline.rag.search.search` (as `ragline
search`), reranked when `rerank.model` is set. A collection that does not exist is a 404, and
so is one the key may not read (`ragline.serving.api.tenancy`; a key without the "read" scope
gets 403); the work runs in the threadpool (plain `def` routes).
"""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ragline.core.costs import cost_scope
from ragline.core.index import Hit
from ragline.rag.search import search as search_chunks
from ragline.serving.api.context import caller, request_id, tenant
from ragline.serving.api.schemas import (
    CONTROL_ARM,
    CitationOut,
    QueryRequest,
    QueryResponse,
    QueryUsage,
    SearchHit,
    SearchRequest,
    SearchResponse,
    error_docs,
    error_response,
    usd_header,
)
from ragline.serving.api.services import CollectionMissing, ServicesDep
from ragline.serving.api.tenancy.access import check_read, denied_response
from ragline.serving.api.tenancy.grants import Denied
from ragline.serving.services.query import BoundRouter, ask

router = APIRouter(tags=["rag"])
_HIT_FIELDS = ("source_document", "page_number", "section_heading", "text")


@router.post(
    "/query", response_model=QueryResponse, responses=error_docs(400, 402, 404, 422, 429, 503)
)
def query(body: QueryRequest, request: Request, services: ServicesDep) -> Response:
    """Retrieve, answer with verified citations, report usage and cost."""
    rid = request_id(request) or uuid.uuid4().hex
    who = caller(request)
    arm = services.arm_for(who, body.user)
    pipeline = services.pipeline(arm)
    try:
        check_read(tenant(request), services, body.collection or pipeline.settings.store.collection)
    except Denied as exc:
        return denied_response(exc, rid)
    started = time.perf_counter()
    with services.outcome(arm), cost_scope(rid, key=who) as scope:
        try:
            retriever = pipeline.retriever(body.collection)
        except CollectionMissing as exc:
            return _missing(exc, rid)
        model = BoundRouter(pipeline.router, key=who, request_id=rid)
        asked = ask(
            body.question,
            retriever,
            model,
            pipeline.settings.answer,
            body.filter(),
            body.k,
            pipeline.reranker,
        )
    result, cost = asked.answer, scope.total_usd()
    label = arm or CONTROL_ARM
    out = QueryResponse(
        answer=result.text,
        abstained=result.abstained,
        citations=[CitationOut.model_validate(c, from_attributes=True) for c in result.citations],
        model=result.model,
        usage=QueryUsage(tokens_in=result.usage.tokens_in, tokens_out=result.usage.tokens_out),
        cost_usd=float(cost),
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
        arm=label,
        prompt=result.prompt,
        warnings=list(result.warnings),
    )
    headers = {"X-Ragline-Arm": label, "X-Ragline-Cost-USD": usd_header(float(cost))}
    if result.cache is not None:
        headers["X-Ragline-Cache"] = result.cache
    return JSONResponse(out.model_dump(mode="json"), headers=headers)


@router.post(
    "/search", response_model=SearchResponse, responses=error_docs(400, 403, 404, 422, 429, 503)
)
def search(body: SearchRequest, request: Request, services: ServicesDep) -> Response:
    """Ranked chunks with their sources and text."""
    rid = request_id(request) or uuid.uuid4().hex
    who = caller(request)
    arm = services.arm_for(who, body.user)
    pipeline = services.pipeline(arm)
    try:
        check_read(tenant(request), services, body.collection or pipeline.settings.store.collection)
    except Denied as exc:
        return denied_response(exc, rid)
    with services.outcome(arm), cost_scope(rid, key=who) as scope:
        try:
            retriever = pipeline.retriever(body.collection, body.mode)
        except CollectionMissing as exc:
            return _missing(exc, rid)
        k = body.k or retriever.config.top_k
        reranker, where, cap = pipeline.reranker, body.filter(), body.per_document
        [found] = search_chunks(retriever, reranker, [("1", body.query)], where, k, cap)
    out = SearchResponse(
        collection=retriever.store.collection,
        mode=retriever.config.mode,
        results=[search_hit(hit) for hit in found.hits],
    )
    headers = {
        "X-Ragline-Arm": arm or CONTROL_ARM,
        "X-Ragline-Cost-USD": usd_header(float(scope.total_usd())),
    }
    return JSONResponse(out.model_dump(mode="json"), headers=headers)


def search_hit(hit: Hit) -> SearchHit:
    """A hit on the wire: the known payload fields, the rest as metadata."""
    payload = hit.payload
    page = payload.get("page_number")
    document, section = payload.get("source_document"), payload.get("section_heading")
    return SearchHit(
        chunk_id=hit.id,
        score=hit.score,
        source_document=document if isinstance(document, str) else None,
        page_number=page if isinstance(page, int) and not isinstance(page, bool) else None,
        section_heading=section if isinstance(section, str) else None,
        text=str(payload.get("text") or ""),
        metadata={k: v for k, v in payload.items() if k not in _HIT_FIELDS},
    )


def _missing(exc: CollectionMissing, rid: str) -> JSONResponse:
    return error_response(
        404, str(exc), code="collection_not_found", param="collection", request_id=rid
    )
