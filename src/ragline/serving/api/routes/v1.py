"""The /v1 API: one router that `ragline.serving.api.app.create_app` mounts behind auth and limits.

    app.include_router(v1.router, dependencies=[...])

    POST /v1/chat/completions   OpenAI-compatible chat, tools, rag models  routes.chat
    POST /v1/completions        OpenAI's legacy text completions           routes.completions
    GET  /v1/models             the model names a request may use           routes.chat
    GET  /v1/models/{id}        one of them (404 model_not_found if not)    routes.chat
    POST /v1/embeddings         the configured embedder, OpenAI's shape     routes.embeddings
    POST /v1/query              grounded answer with citations and cost    routes.rag
    POST /v1/search             ranked chunks                              routes.rag
    POST /v1/ingest             start an ingest job (202)                  routes.ingest
    GET  /v1/ingest/{job_id}    a job's status and counts                  routes.ingest
    POST /v1/predict/{model}    the registry's production classical model  routes.predict
    GET  /v1/conversations/{id} the caller's server-side conversation      routes.conversations
    DELETE /v1/conversations/{id}   delete it (204; 404 if none)           routes.conversations

Routes are plain `def` functions: FastAPI runs them in its threadpool, so model calls and
retrieval never block the event loop. They read `Services` through `ServicesDep`.
"""

from __future__ import annotations

from fastapi import APIRouter

from ragline.serving.api.routes import (
    chat,
    completions,
    conversations,
    embeddings,
    ingest,
    predict,
    rag,
)

router = APIRouter(prefix="/v1")
for _part in (chat, completions, embeddings, rag, ingest, predict, conversations):
    router.include_router(_part.router)
