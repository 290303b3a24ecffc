"""`RaglineQueryEngine`: a LlamaIndex query engine that answers with ragline's verified
citations (`Pipeline.ask`: retrieve, rerank, answer, check every [Source: ...] it cites).

    from ragline.integrations.llama_index import RaglineQueryEngine

    engine = RaglineQueryEngine(collection="docs")
    response = engine.query("How are point ids computed?")
    str(response)                       # "Point ids are content hashes. [Source: ids.md]"
    response.source_nodes[0].node.metadata["source_document"]   # the context it was given
    response.metadata["citations"]      # [{"document": "ids.md", "chunk_id": ..., ...}]
    response.metadata["cost_usd"], response.metadata["request_id"]

To compose LlamaIndex's own synthesis instead, build
`RetrieverQueryEngine.from_args(RaglineRetriever(...), llm=RaglineLLM(...))`: it answers, but
its citations are LlamaIndex's (unchecked) rather than ragline's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from pydantic import Field, PrivateAttr

from ragline.integrations.llama_index.source import PipelineSource, to_node

if TYPE_CHECKING:
    from ragline import Pipeline, Result, Settings


class RaglineQueryEngine(CustomQueryEngine):
    """Answers from a ragline collection as `ragline ask` does: grounded text with
    [Source: ...] citations, or "I don't have enough information" when retrieval finds nothing
    relevant. `source_nodes` are the chunks the answer was given; `metadata` holds the
    verified citations, `abstained`, the model, `cost_usd`, `latency_ms` and `request_id`.

        RaglineQueryEngine(collection="docs", k=4, filters=["source_document=guide.md"])
        RaglineQueryEngine(collection="docs", pipeline=pipeline)    # share a loaded pipeline
    """

    collection: str | None = Field(None, description="None: store.collection")
    k: int | None = Field(None, gt=0, description="chunks given to the answer; None: answer.*")
    filters: tuple[str, ...] = Field((), description="the CLI's --filter forms, ANDed")
    _source: PipelineSource = PrivateAttr()

    def __init__(
        self, settings: Settings | None = None, *, pipeline: Pipeline | None = None, **fields: Any
    ) -> None:
        if isinstance(fields.get("filters"), str):
            raise TypeError(f"filters is a list of filters; write filters=[{fields['filters']!r}]")
        super().__init__(**fields)
        self._source = PipelineSource(settings, pipeline)

    @property
    def pipeline(self) -> Pipeline:
        """The ragline pipeline that answers."""
        return self._source.get()

    def custom_query(self, query_str: str) -> Response:
        result = self.pipeline.ask(
            query_str, collection=self.collection, filters=self.filters, k=self.k
        )
        return to_response(result)

    async def acustom_query(self, query_str: str) -> Response:
        return await asyncio.to_thread(self.custom_query, query_str)  # off the event loop

    def close(self) -> None:
        """Close the pipeline this engine made."""
        self._source.close()


def to_response(result: Result) -> Response:
    """A ragline answer as a LlamaIndex `Response` (see `RaglineQueryEngine`)."""
    metadata: dict[str, Any] = {
        "citations": [dataclasses.asdict(citation) for citation in result.citations],
        "abstained": result.abstained,
        "model": result.answer.model,
        "cost_usd": result.cost_usd,
        "latency_ms": result.latency_ms,
        "request_id": result.request_id,
    }
    nodes = [to_node(hit) for hit in result.hits]
    return Response(response=result.text, source_nodes=nodes, metadata=metadata)
