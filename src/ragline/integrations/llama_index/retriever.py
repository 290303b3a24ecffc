"""`RaglineRetriever`: a LlamaIndex retriever over a ragline collection.

    from ragline.integrations.llama_index import RaglineRetriever

    retriever = RaglineRetriever(collection="docs", k=5)   # in the folder where ragline ingest ran
    for found in retriever.retrieve("How are point ids computed?"):
        found.score, found.node.metadata["source_document"], found.node.get_content()

It ranks as `ragline search QUERY --collection docs --k 5` does (hybrid by default, one chunk
per document unless `per_document` says otherwise, reranked when rerank.model is set).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from ragline.integrations.llama_index.source import Mode, PipelineSource, to_node

if TYPE_CHECKING:
    from ragline import Pipeline, Settings


class RaglineRetriever(BaseRetriever):
    """Retrieve `NodeWithScore`s (text, chunk id, ragline's payload as metadata) from a ragline
    collection; `filters` take the CLI's --filter forms ("source_document=guide.md",
    "page_number>=2").

        RaglineRetriever(collection="docs", k=5, filters=["source_document=guide.md"])
        RaglineRetriever(collection="docs", mode="sparse", settings=ragline.load_settings("a.yaml"))
        RaglineRetriever(collection="docs", pipeline=pipeline)    # share a loaded pipeline

    `settings` default to `ragline.load_settings()`: configs/default.yaml, $RAGLINE_CONFIG and
    RAGLINE_* env, with data under ./.ragline, as the CLI finds them. Nothing loads until the
    first query. `close()` closes the pipeline it made (not one given to it).
    """

    def __init__(
        self,
        collection: str | None = None,
        k: int = 5,
        filters: Sequence[str] = (),
        mode: Mode | None = None,
        settings: Settings | None = None,
        *,
        pipeline: Pipeline | None = None,
        per_document: int | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if isinstance(filters, str):
            raise TypeError(f"filters is a list of filters; write filters=[{filters!r}]")
        super().__init__(callback_manager=callback_manager)
        self.collection = collection
        self.k = k
        self.filters = tuple(filters)
        self.mode: Mode | None = mode
        self.per_document = per_document
        self._source = PipelineSource(settings, pipeline)

    @property
    def pipeline(self) -> Pipeline:
        """The ragline pipeline this retriever searches with."""
        return self._source.get()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.pipeline.search(
            query_bundle.query_str,
            k=self.k,
            mode=self.mode,
            filters=self.filters,
            collection=self.collection,
            per_document=self.per_document,
        )
        return [to_node(hit) for hit in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # embedding and search block: run them off the event loop
        return await asyncio.to_thread(self._retrieve, query_bundle)

    def close(self) -> None:
        """Close the pipeline this retriever made (its store and ledger)."""
        self._source.close()
