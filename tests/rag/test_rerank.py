"""Rerankers: `NoReranker`, and `CrossEncoderReranker` on a tiny BERT cross-encoder built here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ragline.core.index import Hit
from ragline.rag.errors import RagError
from ragline.rag.rerank import (
    CrossEncoderReranker,
    NoReranker,
    RerankConfig,
    Reranker,
    RerankError,
    make_reranker,
)

WORDS = ["the", "a", "of", "bread", "yeast", "dough", "rises", "river", "nile", "flows"]
WORDS += ["planet", "orbit", "sun", "why", "does", "how"]
QUERY = "why does dough rise"
TEXTS = [
    "bread yeast dough rises",
    "the nile river flows",
    "a planet orbit of the sun",
    "how does the dough rise",
    "sun river bread",
    "yeast",
]


def hits() -> list[Hit]:
    # retrieval scores descending, as a retriever returns them
    return [
        Hit(f"id-{i}", 1.0 - i / 10, {"text": text, "source_document": f"doc{i}.md"})
        for i, text in enumerate(TEXTS)
    ]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT with one output label and a 21-token WordPiece vocabulary."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    path = tmp_path_factory.mktemp("tiny-cross-encoder")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)})
    assert tokenizer("bread yeast")["input_ids"] == [2, 8, 9, 3]  # known words, not [UNK]
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=1,
        initializer_range=0.2,  # spread the scores: the default init scores all pairs alike
    )
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)  # writes vocab.txt and tokenizer.json beside the weights
    return path


@pytest.fixture(scope="module")
def direct_scores(tiny_model: Path) -> list[float]:
    """The same model called through sentence-transformers directly."""
    from sentence_transformers import CrossEncoder

    model: Any = CrossEncoder(str(tiny_model), device="cpu")
    scores = model.predict([(QUERY, t) for t in TEXTS], show_progress_bar=False)
    return [float(s) for s in scores]


@pytest.mark.unit
def test_no_reranker_keeps_the_first_top_n_unchanged() -> None:
    reranker: Reranker = NoReranker()
    assert reranker.rerank(QUERY, hits(), top_n=3) == hits()[:3]
    assert reranker.rerank(QUERY, hits(), top_n=50) == hits()
    assert reranker.rerank(QUERY, [], top_n=3) == []
    with pytest.raises(ValueError, match="top_n"):
        reranker.rerank(QUERY, hits(), top_n=0)


@pytest.mark.unit
def test_default_config_means_no_reranker() -> None:
    assert RerankConfig().model is None
    assert isinstance(make_reranker(RerankConfig()), NoReranker)
    reranker = make_reranker(RerankConfig(model="some/cross-encoder"))
    assert isinstance(reranker, CrossEncoderReranker) and isinstance(reranker, Reranker)
    with pytest.raises(ValueError, match=r"rerank\.model"):
        CrossEncoderReranker(RerankConfig())


@pytest.mark.integration
def test_cross_encoder_orders_hits_by_the_model_scores(
    tiny_model: Path, direct_scores: list[float]
) -> None:
    reranker = CrossEncoderReranker(RerankConfig(model=str(tiny_model), batch_size=4))
    reranked = reranker.rerank(QUERY, hits(), top_n=len(TEXTS))

    assert len(set(direct_scores)) == len(TEXTS)  # no ties, so the order below is the model's
    expected = sorted(range(len(TEXTS)), key=lambda i: -direct_scores[i])
    assert [h.id for h in reranked] == [f"id-{i}" for i in expected]
    assert [h.score for h in reranked] == pytest.approx([direct_scores[i] for i in expected])
    assert expected != list(range(len(TEXTS)))  # the model really reorders retrieval's order
    by_id = {h.id: h for h in hits()}
    assert all(h.payload == by_id[h.id].payload for h in reranked)


@pytest.mark.integration
def test_cross_encoder_respects_top_n_and_loads_lazily(
    tiny_model: Path, direct_scores: list[float]
) -> None:
    reranker = CrossEncoderReranker(RerankConfig(model=str(tiny_model), top_n=2))
    assert reranker._model is None  # building is cheap; the model loads on first use
    best_two = reranker.rerank(QUERY, hits(), top_n=2)
    assert [h.id for h in best_two] == [h.id for h in reranker.rerank(QUERY, hits(), 6)[:2]]
    assert max(direct_scores) == pytest.approx(best_two[0].score)
    assert reranker.rerank(QUERY, [], top_n=2) == []


@pytest.mark.integration
def test_equal_scores_are_ordered_by_id(tiny_model: Path) -> None:
    same = [Hit(i, 0.0, {"text": "bread yeast"}) for i in ("c", "a", "b")]
    reranked = CrossEncoderReranker(RerankConfig(model=str(tiny_model))).rerank(QUERY, same, 3)
    assert [h.id for h in reranked] == ["a", "b", "c"]


@pytest.mark.integration
def test_a_model_that_cannot_load_names_the_setting(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    for model in (str(tmp_path), str(tmp_path / "missing-model")):
        reranker = CrossEncoderReranker(RerankConfig(model=model))
        with pytest.raises(RerankError, match=r"rerank\.model") as info:
            reranker.warm_up()
        assert isinstance(info.value, RagError)
