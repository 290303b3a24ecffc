"""One `ragline.Pipeline` per LangChain object, made on first use, and ragline hits as
LangChain `Document`s.

    holder = PipelineHolder(settings)          # None: settings found as the CLI finds them
    holder.get().search("yeast", k=5)          # the pipeline is built here, once
    to_document(hit)                           # Document(page_content=chunk text, metadata=...)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from langchain_core.documents import Document

import ragline
from ragline.core.index import Hit

# Payload keys that are ragline's own bookkeeping, not metadata a LangChain user wrote.
_HIDDEN = frozenset({"text", "_id"})
# ... and what ragline writes about each chunk (its provenance)
RAGLINE_KEYS = frozenset(
    {
        "source_document",
        "source_path",
        "chunk_index",
        "page_number",
        "section_heading",
        "date_created",
    }
)


class PipelineHolder:
    """Builds its `ragline.Pipeline` on the first `get()` (thread-safe) and closes it; a
    pipeline given to it is shared, and left open for its owner to close.

    holder = PipelineHolder(None)
    with holder.lock:                   # ragline's stores and models are used one call at a time
        hits = holder.get().search("query")
    holder.close()
    """

    def __init__(
        self, settings: ragline.Settings | None, pipeline: ragline.Pipeline | None = None
    ) -> None:
        if settings is not None and pipeline is not None:
            raise ValueError("give settings or a pipeline, not both: a pipeline has its own")
        self.settings = settings
        self.lock = threading.RLock()
        self._pipeline = pipeline
        self._owned = pipeline is None

    def get(self) -> ragline.Pipeline:
        with self.lock:
            if self._pipeline is None:
                self._pipeline = ragline.Pipeline(self.settings)
            return self._pipeline

    def close(self) -> None:
        with self.lock:
            if self._pipeline is not None and self._owned:
                self._pipeline.close()
                self._pipeline = None


def to_document(hit: Hit, *, score: bool = True, provenance: bool = True) -> Document:
    """A LangChain `Document` for a ragline hit: the chunk text, its payload as metadata
    (source_document, source_path, chunk_index, page_number, section_heading, date_created and
    the user's fields) plus `chunk_id` and, with `score`, the hit's `score`. `Document.id` is
    ragline's document (`source_document`): the id `RaglineVectorStore.add_texts` returned.
    With `provenance` False the metadata is only the user's own (no ragline keys, no score).

        to_document(hit).metadata["source_document"], to_document(hit).metadata["score"]
    """
    payload = hit.payload
    hidden = _HIDDEN if provenance else _HIDDEN | RAGLINE_KEYS
    metadata = {k: v for k, v in payload.items() if k not in hidden}
    if provenance:
        metadata["chunk_id"] = hit.id
        if score:
            metadata["score"] = hit.score
    document_id = payload.get("source_document")
    return Document(
        page_content=str(payload.get("text", "")),
        metadata=metadata,
        id=str(document_id) if document_id is not None else hit.id,
    )


FilterArg = str | Sequence[str] | Mapping[str, str | int | bool] | None


def filter_list(filters: FilterArg) -> list[str]:
    """ragline filter expressions as a list: one ("page_number>=2"), several, or a mapping of
    equalities ({"source_document": "guide.md"}, LangChain's usual `filter=` form).

        filter_list({"source_document": "a,b.md", "page_number": 2})
        # ['source_document="a,b.md"', 'page_number=2']
    """
    if filters is None:
        return []
    if isinstance(filters, str):
        return [filters]
    if isinstance(filters, Mapping):
        return [_equals(key, value) for key, value in filters.items()]
    return list(filters)


def _equals(key: str, value: str | int | bool) -> str:
    if isinstance(value, bool):
        return f"{key}={str(value).lower()}"
    if isinstance(value, int):
        return f"{key}={value}"
    if '"' in value:
        raise ValueError(
            f"filter value {value!r} of {key!r} holds a double quote; ragline "
            "filter expressions cannot express it, filter on another field"
        )
    return f'{key}="{value}"'  # quoted: a keyword as written, never split at commas
