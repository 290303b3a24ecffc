"""`RaglineEmbedding`: ragline's configured dense embedder as a LlamaIndex embedding model.

    from ragline.integrations.llama_index import RaglineEmbedding

    embed = RaglineEmbedding()                       # embedding.* settings (all-MiniLM-L6-v2)
    embed.get_query_embedding("why does dough rise?")        # kind="query" (query prefix, ONNX)
    embed.get_text_embedding_batch(["Yeast ferments sugars."])  # kind="document"

Vectors are the ones ragline stores and searches with, so nodes embedded here match a ragline
collection built with the same settings. Each call is metered (a cost event per batch).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

from ragline.core.costs import cost_scope
from ragline.integrations.llama_index.source import PipelineSource

if TYPE_CHECKING:
    from ragline import Pipeline, Settings


class RaglineEmbedding(BaseEmbedding):
    """LlamaIndex's `BaseEmbedding` over `Pipeline.embedder`: queries embedded as queries and
    texts as documents, as ragline's search and ingest embed them.

        RaglineEmbedding()                              # settings as the CLI finds them
        RaglineEmbedding(pipeline=pipeline)             # share a loaded model
        RaglineEmbedding().model_name                   # "all-MiniLM-L6-v2"

    The model loads on the first embedding, not here.
    """

    _source: PipelineSource = PrivateAttr()

    def __init__(
        self, settings: Settings | None = None, *, pipeline: Pipeline | None = None, **fields: Any
    ) -> None:
        source = PipelineSource(settings, pipeline)
        configured = source.settings.embedding
        fields.setdefault("model_name", configured.model)
        fields.setdefault("embed_batch_size", configured.batch_size)
        super().__init__(**fields)
        self._source = source

    @classmethod
    def class_name(cls) -> str:
        return "ragline_embedding"

    @property
    def pipeline(self) -> Pipeline:
        """The ragline pipeline whose embedder this is."""
        return self._source.get()

    def _embed(self, texts: list[str], kind: Literal["query", "document"]) -> list[Embedding]:
        with cost_scope():
            vectors = self.pipeline.embedder.embed(texts, kind=kind)
        rows: list[Embedding] = vectors.tolist()
        return rows

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query], "query")[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text], "document")[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(texts, "document")

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    def close(self) -> None:
        """Close the pipeline this embedding made."""
        self._source.close()
