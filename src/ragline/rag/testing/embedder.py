"""The `Embedder` contract (`ragline.core.embedding`): what retrieval, ingest, the semantic cache
and the evals rely on.

    class TestMyEmbedder(EmbedderConformance):
        @pytest.fixture(scope="class")
        @classmethod
        def embedder(cls) -> Embedder:
            return MyEmbedder()

A subclass whose embedder does not normalise sets `normalised = False`.
"""

from __future__ import annotations

import numpy as np
import pytest

from ragline.core.embedding import Embedder

TEXTS = [
    "Refunds are paid within 14 days of the return being received.",
    "The Eiffel Tower is in Paris.",
    "How long do refunds take?",
]


@pytest.mark.integration
class EmbedderConformance:
    """Tests every `Embedder` adapter passes. Subclasses provide a class-scoped `embedder`."""

    normalised = True

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls) -> Embedder:
        raise NotImplementedError("an adapter's test class provides the `embedder` fixture")

    def test_is_an_embedder_with_a_name_and_width(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert embedder.name and embedder.dims > 0

    def test_one_float32_row_per_text(self, embedder: Embedder) -> None:
        rows = embedder.embed(TEXTS)
        assert rows.shape == (len(TEXTS), embedder.dims)
        assert rows.dtype == np.float32
        assert np.isfinite(rows).all()

    def test_rows_are_unit_length(self, embedder: Embedder) -> None:
        if not self.normalised:
            pytest.skip("this embedder is configured not to normalise")
        norms = np.linalg.norm(embedder.embed(TEXTS, kind="query"), axis=1)
        assert norms == pytest.approx(1.0, abs=1e-4)

    def test_no_texts_give_no_rows(self, embedder: Embedder) -> None:
        assert embedder.embed([]).shape == (0, embedder.dims)

    def test_a_text_embeds_the_same_alone_or_in_a_batch(self, embedder: Embedder) -> None:
        batch = embedder.embed(TEXTS, kind="document")
        alone = embedder.embed(TEXTS[1:2], kind="document")
        assert float(batch[1] @ alone[0]) == pytest.approx(
            float(np.linalg.norm(batch[1]) * np.linalg.norm(alone[0])), rel=1e-3
        )

    def test_similar_meaning_is_closer(self, embedder: Embedder) -> None:
        question = embedder.embed([TEXTS[2]], kind="query")[0]
        docs = embedder.embed(TEXTS[:2], kind="document")
        assert float(docs[0] @ question) > float(docs[1] @ question)

    def test_window_counts_tokens_when_given(self, embedder: Embedder) -> None:
        window = embedder.window()
        if window is None:
            pytest.skip("this embedder reports no input window")
        assert window.max_tokens > 0
        assert 0 < window.count(TEXTS[0]) < window.max_tokens
