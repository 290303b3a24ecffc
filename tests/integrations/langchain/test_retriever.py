"""RaglineRetriever on a real ingested collection: the same ranking as `ragline search`,
ragline's payload as metadata, filters and k as fields and per call, sync and async, and
LangChain's standard retriever tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests
from typer.testing import CliRunner

import ragline
from ragline.core.embedding import Embedder
from ragline.integrations.langchain import (
    RaglineChatModel,
    RaglineEmbeddings,
    RaglineRetriever,
    RaglineVectorStore,
)
from ragline.serving.cli.app import app
from tests.integrations.langchain.conftest import use_loaded_model
from tests.rag.ingest_helpers import write_corpus

pytestmark = pytest.mark.integration
QUERY = "What makes dough rise before baking?"


def test_a_script_in_the_ingest_folder_gets_the_cli_top_document(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the check: `ragline ingest` in a folder, then a script there (no settings given)
    use_loaded_model(monkeypatch, embedder)
    monkeypatch.delenv("RAGLINE_DATA_DIR", raising=False)
    monkeypatch.delenv("RAGLINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "corpus", 3)
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", "corpus", "--collection", "notes"])
    assert ingested.exit_code == 0, ingested.output
    searched = runner.invoke(app, ["search", QUERY, "--collection", "notes", "--k", "5", "--json"])
    assert searched.exit_code == 0, searched.output
    cli = [json.loads(line) for line in searched.stdout.splitlines() if line.startswith("{")]

    retriever = RaglineRetriever(collection="notes", k=5)
    try:
        docs = retriever.invoke(QUERY)
    finally:
        retriever.close()

    assert (tmp_path / ".ragline").is_dir()  # found where the CLI wrote it, relative to here
    assert docs[0].metadata["source_document"] == cli[0]["source_document"] == "baking.txt"
    assert [d.metadata["chunk_id"] for d in docs] == [r["chunk_id"] for r in cli]
    assert [d.metadata["score"] for d in docs] == pytest.approx([r["score"] for r in cli])


def test_documents_carry_the_chunk_text_and_ragline_payload(kb: ragline.Settings) -> None:
    retriever = RaglineRetriever(collection="kb", k=3, settings=kb)
    with ragline.Pipeline(kb) as pipeline:
        hits = pipeline.search(QUERY, k=3, collection="kb")

    docs = retriever.invoke(QUERY)
    retriever.close()

    top, hit = docs[0], hits[0]
    assert top.page_content == hit.payload["text"]
    assert top.id == hit.payload["source_document"]
    assert top.metadata["chunk_id"] == hit.id
    assert top.metadata["score"] == pytest.approx(hit.score)
    for key in ("source_document", "source_path", "chunk_index", "date_created"):
        assert top.metadata[key] == hit.payload[key]
    assert "text" not in top.metadata


def test_filters_and_k_as_fields_and_per_call(kb: ragline.Settings) -> None:
    retriever = RaglineRetriever(
        collection="kb", k=5, settings=kb, filters=["source_document=orbits.md"], per_document=0
    )
    try:
        filtered = retriever.invoke(QUERY)
        two = retriever.invoke(QUERY, k=2, filters={"source_document": "rivers.md"})  # replaces
        dense = retriever.invoke(QUERY, mode="dense", k=1)
    finally:
        retriever.close()

    assert filtered and {d.metadata["source_document"] for d in filtered} == {"orbits.md"}
    assert len(two) == 2 and {d.metadata["source_document"] for d in two} == {"rivers.md"}
    assert dense[0].metadata["source_document"] == "orbits.md"  # the field's filters hold


def test_async_gives_what_sync_gives(kb: ragline.Settings) -> None:
    retriever = RaglineRetriever(collection="kb", k=3, settings=kb)
    try:
        sync = retriever.invoke(QUERY)
        together = asyncio.run(_gather(retriever))
    finally:
        retriever.close()

    assert all(docs == sync for docs in together)


async def _gather(retriever: RaglineRetriever) -> list[list[Document]]:
    return list(await asyncio.gather(*(retriever.ainvoke(QUERY) for _ in range(3))))


def test_a_collection_never_ingested_says_how_to_ingest_it(settings: ragline.Settings) -> None:
    retriever = RaglineRetriever(collection="nothing-here", settings=settings)

    with pytest.raises(ragline.CollectionNotFound, match="ragline ingest PATH --collection"):
        retriever.invoke(QUERY)


def test_unknown_per_call_arguments_are_refused(kb: ragline.Settings) -> None:
    retriever = RaglineRetriever(collection="kb", settings=kb)

    with pytest.raises(TypeError, match="takes filters, k, mode per call, not top_k"):
        retriever.invoke(QUERY, top_k=3)


class TestRaglineRetrieverStandard(RetrieversIntegrationTests):
    """LangChain's standard retriever tests, on the ingested corpus."""

    @pytest.fixture(autouse=True)
    def _kb(self, kb: ragline.Settings) -> Iterator[None]:
        type(self).settings = kb
        yield

    settings: ragline.Settings

    @property
    def retriever_constructor(self) -> type[RaglineRetriever]:
        return RaglineRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, object]:
        # every chunk may rank: k=3 is then 3 documents even from a three-file corpus
        return {"collection": "kb", "settings": self.settings, "per_document": 0}

    @property
    def retriever_query_example(self) -> str:
        return QUERY


def test_one_pipeline_shared_by_every_class_stays_open_for_its_owner(
    kb: ragline.Settings,
) -> None:
    with ragline.Pipeline(kb) as pipeline:
        retriever = RaglineRetriever(collection="kb", k=1, pipeline=pipeline)
        store = RaglineVectorStore(collection="kb", pipeline=pipeline)
        embeddings = RaglineEmbeddings(pipeline=pipeline)
        llm = RaglineChatModel(pipeline=pipeline)

        [top] = retriever.invoke(QUERY)
        assert (
            store.similarity_search(QUERY, k=1)[0].metadata["chunk_id"] == top.metadata["chunk_id"]
        )
        assert (
            embeddings.embed_query(QUERY) == pipeline.embedder.embed([QUERY], "query")[0].tolist()
        )
        assert llm.chat_router is pipeline.router
        for part in (retriever, store, embeddings, llm):
            part.close()
        assert pipeline.search(QUERY, k=1, collection="kb")[0].id == top.metadata["chunk_id"]
        with pytest.raises(ValueError, match="settings or a pipeline, not both"):
            RaglineEmbeddings(kb, pipeline=pipeline)
