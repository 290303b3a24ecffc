"""The root of every error ragline raises on purpose; each package roots its own tree here.

RaglineError
 ├── ragline.rag.errors.RagError            ingest, embedding, store, rerank
 ├── ragline.llm_router.errors.ProviderError  a chat model could not produce a completion
 ├── ragline.mltrack.errors.MltrackError    tracking, data, gates, ledger, request log
 └── ragline.serving.errors.ServingError    settings (ConfigError) and the doors

`except RaglineError` catches what ragline meant to raise and lets bugs through. Every
message says what to change to fix the problem.
"""

from __future__ import annotations


class RaglineError(Exception):
    """Something ragline checked and refused, with a message that says how to fix it."""
