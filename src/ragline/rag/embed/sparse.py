"""BM25 sparse vectors from Qdrant's own tokenizer (`qdrant_edge.Bm25`).

Documents get BM25 term-frequency weights (k1, b, avg_len). Queries get weight 1 per term,
or with `query_term_counts` (the default) a term said n times weighs BM25's saturated n
(1 for once, ~1.4 for twice, at most ~2.2): classic BM25 over the query's tokens. A short
query with no repeated term is unchanged; in a multi-paragraph query, the terms it keeps
coming back to count for more. The collection's IDF modifier multiplies in the IDF at search
time, so the weights stay correct as the corpus grows and nothing needs re-encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragline.core.types import SparseVector
from ragline.rag.config import SparseConfig


class Bm25Encoder:
    """`SparseEncoder` using Qdrant Edge's BM25 (English stemming and stopwords by default).

    encoder = Bm25Encoder(SparseConfig())
    encoder.encode_query("how do I ingest a folder?")
    """

    def __init__(self, config: SparseConfig) -> None:
        from qdrant_edge import Bm25, Bm25Config

        self.config = config
        try:
            self._model = Bm25(
                Bm25Config(
                    k=config.k1, b=config.b, avg_len=config.avg_len, language=config.language
                )
            )
        except ValueError as exc:
            raise ValueError(f"sparse settings rejected by BM25: {exc}") from None

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        out = []
        for text in texts:
            vector = self._model.embed_document(text)
            out.append(SparseVector(vector.indices, vector.values))
        return out

    def encode_query(self, text: str) -> SparseVector:
        if not self.config.query_term_counts:
            vector = self._model.embed_query(text)
            return SparseVector(vector.indices, vector.values)
        # A document's weights saturate term counts; the length part is the same for every
        # term of one text, so dividing by the weight of a term said once leaves the counts.
        vector = self._model.embed_document(text)
        if not vector.values:
            return SparseVector([], [])
        once = min(vector.values)
        return SparseVector(vector.indices, [v / once for v in vector.values])
