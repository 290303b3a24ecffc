"""`Bm25Encoder`'s query weights: Qdrant Edge's real BM25 tokenizer (stemming, stopwords)."""

from __future__ import annotations

import pytest

from ragline.rag.config import SparseConfig
from ragline.rag.embed.sparse import Bm25Encoder

pytestmark = pytest.mark.unit


def weights(encoder: Bm25Encoder, text: str) -> dict[int, float]:
    vector = encoder.encode_query(text)
    return dict(zip(vector.indices, vector.values, strict=True))


def test_a_short_query_weighs_each_term_once() -> None:
    encoder = Bm25Encoder(SparseConfig())
    counted = weights(encoder, "how do refunds work")
    assert sorted(counted.values()) == [1.0, 1.0]
    plain = Bm25Encoder(SparseConfig(query_term_counts=False))
    assert counted == weights(plain, "how do refunds work")


def test_a_term_said_again_weighs_more_saturating() -> None:
    encoder = Bm25Encoder(SparseConfig())
    long = "refunds " * 4 + "for returned parcels; the refund policy covers returns"
    counted = weights(encoder, long)
    [refund] = weights(encoder, "refund")  # the stem of refund / refunds
    [parcel] = weights(encoder, "parcels")
    assert counted[parcel] == pytest.approx(1.0)
    assert 1.0 < counted[refund] < 2.2  # 5 times: more than once, less than BM25's k1 + 1
    flat = weights(Bm25Encoder(SparseConfig(query_term_counts=False)), long)
    assert set(flat) == set(counted) and set(flat.values()) == {1.0}


def test_a_query_of_stopwords_has_no_terms() -> None:
    assert Bm25Encoder(SparseConfig()).encode_query("the of and").indices == []
