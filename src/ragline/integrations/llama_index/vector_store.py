"""`RaglineVectorStore`: a ragline collection as a LlamaIndex vector store.

    from llama_index.core import StorageContext, VectorStoreIndex

    store = RaglineVectorStore(collection="docs")
    index = VectorStoreIndex.from_vector_store(store, embed_model=RaglineEmbedding())
    index.as_retriever(similarity_top_k=5).retrieve("point ids")   # ranked as ragline search
    store.add(nodes); store.delete(ref_doc_id)

Nodes go in through ragline's own ingest, not a bare upsert: the nodes of one LlamaIndex
document (`ref_doc_id`) are written as one JSON Lines file under
`<data_dir>/llama_index/<collection>/` and ingested, so they are chunked, embedded (dense and
BM25) and stored as `ragline ingest` would store them (source_document = the node id), and
`ragline search` finds them. Adding nodes to a document rewrites its file and ragline replaces
its chunks (adding the same nodes again is a no-op); `delete(ref_doc_id)` removes the file and
its points. Queries are text: ragline embeds them itself (`is_embedding_query` is False), so
LlamaIndex's embed model is not asked for them; nodes are embedded by ragline, whatever
vectors LlamaIndex attached.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.schema import BaseNode, MetadataMode, NodeRelationship, RelatedNodeInfo
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from pydantic import Field, PrivateAttr

from ragline.core.filters import Filter, Match
from ragline.integrations.llama_index.filters import to_expressions
from ragline.integrations.llama_index.source import Mode, PipelineSource, to_node

if TYPE_CHECKING:
    from ragline import Pipeline, Settings

# payload keys ragline sets on every chunk: a node's metadata may not override them
RAGLINE_KEYS = frozenset(
    {"_id", "id", "doc_id", "source_document", "source_path", "chunk_index", "date_created"}
    | {"page_number", "section_heading", "text", "ref_doc_id"}
)
_MODES: dict[VectorStoreQueryMode, Mode | None] = {
    VectorStoreQueryMode.DEFAULT: None,  # ragline's configured mode (hybrid by default)
    VectorStoreQueryMode.HYBRID: "hybrid",
    VectorStoreQueryMode.SPARSE: "sparse",
    VectorStoreQueryMode.TEXT_SEARCH: "sparse",
}


class RaglineVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store over one ragline collection (see the module docstring).

    RaglineVectorStore(collection="docs")               # settings as the CLI finds them
    RaglineVectorStore(collection="docs", pipeline=pipeline, per_document=1)
    """

    stores_text: bool = True
    is_embedding_query: bool = False
    flat_metadata: bool = True
    collection: str | None = Field(None, description="None: store.collection")
    per_document: int | None = Field(0, description="chunks of one document per result; 0: all")
    _source: PipelineSource = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self, settings: Settings | None = None, *, pipeline: Pipeline | None = None, **fields: Any
    ) -> None:
        super().__init__(**fields)
        self._source = PipelineSource(settings, pipeline)

    @classmethod
    def class_name(cls) -> str:
        return "RaglineVectorStore"

    @property
    def pipeline(self) -> Pipeline:
        return self._source.get()

    @property
    def client(self) -> Any:
        """ragline's store of the collection (`ragline.Pipeline.store`)."""
        return self.pipeline.store(self.collection)

    # -- writing ---------------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Ingest `nodes` (grouped by document); their ids, as given."""
        groups: dict[str, list[BaseNode]] = {}
        for node in nodes:
            groups.setdefault(node.ref_doc_id or node.node_id, []).append(node)
        with self._lock:
            paths = [self._write(document, group) for document, group in groups.items()]
            if paths:
                report = self.pipeline.ingest(paths, collection=self.collection)
                if report.skipped:
                    reasons = "; ".join(f"{s.path}: {s.reason}" for s in report.skipped)
                    raise ValueError(f"ragline refused the nodes: {reasons}")
        return [node.node_id for node in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Remove every chunk of the nodes of document `ref_doc_id`."""
        with self._lock:
            self._file(ref_doc_id).unlink(missing_ok=True)
            store = self.pipeline.store(self.collection)
            if store.exists():
                store.delete(Filter(must=(Match("ref_doc_id", ref_doc_id),)))

    def _file(self, document: str) -> Path:
        name = self.collection or self.pipeline.settings.store.collection
        digest = hashlib.sha256(document.encode()).hexdigest()[:24]
        return Path(self.pipeline.settings.data_dir) / "llama_index" / name / f"{digest}.jsonl"

    def _write(self, document: str, nodes: Sequence[BaseNode]) -> Path:
        """The document's file, its earlier nodes kept unless replaced by id. The same nodes
        again make the same bytes: ragline's manifest skips them (unless their points were
        deleted: its reconcile step re-ingests a file whose chunks are missing)."""
        path = self._file(document)
        records: dict[str, dict[str, Any]] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                records[str(record["_id"])] = record
        field = self.pipeline.settings.ingest.jsonl_text_field
        for node in nodes:
            metadata = {k: v for k, v in node.metadata.items() if k not in RAGLINE_KEYS}
            text = node.get_content(metadata_mode=MetadataMode.NONE)
            record = {**metadata, "_id": node.node_id, "ref_doc_id": document, field: text}
            records[node.node_id] = record
        lines = [json.dumps(r, default=str, sort_keys=True) for r in records.values()]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    # -- reading ---------------------------------------------------------------------------

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The top `similarity_top_k` chunks for `query.query_str`, ranked by ragline."""
        if not query.query_str:
            raise ValueError(
                "RaglineVectorStore searches by text: give query_str (ragline embeds it)"
            )
        if query.mode not in _MODES:
            raise ValueError(
                f"query mode {query.mode.value!r} is not supported; use one of "
                f"{', '.join(m.value for m in _MODES)}"
            )
        filters = to_expressions(query.filters)
        if query.doc_ids:
            filters.append(_any_of("ref_doc_id", query.doc_ids))
        if query.node_ids:
            filters.append(_any_of("source_document", query.node_ids))
        hits = self.pipeline.search(
            query.query_str,
            k=query.similarity_top_k,
            mode=_MODES[query.mode],
            filters=filters,
            collection=self.collection,
            per_document=self.per_document,
        )
        nodes = []
        for hit in hits:
            node = to_node(hit).node
            if "ref_doc_id" in node.metadata:
                source = RelatedNodeInfo(node_id=str(node.metadata["ref_doc_id"]))
                node.relationships[NodeRelationship.SOURCE] = source
            nodes.append(node)
        return VectorStoreQueryResult(
            nodes=nodes, similarities=[h.score for h in hits], ids=[h.id for h in hits]
        )

    def close(self) -> None:
        """Close the pipeline this store made."""
        self._source.close()


def _any_of(key: str, values: Sequence[str]) -> str:
    if any("," in v or '"' in v for v in values):
        raise ValueError(f"{key}: ids holding a comma or a quote cannot be filtered on: {values}")
    if len(values) == 1:
        return f"{key}={json.dumps(values[0])}"  # quoted: an id stays text ("123" included)
    return f"{key}={','.join(values)}"
