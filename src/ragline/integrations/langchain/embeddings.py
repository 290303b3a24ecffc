"""`RaglineEmbeddings`: ragline's configured dense embedder as LangChain `Embeddings`.

embeddings = RaglineEmbeddings()                  # embedding.model of the settings
embeddings.embed_query("yeast")                   # kind="query" (its prefix, its model)
embeddings.embed_documents(["Bread rises."])      # kind="document"
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from langchain_core.embeddings import Embeddings

import ragline
from ragline.integrations.langchain._pipeline import PipelineHolder


class RaglineEmbeddings(Embeddings):
    """The embedder ragline ingests and searches with (packaged all-MiniLM-L6-v2 by default),
    metered like every ragline call: each batch is a cost event in the ledger.

        RaglineEmbeddings()                                   # settings as the CLI finds them
        RaglineEmbeddings(ragline.load_settings("team.yaml"))   # another settings file
        len(RaglineEmbeddings().embed_query("hi"))            # 384: RaglineEmbeddings().dims

    Queries and documents are embedded as ragline embeds them (`kind="query"` / "document"),
    so vectors match those of the collections `ragline ingest` writes. The model loads on
    the first call; `close()` releases it. `pipeline=` shares a loaded `ragline.Pipeline`.
    """

    def __init__(
        self, settings: ragline.Settings | None = None, *, pipeline: ragline.Pipeline | None = None
    ) -> None:
        self._holder = PipelineHolder(settings, pipeline)

    @property
    def settings(self) -> ragline.Settings:
        return self._holder.get().settings

    @property
    def dims(self) -> int:
        """Length of every vector (loads the model)."""
        dims: int = self._holder.get().embedder.dims
        return dims

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts, "document")

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text], "query")[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._embed, texts, "document")

    async def aembed_query(self, text: str) -> list[float]:
        vectors = await asyncio.to_thread(self._embed, [text], "query")
        return vectors[0]

    def close(self) -> None:
        self._holder.close()

    def _embed(self, texts: Sequence[str], kind: str) -> list[list[float]]:
        if not texts:
            return []
        with self._holder.lock:
            matrix = self._holder.get().embedder.embed(list(texts), kind=kind)
        rows: list[list[float]] = matrix.astype(float).tolist()
        return rows
