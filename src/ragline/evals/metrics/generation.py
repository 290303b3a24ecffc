"""Generation metrics without a judge: per-item functions, and `score_generation` for a set.

Every per-item function returns ``float | None``; None means "unmeasured" (the metric is not
defined for that item), and `ragline.evals.result.aggregate` counts it instead of averaging a NaN.

    items = [GenerationItem(question="Capital of France?", answer="Paris.",
                            gold_answers=("Paris",), cited=("geo.md",), gold_sources=("geo.md",))]
    scores = score_generation(items)              # per-item values, by metric name
    summary = {name: aggregate(name, values) for name, values in scores.items()}
    summary["exact_match"].value                  # 1.0

Text normalisation follows the SQuAD evaluation script (lower case, drop punctuation, drop the
articles a/an/the, collapse whitespace), extended for non-ASCII text: NFKC first (so composed
and decomposed accents, ligatures and full-width forms compare equal), `str.casefold` instead of
`lower` (equal on ASCII; "Straße" == "STRASSE"), and every Unicode punctuation character (category
P*) dropped besides ASCII `string.punctuation`. On ASCII text the result is SQuAD's.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from ragline.core.embedding import Embedder
from ragline.core.types import FloatMatrix
from ragline.evals.result import Aggregate, aggregate

_ASCII_PUNCT: Final = frozenset(string.punctuation)
_ARTICLES: Final = re.compile(r"\b(a|an|the)\b")

# A short English function-word list: enough to keep "the", "is", "of" from counting as
# grounded content in `context_overlap`; domain words are never in it.
_STOPWORDS_TEXT: Final = """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves
"""
STOPWORDS: Final = frozenset(_STOPWORDS_TEXT.split())


def normalize_answer(text: str) -> str:
    """SQuAD normalisation, Unicode-aware (see the module docstring).

    normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(
        ch for ch in text if ch not in _ASCII_PUNCT and not unicodedata.category(ch).startswith("P")
    )
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(text: str) -> list[str]:
    """The whitespace tokens of `normalize_answer(text)` (SQuAD's `get_tokens`)."""
    return normalize_answer(text).split()


