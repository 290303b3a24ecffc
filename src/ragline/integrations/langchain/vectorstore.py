"""`RaglineVectorStore`: a ragline collection as a LangChain `VectorStore`.

    store = RaglineVectorStore.from_texts(["Bread needs yeast."], RaglineEmbeddings(),
                                          collection="notes")
    store.similarity_search_with_score("What makes dough rise?", k=3)
    store.as_retriever(search_kwargs={"k": 3}).invoke("yeast")

Texts go in through ragline's own ingest: each `add_texts` call writes its texts as one JSON
Lines file under `<data_dir>/langchain/<collection>/` and ingests it, exactly as
`ragline ingest` would. So they are chunked, embedded (dense and BM25) and stored with
ragline's point ids (from content) and payload (source_document = the text's id,
source_path, chunk_index, date_created, the metadata); the ingest manifest makes a rerun of
the same texts a no-op, and every embedding and write is a cost event. The store's plain
`upsert` was the other way in; it would have meant re-implementing the chunking, ids and
manifest outside ragline, and ragline's later ingests would not recognise those points.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

import ragline
from ragline.core.filters import Filter, MatchAny
from ragline.integrations.langchain._pipeline import (
    FilterArg,
    PipelineHolder,
    filter_list,
    to_document,
)
from ragline.integrations.langchain.embeddings import RaglineEmbeddings

# uuid5 namespace of the ids given to texts added without one (same text and metadata, same id)
_IDS = uuid.UUID("0c6f3c52-7f0e-4c47-9d8c-3f6f2f1c8a41")
_PAGE = 256


class RaglineVectorStore(VectorStore):
    """A LangChain `VectorStore` over one ragline collection (see the module docstring).

        store = RaglineVectorStore(collection="notes")              # settings as the CLI's
        RaglineVectorStore(collection="notes", pipeline=pipeline)   # share a loaded pipeline
        ids = store.add_texts(["Kepler described orbits."], [{"topic": "space"}])
        store.similarity_search("planets", k=2, filter={"topic": "space"})
        store.get_by_ids(ids), store.delete(ids)

    An id names one text (ragline's `source_document`); a long text is stored as several
    chunks under it, so a search may return several `Document`s with that id (their
    `metadata["chunk_id"]` differs) and `delete(ids)` removes all of them. Adding a text under
    an id that exists replaces it. Texts without an id get one from their content. Search ranks
    as `ragline search` does (hybrid by default, filters, rerank); `filter` takes ragline filter
    expressions or a mapping of equalities. A metadata key "title" or "heading" is put in
    front of the text as ragline does for JSON Lines records; ragline's own payload keys
    (source_document, chunk_index, ...) in metadata are ignored. Returned metadata holds
    ragline's provenance (source_document, source_path, chunk_index, date_created, chunk_id,
    score) beside the user's; `provenance=False` returns the user's metadata alone.
    """

    def __init__(
        self,
        collection: str | None = None,
        settings: ragline.Settings | None = None,
        *,
        pipeline: ragline.Pipeline | None = None,
        per_document: int | None = 0,
        provenance: bool = True,
    ) -> None:
        self._holder = PipelineHolder(settings, pipeline)
        self._collection = collection
        self.per_document = per_document  # 0: every chunk may rank, as a vector store's do
        self.provenance = provenance

    @property
    def pipeline(self) -> ragline.Pipeline:
        return self._holder.get()

    @property
    def collection(self) -> str:
        return self._collection or self.pipeline.settings.store.collection

    @property
    def embeddings(self) -> Embeddings:
        return _SharedEmbeddings(self._holder)

    def close(self) -> None:
        self._holder.close()

    # -- writing ---------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        metadatas = metadatas or [{} for _ in texts]
        given = list(ids) if ids else [None] * len(texts)
        if not len(texts) == len(metadatas) == len(given):
            raise ValueError(
                f"got {len(texts)} texts, {len(metadatas)} metadatas and {len(given)} ids; "
                "give one metadata and one id (or None) per text"
            )
        if not texts:
            return []
        chosen = [i or _content_id(t, m) for t, m, i in zip(texts, metadatas, given, strict=True)]
        pipeline = self.pipeline
        field = pipeline.settings.ingest.jsonl_text_field
        lines = [
            json.dumps({**m, "_id": i, field: t}, ensure_ascii=False, sort_keys=True, default=str)
            for t, m, i in zip(texts, metadatas, chosen, strict=True)
        ]
        body = "\n".join(lines) + "\n"
        with self._holder.lock:
            path = self._batch_file(body)
            replaced = [i for i in given if i is not None]
            if replaced and pipeline.store(self.collection).exists():
                self._delete(replaced)  # the ingest's manifest then re-adds an unchanged file
            report = pipeline.ingest([path], collection=self.collection)
        if report.skipped:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in report.skipped)
            raise ValueError(f"ragline refused the texts: {reasons}")
        return chosen

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Remove every chunk of the texts `ids` names; True. Refuses None (everything):
        drop a whole collection with `ragline collections drop NAME`."""
        if ids is None:
            raise ValueError(
                "give the ids to delete; RaglineVectorStore does not empty a whole collection "
                "(ragline collections drop NAME does)"
            )
        with self._holder.lock:
            if ids and self.pipeline.store(self.collection).exists():
                self._delete(ids)
        return True

    def _delete(self, ids: Sequence[str]) -> int:
        store = self.pipeline.store(self.collection)
        return store.delete(Filter(must=(MatchAny("source_document", tuple(ids)),)))

    def _batch_file(self, body: str) -> Path:
        """The JSON Lines file of one batch, named by its content (the same texts, the same
        file: ragline's manifest skips it), kept so the points' source_path stays valid."""
        folder = self.pipeline.settings.data_dir / "langchain" / self.collection
        folder.mkdir(parents=True, exist_ok=True)
        path = (folder / f"{hashlib.sha256(body.encode()).hexdigest()[:24]}.jsonl").resolve()
        if not path.exists():
            path.write_text(body, encoding="utf-8")
        return path

    # -- reading ---------------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The chunks of the texts `ids` names, in the order of `ids` then of the text;
        unknown ids are left out."""
        if not ids:
            return []
        where = Filter(must=(MatchAny("source_document", tuple(ids)),))
        with self._holder.lock:
            store = self.pipeline.store(self.collection)
            if not store.exists():
                return []
            hits, offset = store.scroll(_PAGE, where=where)
            while offset is not None:
                page, offset = store.scroll(_PAGE, offset, where=where)
                hits += page
        order = {name: n for n, name in enumerate(ids)}
        hits.sort(key=lambda h: (order[str(h.payload["source_document"])], _index(h.payload)))
        return [to_document(hit, score=False, provenance=self.provenance) for hit in hits]

    def similarity_search(
        self, query: str, k: int = 4, filter: FilterArg = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: FilterArg = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The `k` best chunks with ragline's scores (hybrid: RRF, higher is better; dense:
        cosine similarity); `mode=` ("dense", "sparse", "hybrid") may be given."""
        mode = kwargs.pop("mode", None)
        if kwargs:
            raise TypeError(f"RaglineVectorStore search takes mode=, not {', '.join(kwargs)}")
        with self._holder.lock:
            if not self.pipeline.store(self.collection).exists():
                return []  # nothing added yet: an empty store
            hits = self.pipeline.search(
                query,
                k=k,
                mode=mode,
                filters=filter_list(filter),
                collection=self.collection,
                per_document=self.per_document,
            )
        return [(to_document(hit, provenance=self.provenance), hit.score) for hit in hits]

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> RaglineVectorStore:
        """A store over `collection=` (a keyword) holding `texts`; `embedding` must be a
        `RaglineEmbeddings`: its settings are the store's (ragline embeds with its own model)."""
        if not isinstance(embedding, RaglineEmbeddings):
            raise TypeError(
                f"RaglineVectorStore embeds with ragline's configured model, not "
                f"{type(embedding).__name__}; pass RaglineEmbeddings(settings) and set "
                "embedding.model in ragline's settings to change the model"
            )
        store = cls(**kwargs)
        store._holder = embedding._holder  # one pipeline, one model load
        store.add_texts(texts, metadatas, ids=ids)
        return store


class _SharedEmbeddings(RaglineEmbeddings):
    """The store's embedder, shared with its pipeline (no second model load)."""

    def __init__(self, holder: PipelineHolder) -> None:
        self._holder = holder


def _content_id(text: str, metadata: dict[str, Any]) -> str:
    meta = json.dumps(metadata, sort_keys=True, ensure_ascii=False, default=str)
    return str(uuid.uuid5(_IDS, f"{text}\x1f{meta}"))


def _index(payload: Any) -> int:
    index = payload.get("chunk_index", 0)
    return index if isinstance(index, int) else 0
