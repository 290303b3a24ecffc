"""`RaglineVectorStore`: LlamaIndex's `VectorStoreIndex` over a ragline collection, nodes
added through ragline's ingest (found by `Pipeline.search` too), filtered and deleted."""

from __future__ import annotations

import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

import ragline
from ragline.integrations.llama_index import RaglineEmbedding, RaglineVectorStore
from tests.integrations.llama_index.conftest import COLLECTION, QUERY

pytestmark = pytest.mark.integration


def node(node_id: str, text: str, document: str, **metadata: object) -> TextNode:
    source = {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=document)}
    return TextNode(id_=node_id, text=text, metadata=metadata, relationships=source)


NODES = [
    node("n-yeast", "Yeast ferments sugars, so dough rises.", "bread", topic="food", year=2021),
    node("n-oven", "A hot oven gives a crisp crust.", "bread", topic="food", year=2023),
    node("n-kepler", "Kepler described how planets orbit.", "space", topic="science", year=1609),
]


def test_an_index_over_an_ingested_collection_ranks_as_ragline(kb: ragline.Pipeline) -> None:
    store = RaglineVectorStore(collection=COLLECTION, pipeline=kb)
    index = VectorStoreIndex.from_vector_store(store, embed_model=RaglineEmbedding(pipeline=kb))
    found = index.as_retriever(similarity_top_k=3).retrieve(QUERY)
    hits = kb.search(QUERY, k=3, collection=COLLECTION, per_document=0)
    assert [n.node.node_id for n in found] == [h.id for h in hits]
    assert found[0].node.metadata["source_document"] == "baking.txt"


def test_nodes_added_are_ingested_filtered_and_deleted(kb: ragline.Pipeline) -> None:
    store = RaglineVectorStore(collection="li-nodes", pipeline=kb)
    context = StorageContext.from_defaults(vector_store=store)
    index = VectorStoreIndex(
        NODES, storage_context=context, embed_model=RaglineEmbedding(pipeline=kb)
    )
    # ragline's own search finds them: they went through its ingest
    hits = kb.search("why does dough rise", k=1, collection="li-nodes")
    assert hits[0].payload["source_document"] == "n-yeast" and hits[0].payload["topic"] == "food"

    found = index.as_retriever(similarity_top_k=1).retrieve("planets and their orbits")
    assert found[0].node.metadata["source_document"] == "n-kepler"
    assert found[0].node.ref_doc_id == "space" and "Kepler" in found[0].node.get_content()

    recent = MetadataFilters(
        filters=[MetadataFilter(key="year", value=2022, operator=FilterOperator.GTE)]
    )
    query = VectorStoreQuery(query_str="bread", similarity_top_k=5, filters=recent)
    assert [n.metadata["source_document"] for n in store.query(query).nodes or []] == ["n-oven"]
    only = VectorStoreQuery(query_str="bread", similarity_top_k=5, doc_ids=["space"])
    assert {n.metadata["source_document"] for n in store.query(only).nodes or []} == {"n-kepler"}

    store.delete("bread")
    left = store.query(VectorStoreQuery(query_str="dough oven crust", similarity_top_k=5))
    assert {n.metadata["source_document"] for n in left.nodes or []} == {"n-kepler"}
    store.add(NODES[:2])  # the same file again: ingested again, not skipped as unchanged
    again = store.query(VectorStoreQuery(query_str="dough oven crust", similarity_top_k=5))
    assert {n.metadata["source_document"] for n in again.nodes or []} == {
        "n-yeast",
        "n-oven",
        "n-kepler",
    }


def test_sparse_mode_and_bad_queries(kb: ragline.Pipeline) -> None:
    store = RaglineVectorStore(collection=COLLECTION, pipeline=kb)
    sparse = VectorStoreQuery(
        query_str="Kepler planets", similarity_top_k=5, mode=VectorStoreQueryMode.SPARSE
    )
    assert {n.metadata["source_document"] for n in store.query(sparse).nodes or []} == {"orbits.md"}
    with pytest.raises(ValueError, match="give query_str"):
        store.query(VectorStoreQuery(query_embedding=[0.0] * 384))
    with pytest.raises(ValueError, match="'mmr' is not supported"):
        store.query(VectorStoreQuery(query_str="x", mode=VectorStoreQueryMode.MMR))
