"""`RaglineRetriever`: ragline's search (hybrid, filters, rerank) as a LangChain retriever.

retriever = RaglineRetriever(collection="docs", k=5)     # settings as the CLI finds them
docs = retriever.invoke("How are point ids computed?")
docs[0].metadata["source_document"], docs[0].metadata["score"]
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

import ragline
from ragline.integrations.langchain._pipeline import (
    FilterArg,
    PipelineHolder,
    filter_list,
    to_document,
)

Mode = Literal["dense", "sparse", "hybrid"]
_PER_CALL = frozenset({"k", "filters", "mode"})


class RaglineRetriever(BaseRetriever):
    """A LangChain `BaseRetriever` over a ragline collection; ranks as `ragline search` does.

        RaglineRetriever(collection="docs", k=5, filters=["page_number>=2"], mode="hybrid")
        RaglineRetriever(settings=ragline.load_settings("serve.yaml"))
        RaglineRetriever(pipeline=pipeline)                   # share a loaded ragline.Pipeline
        retriever.invoke("yeast", k=3)                        # k, filters, mode per call too
        await retriever.ainvoke("yeast")

    Each `Document` holds a chunk: its text, ragline's payload as metadata (source_document,
    source_path, chunk_index, page_number, section_heading, date_created, the ingest's own
    fields), `chunk_id` and the ranking `score`; `Document.id` is its `source_document`.
    `settings` None loads them as the CLI does (configs/default.yaml, $RAGLINE_CONFIG,
    RAGLINE_* env), so a script in the folder where `ragline ingest` ran finds its collections.
    The ragline pipeline (embedder, store, reranker) is built on the first query and reused;
    `close()` releases it; `pipeline=` shares one (one model load, one open store) among
    several LangChain objects, and is left open for its owner to close. A collection that was
    never ingested raises `ragline.CollectionNotFound`, whose message says how to ingest it.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    collection: str | None = Field(None, description="None: store.collection of the settings")
    k: int | None = Field(None, gt=0, description="results; None: retrieval.top_k")
    filters: list[str] = Field(
        default_factory=list, description='ragline filter expressions, e.g. "page_number>=2"'
    )
    mode: Mode | None = Field(None, description="None: retrieval.mode of the settings")
    per_document: int | None = Field(
        None, ge=0, description="most chunks of one document, 0: no cap; None: the settings'"
    )
    rerank: bool = Field(True, description="rerank when rerank.model is set")
    settings: ragline.Settings | None = Field(None, exclude=True)
    pipeline: ragline.Pipeline | None = Field(
        None, exclude=True, description="a pipeline to share (one model load); None: its own"
    )

    _holder: PipelineHolder | None = PrivateAttr(None)

    def open(self) -> ragline.Pipeline:
        """The ragline pipeline this retriever searches with (built on first use)."""
        if self._holder is None:
            self._holder = PipelineHolder(self.settings, self.pipeline)
        return self._holder.get()

    def close(self) -> None:
        """Close the store and models; the next query opens them again."""
        if self._holder is not None:
            self._holder.close()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return self._search(query, kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # ragline's search is synchronous (model and engine in-process): off the event loop
        return await asyncio.to_thread(self._search, query, kwargs)

    def _search(self, query: str, kwargs: dict[str, Any]) -> list[Document]:
        unknown = set(kwargs) - _PER_CALL
        if unknown:
            raise TypeError(
                f"RaglineRetriever takes {', '.join(sorted(_PER_CALL))} per call, not "
                f"{', '.join(sorted(unknown))}"
            )
        filters: FilterArg = kwargs.get("filters", self.filters)
        pipeline = self.open()
        assert self._holder is not None
        with self._holder.lock:
            hits = pipeline.search(
                query,
                k=kwargs.get("k", self.k),
                mode=kwargs.get("mode", self.mode),
                filters=filter_list(filters),
                collection=self.collection,
                per_document=self.per_document,
                rerank=self.rerank,
            )
        return [to_document(hit) for hit in hits]
