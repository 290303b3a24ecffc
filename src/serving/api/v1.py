"""The /v1 API: one router that `serving.api.app.create_app` mounts behind auth and limits.

    app.include_router(v1.router, dependencies=[...])

    POST /v1/chat/completions   OpenAI-compatible chat, streaming         routes_chat
    GET  /v1/models             the model names a chat request may use    routes_chat
    POST /v1/query              grounded answer with citations and cost   routes_rag
    POST /v1/search             ranked chunks                             routes_rag
    POST /v1/ingest             start an ingest job (202)                 routes_ingest
    GET  /v1/ingest/{job_id}    a job's status and counts                 routes_ingest
    POST /v1/predict/{model}    classical models (501 until mltrack)      routes_predict

Routes are plain `def` functions: FastAPI runs them in its threadpool, so model calls and
retrieval never block the event loop. They read `Services` through `ServicesDep`.
"""

from __future__ import annotations

from fastapi import APIRouter

from serving.api import routes_chat, routes_ingest, routes_predict, routes_rag

router = APIRouter(prefix="/v1")
for _part in (routes_chat, routes_rag, routes_ingest, routes_predict):
    router.include_router(_part.router)
