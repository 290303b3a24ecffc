"""Generation metrics without a judge, on hand-computed cases (the arithmetic is in comments).

The module has no single `pytestmark`: everything is a unit test except the last case, which
embeds with the real packaged model (integration), so `-m unit` never loads torch.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragline.core.embedding import Embedder, EmbedKind
from ragline.core.types import FloatMatrix
from ragline.evals.metrics.generation import (
    ABSTENTION_ACCURACY,
    ABSTENTION_PRECISION,
    ABSTENTION_RECALL,
    CITATION_PRECISION,
    CITATION_RECALL,
    CONTEXT_OVERLAP,
    EMBEDDING_SIMILARITY,
    EXACT_MATCH,
    TOKEN_F1,
    GenerationItem,
    aggregate_generation,
    citation_precision,
    citation_recall,
    context_overlap,
    embedding_similarity,
    exact_match,
    normalize_answer,
    score_generation,
    token_f1,
)

unit = pytest.mark.unit


def squad_normalize(s: str) -> str:
    """The official SQuAD v1.1/v2.0 `normalize_answer`, copied, to pin ASCII behaviour."""

    def remove_articles(text: str) -> str:
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


# ------------------------------------------------------------------------------ normalisation


@unit
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # lower -> "the  eiffel-tower!" -> no punctuation "the  eiffeltower" -> no article
        ("The  Eiffel-Tower!", "eiffeltower"),
        ("An apple a day", "apple day"),
        ("theater thee", "theater thee"),  # articles only as whole words
        ("Café", "café"),
        ("Cafe\u0301", "café"),  # decomposed accent: NFKC composes it
        ("Straße", "strasse"),  # casefold
        ("ＡＢＣ １２３", "abc 123"),  # full-width forms: NFKC
        ("«Bonjour» — ¿Qué?", "bonjour qué"),  # Unicode punctuation (Pi, Pf, Pd, Po)
        ("東京。", "東京"),  # CJK full stop is punctuation
        ("", ""),
        ("  \t\n ", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


@unit
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable, max_size=40))
def test_normalize_matches_squad_on_ascii(text: str) -> None:
    assert normalize_answer(text) == squad_normalize(text)


# ------------------------------------------------------------------------------ exact match


@unit
@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("Paris.", ["paris"], 1.0),
        ("The Paris", ["London", "Paris"], 1.0),  # max over gold answers
        ("Lyon", ["Paris", "London"], 0.0),
        ("", ["Paris"], 0.0),
        ("", [""], 1.0),  # SQuAD 2.0 no-answer
        ("", ["the"], 1.0),  # "the" normalises to ""
        ("STRASSE", ["Straße"], 1.0),
        ("Paris", [], None),  # no gold answer: unmeasured
    ],
)
def test_exact_match(prediction: str, golds: list[str], expected: float | None) -> None:
    assert exact_match(prediction, golds) == expected


# ------------------------------------------------------------------------------ token F1


@unit
@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        # pred [cat sat on mat], gold [cat on mat]: common 3, P = 3/4, R = 3/3
        # F1 = 2 * 3/4 * 1 / (3/4 + 1) = 1.5 / 1.75 = 6/7
        ("the cat sat on the mat", ["a cat on a mat"], 6 / 7),
        # multiset: pred [new new york], gold [new york]: common min(2,1) + 1 = 2
        # P = 2/3, R = 1, F1 = (4/3) / (5/3) = 4/5
        ("new new york", ["New York"], 0.8),
        # gold 1 [obama]: common 1, P = 1/2, R = 1, F1 = 2/3
        # gold 2 [president barack obama]: common 2, P = 1, R = 2/3, F1 = (4/3)/(5/3) = 4/5
        ("Barack Obama", ["Obama", "President Barack Obama"], 0.8),
        # unicode: [café crème] vs [café] (decomposed in gold): common 1, P = 1/2, R = 1 -> 2/3
        ("Café crème", ["cafe\u0301"], 2 / 3),
        ("red", ["blue"], 0.0),
        ("", ["Paris"], 0.0),  # one side empty: 0
        ("Paris", [""], 0.0),
        ("", [""], 1.0),  # both empty: 1
        ("Paris", [], None),
    ],
)
def test_token_f1(prediction: str, golds: list[str], expected: float | None) -> None:
    got = token_f1(prediction, golds)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


@unit
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.lists(st.text(max_size=30), min_size=1, max_size=3))
def test_f1_bounds_and_em_implies_f1(prediction: str, golds: list[str]) -> None:
    f1 = token_f1(prediction, golds)
    em = exact_match(prediction, golds)
    assert f1 is not None and 0.0 <= f1 <= 1.0
    if em == 1.0:
        assert f1 == 1.0


# ------------------------------------------------------------------------------ citations


@unit
def test_citation_precision_and_recall() -> None:
    # cited {a, b, c}, gold {a, d}: overlap {a}; precision 1/3, recall 1/2
    assert citation_precision(["a", "b", "c"], ["a", "d"]) == pytest.approx(1 / 3)
    assert citation_recall(["a", "b", "c"], ["a", "d"]) == pytest.approx(1 / 2)
    # duplicates count once: cited {a, b}, gold {a}: precision 1/2, recall 1/1
    assert citation_precision(["a", "a", "b"], ["a"]) == 0.5
    assert citation_recall(["a", "a", "b"], ["a"]) == 1.0
    assert citation_precision(["x"], ["a"]) == 0.0


@unit
def test_citation_edge_cases() -> None:
    assert citation_precision([], ["a"]) is None  # nothing cited: precision undefined
    assert citation_recall([], ["a"]) == 0.0  # but recall is 0/1
    assert citation_precision([], [], should_abstain=True) == 1.0  # citing nothing is right
    assert citation_precision(["x"], [], should_abstain=True) == 0.0  # 0 of 1 cited is gold
    assert citation_recall(["x"], []) is None  # no gold sources: recall undefined


# ------------------------------------------------------------------------------ overlap


@unit
def test_context_overlap() -> None:
    # answer tokens [eiffel tower is in paris france] minus stopwords {is, in}
    # -> [eiffel tower paris france]; context has eiffel, tower, paris: 3/4
    got = context_overlap(
        "The Eiffel Tower is in Paris, France.", ["The Eiffel Tower stands in Paris."]
    )
    assert got == 0.75
    # repetition counts: [paris paris lyon], context {paris}: 2/3
    assert context_overlap("Paris Paris Lyon", ["Paris"]) == pytest.approx(2 / 3)
    # found in any passage: [zürich geneva], passages cover both: 2/2 (casefold Ü -> ü)
    assert context_overlap("Zürich, Geneva", ["ZÜRICH", "geneva!"]) == 1.0


@unit
def test_context_overlap_unmeasured() -> None:
    assert context_overlap("", ["Paris"]) is None
    assert context_overlap("it is what it is", ["anything"]) is None  # only stopwords
    assert context_overlap("Paris", []) is None  # no context


# ------------------------------------------------------------------------------ embeddings


class TableEmbedder:
    """An `Embedder` over a fixed table of (unnormalised) vectors; records its calls."""

    name = "table"

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table
        self.calls: list[tuple[list[str], EmbedKind]] = []

    @property
    def dims(self) -> int:
        return len(next(iter(self.table.values())))

    def window(self) -> None:
        return None

    def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> FloatMatrix:
        self.calls.append((list(texts), kind))
        return np.array([self.table[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)


TABLE = {"Paris": [1.0, 0.0], "paris city": [3.0, 4.0], "London": [0.0, 2.0]}


@unit
def test_embedding_similarity_hand_computed() -> None:
    embedder = TableEmbedder(TABLE)
    assert isinstance(embedder, Embedder)
    got = embedding_similarity(
        ["Paris", "London", "  ", "Paris"],
        [["paris city", "London"], ["Paris"], ["Paris"], []],
        embedder,
        batch_size=2,
    )
    # item 0: paris city -> [3,4]/5 = [0.6, 0.8]; cos with [1,0] = 0.6; with London [0,1] = 0
    #         max(0.6, 0) = 0.6
    # item 1: London [0,1] . Paris [1,0] = 0
    # item 2: blank answer -> 0.0 without embedding it; item 3: no gold -> None
    assert got[0] == pytest.approx(0.6)
    assert got[1:] == [pytest.approx(0.0), 0.0, None]
    # three distinct texts, sorted, embedded once each, two per call, all as documents
    assert embedder.calls == [(["London", "Paris"], "document"), (["paris city"], "document")]


@unit
def test_embedding_similarity_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="one list of gold answers per answer"):
        embedding_similarity(["a"], [], TableEmbedder({}))
    with pytest.raises(ValueError, match="zero or non-finite"):
        embedding_similarity(["z"], [["Paris"]], TableEmbedder({"z": [0, 0], "Paris": [1, 0]}))

    class Short(TableEmbedder):
        def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> FloatMatrix:
            return np.zeros((1, 2), dtype=np.float32) + 1

    with pytest.raises(ValueError, match="one row per text"):
        embedding_similarity(["Paris"], [["London"]], Short({}))
    assert embedding_similarity([], [], TableEmbedder({})) == []


# ------------------------------------------------------------------------------ a whole set


ITEMS = [
    # answered right, cites the gold source and one more
    GenerationItem(
        question="Capital of France?",
        answer="Paris",
        gold_answers=("Paris",),
        cited=("geo.md", "misc.md"),
        gold_sources=("geo.md",),
        contexts=("Paris is the capital of France.",),
    ),
    # wrongly abstained on an answerable question: no citations
    GenerationItem(
        question="Capital of UK?",
        answer="",
        gold_answers=("London",),
        gold_sources=("uk.md",),
        contexts=("London is the capital of the UK.",),
        abstained=True,
    ),
    # rightly abstained: nothing to cite, no gold answer
    GenerationItem(question="Capital of Atlantis?", answer="", abstained=True, should_abstain=True),
]


@unit
def test_score_generation_hand_computed() -> None:
    scores = score_generation(ITEMS, TableEmbedder({"Paris": [1.0, 0.0], "London": [0.0, 1.0]}))
    assert scores[EXACT_MATCH] == [1.0, 0.0, None]
    assert scores[TOKEN_F1] == [1.0, 0.0, None]
    assert scores[CITATION_PRECISION] == [0.5, None, 1.0]  # 1 of {geo, misc}; none; abstention
    assert scores[CITATION_RECALL] == [1.0, 0.0, None]
    assert scores[ABSTENTION_ACCURACY] == [1.0, 0.0, 1.0]
    assert scores[ABSTENTION_PRECISION] == [None, 0.0, 1.0]  # over the two abstentions
    assert scores[ABSTENTION_RECALL] == [None, None, 1.0]  # over the one unanswerable item
    assert scores[CONTEXT_OVERLAP] == [1.0, None, None]
    assert scores[EMBEDDING_SIMILARITY] == [pytest.approx(1.0), 0.0, None]

    summary = aggregate_generation(scores)
    # citation precision: (0.5 + 1.0) / 2 measured, 1 unmeasured
    cp = summary[CITATION_PRECISION]
    assert (cp.value, cp.measured, cp.unmeasured) == (0.75, 2, 1)
    # abstention accuracy 2/3; precision TP/(TP+FP) = 1/2; recall TP/(TP+FN) = 1/1
    assert summary[ABSTENTION_ACCURACY].value == pytest.approx(2 / 3)
    assert summary[ABSTENTION_PRECISION].value == 0.5
    assert summary[ABSTENTION_RECALL].value == 1.0
    # never NaN, even for a metric measured nowhere
    nothing = aggregate_generation(score_generation([ITEMS[2]]))
    assert nothing[EXACT_MATCH].value is None and nothing[EXACT_MATCH].unmeasured == 1
    json.dumps({k: v.value for k, v in nothing.items()}, allow_nan=False)


@unit
def test_score_generation_without_embedder_and_empty() -> None:
    assert EMBEDDING_SIMILARITY not in score_generation(ITEMS)
    empty = aggregate_generation(score_generation([]))
    assert all(a.value is None and a.measured == 0 for a in empty.values())


@pytest.mark.integration
def test_embedding_similarity_with_the_real_model(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    near, far = embedding_similarity(
        ["The capital of France is Paris.", "Bananas are yellow."],
        [["Paris is France's capital city."], ["Paris is France's capital city."]],
        embedder,
    )
    assert near is not None and far is not None
    assert near > 0.7 > far
