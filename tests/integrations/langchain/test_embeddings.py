"""RaglineEmbeddings: ragline's configured embedder (the real packaged model), query and
document kinds as ragline embeds them, and LangChain's standard embeddings tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

import ragline
from ragline.core.embedding import Embedder
from ragline.integrations.langchain import RaglineEmbeddings

pytestmark = pytest.mark.integration


def test_queries_and_documents_are_embedded_as_ragline_embeds_them(
    settings: ragline.Settings, embedder: Embedder
) -> None:
    embeddings = RaglineEmbeddings(settings)
    texts = ["Bread needs yeast.", "The Nile flows north."]

    documents = embeddings.embed_documents(texts)
    query = embeddings.embed_query("What makes dough rise?")

    assert embeddings.dims == embedder.dims == len(query)
    np.testing.assert_allclose(documents, embedder.embed(texts, kind="document"), rtol=1e-6)
    expected = embedder.embed(["What makes dough rise?"], kind="query")[0]
    np.testing.assert_allclose(query, expected, rtol=1e-6)
    assert embeddings.embed_documents([]) == []


def test_every_batch_is_a_cost_event_in_the_ledger(settings: ragline.Settings) -> None:
    embeddings = RaglineEmbeddings(settings)
    embeddings.embed_documents(["one", "two"])
    embeddings.close()  # writes what the ledger buffers

    with ragline.Ledger(settings.costs.ledger, settings.data_dir) as ledger:
        kinds = [event.kind for event in ledger.events()]
    assert "embedding" in kinds


class _Settings:
    @pytest.fixture(autouse=True)
    def _settings(self, settings: ragline.Settings) -> Iterator[None]:
        type(self).settings = settings
        yield

    settings: ragline.Settings

    @property
    def embeddings_class(self) -> type[RaglineEmbeddings]:
        return RaglineEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, object]:
        return {"settings": self.settings}


class TestRaglineEmbeddingsUnit(_Settings, EmbeddingsUnitTests):
    """LangChain's standard embeddings unit tests (construction; no model loads)."""


class TestRaglineEmbeddingsStandard(_Settings, EmbeddingsIntegrationTests):
    """LangChain's standard embeddings tests on the packaged model."""