def exact_match(prediction: str, gold_answers: Sequence[str]) -> float | None:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0.

    The max over several gold answers, as in SQuAD. No gold answers: None (unmeasured). An empty
    prediction matches only a gold answer that normalises to "" (SQuAD 2.0's "no answer").
    """
    if not gold_answers:
        return None
    pred = normalize_answer(prediction)
    return 1.0 if any(pred == normalize_answer(g) for g in gold_answers) else 0.0


def _f1(pred: Sequence[str], gold: Sequence[str]) -> float:
    if not pred or not gold:
        # SQuAD 2.0: an empty side scores 1 only when both are empty.
        return 1.0 if pred == gold else 0.0
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, gold_answers: Sequence[str]) -> float | None:
    """SQuAD token F1, the max over gold answers; None with no gold answers.

    Over normalised tokens counted as multisets: overlap = sum of min counts; precision =
    overlap / len(prediction tokens); recall = overlap / len(gold tokens); F1 = 2PR / (P + R).
    If either side has no tokens, F1 is 1.0 when both are empty, else 0.0.
    """
    if not gold_answers:
        return None
    pred = answer_tokens(prediction)
    return max(_f1(pred, answer_tokens(g)) for g in gold_answers)


def citation_precision(
    cited: Iterable[str], gold_sources: Iterable[str], *, should_abstain: bool = False
) -> float | None:
    """|cited ∩ gold| / |cited|, over distinct source ids.

    No citations: None (nothing to be precise about), except on an item where abstaining is
    the right answer, where citing nothing is exactly right: 1.0.
    """
    cited_set, gold_set = set(cited), set(gold_sources)
    if not cited_set:
        return 1.0 if should_abstain else None
    return len(cited_set & gold_set) / len(cited_set)


def citation_recall(cited: Iterable[str], gold_sources: Iterable[str]) -> float | None:
    """|cited ∩ gold| / |gold|, over distinct source ids; None with no gold sources."""
    cited_set, gold_set = set(cited), set(gold_sources)
    if not gold_set:
        return None
    return len(cited_set & gold_set) / len(gold_set)


def abstention_correct(abstained: bool, should_abstain: bool) -> float:
    """1.0 when the system abstained exactly when it should have; its mean is the accuracy."""
    return 1.0 if abstained == should_abstain else 0.0


def abstention_precision_item(abstained: bool, should_abstain: bool) -> float | None:
    """Per-item term of abstention precision: defined only where the system abstained.

    The mean over a set is TP / (TP + FP), the share of abstentions that were warranted; the
    items where it answered count as unmeasured. None when it did not abstain.
    """
    return (1.0 if should_abstain else 0.0) if abstained else None


def abstention_recall_item(abstained: bool, should_abstain: bool) -> float | None:
    """Per-item term of abstention recall: defined only where abstaining was right.

    The mean over a set is TP / (TP + FN), the share of unanswerable items it abstained on.
    None when the item is answerable.
    """
    return (1.0 if abstained else 0.0) if should_abstain else None


def context_overlap(answer: str, contexts: Sequence[str]) -> float | None:
    """Share of the answer's content tokens that occur in the retrieved context.

    A cheap groundedness proxy (no judge): content tokens are `answer_tokens` minus `STOPWORDS`,
    counted with repetition; each counts as found if it is a token of any context passage.
    None when the answer has no content tokens (empty, or only function words) or there is
    no context.
    """
    content = [t for t in answer_tokens(answer) if t not in STOPWORDS]
    if not content or not contexts:
        return None
    vocab = {t for passage in contexts for t in answer_tokens(passage)}
    return sum(t in vocab for t in content) / len(content)


def embedding_similarity(
    answers: Sequence[str],
    gold_answers: Sequence[Sequence[str]],
    embedder: Embedder,
    *,
    batch_size: int = 64,
) -> list[float | None]:
    """Cosine similarity of each answer with its closest gold answer, in [-1, 1].

    Distinct texts are embedded once, `batch_size` per `embedder.embed` call (kind "document":
    answers and gold answers are both statements). Rows are re-normalised, so an embedder that
    does not L2-normalise still gives cosines. Per item: None when it has no non-blank gold
    answer; 0.0 for a blank answer (it says nothing, and a blank text's embedding is arbitrary).
    """
    if len(answers) != len(gold_answers):
        raise ValueError(
            f"embedding_similarity: {len(answers)} answers but {len(gold_answers)} gold answer "
            "lists; pass one list of gold answers per answer"
        )
    golds = [[g for g in gs if g.strip()] for gs in gold_answers]
    texts = sorted({a for a in answers if a.strip()} | {g for gs in golds for g in gs})
    row = {t: i for i, t in enumerate(texts)}
    vectors = _embed_normalised(texts, embedder, batch_size)
    out: list[float | None] = []
    for answer, gs in zip(answers, golds, strict=True):
        if not gs:
            out.append(None)
        elif not answer.strip():
            out.append(0.0)
        else:
            sims = vectors[[row[g] for g in gs]] @ vectors[row[answer]]
            out.append(float(np.clip(sims.max(), -1.0, 1.0)))
    return out


def _embed_normalised(texts: Sequence[str], embedder: Embedder, batch_size: int) -> FloatMatrix:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    parts = [
        np.asarray(embedder.embed(texts[i : i + batch_size], kind="document"), dtype=np.float32)
        for i in range(0, len(texts), batch_size)
    ]
    if not parts:
        return np.zeros((0, 1), dtype=np.float32)
    matrix = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if matrix.ndim != 2 or matrix.shape[0] != len(texts):
        raise ValueError(
            f"the embedder returned shape {matrix.shape} for {len(texts)} texts; an Embedder "
            "must return one row per text"
        )
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not np.all(np.isfinite(matrix)) or np.any(norms == 0):
        raise ValueError("the embedder returned a zero or non-finite vector; check the model")
    normalised: FloatMatrix = matrix / norms
    return normalised


@dataclass(frozen=True, slots=True)
class GenerationItem:
    """One answered question with what the metrics compare it to.

    GenerationItem(question="Who wrote Emma?", answer="Jane Austen [1]",
                   gold_answers=("Jane Austen",), cited=("austen.txt",),
                   gold_sources=("austen.txt",), contexts=("Emma is a novel by Jane Austen.",))

    `cited`: the source ids the answer cites; `gold_sources`: the ids that support a right
    answer; `contexts`: the retrieved passages' text; `abstained`/`should_abstain`: whether it
    declined to answer, and whether it should have.
    """

    question: str
    answer: str
    gold_answers: tuple[str, ...] = ()
    cited: tuple[str, ...] = ()
    gold_sources: tuple[str, ...] = ()
    contexts: tuple[str, ...] = ()
    abstained: bool = False
    should_abstain: bool = False


EXACT_MATCH: Final = "exact_match"
TOKEN_F1: Final = "token_f1"
CITATION_PRECISION: Final = "citation_precision"
CITATION_RECALL: Final = "citation_recall"
ABSTENTION_ACCURACY: Final = "abstention_accuracy"
ABSTENTION_PRECISION: Final = "abstention_precision"
ABSTENTION_RECALL: Final = "abstention_recall"
CONTEXT_OVERLAP: Final = "context_overlap"
EMBEDDING_SIMILARITY: Final = "embedding_similarity"


def score_generation(
    items: Sequence[GenerationItem], embedder: Embedder | None = None
) -> dict[str, list[float | None]]:
    """Every generation metric per item, keyed by the names above (one value per item).

    `embedding_similarity` is included only when an `embedder` is given. Per-item values feed
    `aggregate`, bootstrap CIs and metadata slices alike.
    """
    out: dict[str, list[float | None]] = {
        EXACT_MATCH: [exact_match(i.answer, i.gold_answers) for i in items],
        TOKEN_F1: [token_f1(i.answer, i.gold_answers) for i in items],
        CITATION_PRECISION: [
            citation_precision(i.cited, i.gold_sources, should_abstain=i.should_abstain)
            for i in items
        ],
        CITATION_RECALL: [citation_recall(i.cited, i.gold_sources) for i in items],
        ABSTENTION_ACCURACY: [abstention_correct(i.abstained, i.should_abstain) for i in items],
        ABSTENTION_PRECISION: [
            abstention_precision_item(i.abstained, i.should_abstain) for i in items
        ],
        ABSTENTION_RECALL: [abstention_recall_item(i.abstained, i.should_abstain) for i in items],
        CONTEXT_OVERLAP: [context_overlap(i.answer, i.contexts) for i in items],
    }
    if embedder is not None:
        out[EMBEDDING_SIMILARITY] = embedding_similarity(
            [i.answer for i in items], [i.gold_answers for i in items], embedder
        )
    return out


def aggregate_generation(scores: dict[str, list[float | None]]) -> dict[str, Aggregate]:
    """`aggregate` of each metric of `score_generation` (mean over measured, never NaN)."""
    return {name: aggregate(name, values) for name, values in scores.items()}


__all__ = [
    "STOPWORDS",
    "GenerationItem",
    "abstention_correct",
    "abstention_precision_item",
    "abstention_recall_item",
    "aggregate_generation",
    "answer_tokens",
    "citation_precision",
    "citation_recall",
    "context_overlap",
    "embedding_similarity",
    "exact_match",
    "normalize_answer",
    "score_generation",
    "token_f1",
]
