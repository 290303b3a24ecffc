"""Query engines from the adapters: `RaglineQueryEngine` answers with ragline's verified
citations (the extractive answerer), and LlamaIndex's `RetrieverQueryEngine` composes
`RaglineRetriever` with `RaglineLLM` (the packaged local model)."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.query_engine import RetrieverQueryEngine

import ragline
from ragline.integrations.llama_index import RaglineLLM, RaglineQueryEngine, RaglineRetriever
from tests.integrations.llama_index.conftest import COLLECTION, QUERY

pytestmark = pytest.mark.integration


def test_answers_with_verified_citations_and_source_nodes(kb: ragline.Pipeline) -> None:
    engine = RaglineQueryEngine(collection=COLLECTION, pipeline=kb)
    response = engine.query("Why does dough rise?")
    text = str(response)
    assert "yeast" in text and "[Source: baking.txt" in text
    assert response.source_nodes[0].node.metadata["source_document"] == "baking.txt"
    metadata = response.metadata or {}
    assert metadata["citations"][0]["document"] == "baking.txt"
    cited = {c["chunk_id"] for c in metadata["citations"]}
    assert cited <= {n.node.node_id for n in response.source_nodes}  # cites what it was given
    assert metadata["abstained"] is False and metadata["model"].startswith("extractive")
    assert metadata["cost_usd"] == 0.0 and metadata["latency_ms"] > 0 and metadata["request_id"]


def test_filters_and_async(kb: ragline.Pipeline) -> None:
    engine = RaglineQueryEngine(
        collection=COLLECTION, filters=("source_document=rivers.md",), pipeline=kb
    )
    response = asyncio.run(engine.aquery("Which way does the Nile flow?"))
    assert "[Source: rivers.md" in str(response)
    assert {n.node.metadata["source_document"] for n in response.source_nodes} == {"rivers.md"}


def test_abstains_when_nothing_relevant_is_found(kb: ragline.Pipeline) -> None:
    engine = RaglineQueryEngine(collection=COLLECTION, pipeline=kb)
    response = engine.query("What is the airspeed of an unladen swallow in km/h?")
    assert (response.metadata or {})["abstained"] is True
    assert "I don't have enough information" in str(response)


def test_bad_filters_name_the_fix() -> None:
    with pytest.raises(TypeError, match=r"filters=\['page_number>=2'\]"):
        RaglineQueryEngine(collection=COLLECTION, filters="page_number>=2")


def test_retriever_query_engine_composes_retriever_and_llm(
    kb: ragline.Pipeline, local_settings: ragline.Settings
) -> None:
    llm = RaglineLLM(local_settings, max_tokens=32, temperature=0.0)
    try:
        retriever = RaglineRetriever(COLLECTION, 2, pipeline=kb)
        engine = RetrieverQueryEngine.from_args(retriever, llm=llm)
        response = engine.query(QUERY)
    finally:
        llm.close()
    assert str(response).strip()
    assert response.source_nodes[0].node.metadata["source_document"] == "baking.txt"
