"""`RaglineEmbedding`: the configured embedder (the packaged all-MiniLM-L6-v2), queries as
queries and texts as documents, usable by LlamaIndex's own index."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import TextNode

import ragline
from ragline.integrations.llama_index import RaglineEmbedding
from tests.integrations.llama_index.conftest import QUERY
from tests.rag.ingest_helpers import TOPICS

pytestmark = pytest.mark.integration


@pytest.fixture
def embed(kb: ragline.Pipeline) -> RaglineEmbedding:
    return RaglineEmbedding(pipeline=kb)


def test_vectors_are_ragline_s_for_each_kind(embed: RaglineEmbedding, kb: ragline.Pipeline) -> None:
    assert embed.model_name == "all-MiniLM-L6-v2"
    assert embed.embed_batch_size == kb.settings.embedding.batch_size
    query = embed.get_query_embedding(QUERY)
    assert len(query) == 384
    np.testing.assert_allclose(query, kb.embedder.embed([QUERY], kind="query")[0], atol=1e-6)
    texts = list(TOPICS.values())
    documents = embed.get_text_embedding_batch(texts)
    expected = kb.embedder.embed(texts, kind="document")
    np.testing.assert_allclose(np.array(documents), expected, atol=1e-6)
    scores = np.array(documents) @ np.array(query)
    assert list(TOPICS)[int(np.argmax(scores))] == "baking.txt"


def test_async_embeddings_match(embed: RaglineEmbedding) -> None:
    got = asyncio.run(embed.aget_query_embedding(QUERY))
    np.testing.assert_allclose(got, embed.get_query_embedding(QUERY), atol=1e-6)


def test_a_llama_index_vector_index_searches_with_it(embed: RaglineEmbedding) -> None:
    nodes = [TextNode(text=text, id_=name) for name, text in TOPICS.items()]
    index = VectorStoreIndex(nodes, embed_model=embed)
    found = index.as_retriever(similarity_top_k=1).retrieve("Kepler and the planets")
    assert found[0].node.node_id == "orbits.md"
