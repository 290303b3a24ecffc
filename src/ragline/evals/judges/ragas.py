"""The four LLM-judged metrics through ragas, with any LangChain chat model as the judge.

    run = ragas_judge_all(items, "faithfulness", llm, embedder, judge_model="openai:gpt-4o-mini")
    run.aggregate.value, run.aggregate.unmeasured, run.failures["unparseable"], run.cost_usd

The same `JudgeRun` as `ragline.evals.judges.judge.judge_all`, so reports put ragas' scores beside
ours. Metric by metric (ragas 0.4's single-turn metrics, over its `LangchainLLMWrapper`):

| ours              | ragas class                         | judge calls per item              |
|-------------------|-------------------------------------|-----------------------------------|
| faithfulness      | `Faithfulness`                      | 2 (split into statements; verify) |
| answer_relevancy  | `ResponseRelevancy`, strictness 1   | 1 (a question for the answer)     |
| context_precision | `LLMContextPrecisionWithReference`  | 1 per retrieved chunk             |
| context_recall    | `LLMContextRecall`                  | 1                                 |

Each item is scored on its own (`single_turn_ascore`, one after another, in item order), so a
failure stays with its item. ragas' own retries are off (the router retries); an unparseable reply
still gets ragas' "fix the output" re-prompts (up to 3 more calls). An item that cannot be scored is
unmeasured (value None) with a `FailureKind` as in `ragline.evals.judges.judge`: "unparseable" (the
reply never parsed, was cut at max_tokens, or held nothing to score, which ragas reports as NaN),
"exception"/"timeout" (the judge raised), "not_applicable" (no answer, no chunks, no gold answer, or
an answer with no statements). Aggregates come from `ragline.evals.result.aggregate`: never NaN.

Reproducibility: ragas asks the judge to *generate* text (statements, a question for the
answer) and scores answer relevancy by the cosine between the real and the generated question,
so a sampling judge gives a different score on each run. With a temperature-0 judge (the
wrapper is told to leave the model's temperature alone) behind the router's exact cache, every
prompt of a rerun is byte-identical and answered from the cache: identical scores, zero cost.
For the same reason answer relevancy asks for one question instead of ragas' default three,
which at temperature 0 would be three copies of the same question at three times the cost.

Costs: when `llm` has a `usage()` method returning running totals (calls, tokens_in, tokens_out,
cost_usd, cache_hits, as `ragline.llm_router.langchain_chat.RouterChatModel` does), each item
records the difference across its scoring (so do not share that `llm` with other work while a run is
going); otherwise costs are 0. ragas is imported on first use.
"""

from __future__ import annotations

import asyncio
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final, cast

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel

from ragline.core.embedding import Embedder, EmbedKind
from ragline.evals.judges.judge import (
    METRICS,
    FailureKind,
    Judged,
    JudgeItem,
    JudgeRun,
    MetricName,
    judge_run,
)

if TYPE_CHECKING:
    from ragas.metrics.base import SingleTurnMetric

_MAX_ERROR: Final = 500
# ragas' "fix the output" re-prompts, the judge's reply cut short, a reply of the wrong shape.
_UNPARSEABLE: Final = frozenset(
    {"RagasOutputParserException", "LLMDidNotFinishException", "OutputParserException"}
)


class EmbedderEmbeddings(Embeddings):
    """LangChain `Embeddings` over an `ragline.evals.judges.protocol.Embedder`, for ragas' answer
    relevancy.

        embeddings = EmbedderEmbeddings(embedder, documents_as="query")
        embeddings.embed_query("Who wrote Emma?")          # list of floats

    `documents_as`: the `kind` texts given to `embed_documents` are embedded as. Answer
    relevancy compares the question with generated *questions*, so `ragas_judge_all` embeds
    both sides as "query" (the same question then has cosine 1.0 with itself).
    """

    def __init__(self, embedder: Embedder, documents_as: EmbedKind = "document") -> None:
        self._embedder = embedder
        self._documents_as: EmbedKind = documents_as

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        rows = self._embedder.embed(texts, kind=self._documents_as)
        return [[float(x) for x in row] for row in rows]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self._embedder.embed([text], kind="query")[0]]


@dataclass(frozen=True, slots=True)
class _Spent:
    """A judge's running totals, or the difference of two (what one item used)."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    cache_hits: int = 0

    def since(self, before: _Spent) -> _Spent:
        return _Spent(
            self.calls - before.calls,
            self.tokens_in - before.tokens_in,
            self.tokens_out - before.tokens_out,
            self.cost_usd - before.cost_usd,
            self.cache_hits - before.cache_hits,
        )


def _spent(llm: object) -> _Spent:
    usage = getattr(llm, "usage", None)
    if not callable(usage):
        return _Spent()
    totals = usage()  # duck-typed: RouterChatModel's RouterChatUsage, or alike
    return _Spent(**{f.name: getattr(totals, f.name, 0) for f in fields(_Spent)})


# ---------------------------------------------------------------------------------- ragas


def _ragas_metric(metric: MetricName, llm: object, embedder: Embedder) -> SingleTurnMetric:
    """ragas' metric object for `metric`, judged by `llm` (imports ragas, ~2.5 s once)."""
    if not isinstance(llm, BaseLanguageModel):
        raise TypeError(
            f"llm must be a LangChain chat model (e.g. llm_router's RouterChatModel), "
            f"got {type(llm).__name__}"
        )
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # its telemetry fails offline
    from ragas.run_config import RunConfig

    # ragas 0.4 deprecates the LangChain wrappers and these metric classes in favour of its
    # instructor-based `llm_factory`, which takes an OpenAI-style client and so cannot route
    # through our Router; the legacy path is the supported one for any LangChain model.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.embeddings import LangchainEmbeddingsWrapper
        from ragas.llms import LangchainLLMWrapper
        from ragas.metrics import (
            Faithfulness,
            LLMContextPrecisionWithReference,
            LLMContextRecall,
            ResponseRelevancy,
        )

        judge = LangchainLLMWrapper(
            llm,
            run_config=RunConfig(max_retries=1),  # one attempt: retries are the router's job
            bypass_temperature=True,  # keep the judge's own (0): ragas would set 0.01
            bypass_n=True,
        )
        if metric == "faithfulness":
            return cast("SingleTurnMetric", Faithfulness(llm=judge))
        if metric == "context_precision":
            return cast("SingleTurnMetric", LLMContextPrecisionWithReference(llm=judge))
        if metric == "context_recall":
            return cast("SingleTurnMetric", LLMContextRecall(llm=judge))
        embeddings = LangchainEmbeddingsWrapper(EmbedderEmbeddings(embedder, "query"))
        return cast(
            "SingleTurnMetric", ResponseRelevancy(llm=judge, embeddings=embeddings, strictness=1)
        )


def _sample(item: JudgeItem) -> Any:
    from ragas import SingleTurnSample

    return SingleTurnSample(
        user_input=item.question,
        response=item.answer,
        retrieved_contexts=list(item.contexts),
        reference=_reference(item) or None,
    )


# ---------------------------------------------------------------------------------- items


def _reference(item: JudgeItem) -> str:
    return item.gold_answers[0].strip() if item.gold_answers else ""


def _skip(reason: str) -> Judged:
    return Judged(value=None, reason=reason, error=reason, failure="not_applicable")


def _precheck(metric: MetricName, item: JudgeItem) -> Judged | None:
    """A result without the judge, as `ragline.evals.judges.judge` decides the same cases."""
    if metric == "faithfulness" and not item.answer.strip():
        return _skip("the answer is empty: no claims to check")
    if metric == "answer_relevancy" and not item.answer.strip():
        return Judged(value=0.0, reason="the answer is empty")
    if metric in ("context_precision", "context_recall") and not _reference(item):
        return _skip(f"ragas' {metric} needs a gold answer; the item has none")
    if metric == "context_precision" and not item.contexts:
        return _skip("nothing was retrieved")
    if metric == "context_recall" and not item.contexts:
        return Judged(value=0.0, reason="nothing was retrieved")
    return None


def _failure_kind(err: BaseException) -> FailureKind:
    names = {c.__name__ for c in type(err).__mro__}
    if names & _UNPARSEABLE:
        return "unparseable"
    # evals cannot import ragline.llm_router: its Timeout (and httpx's) are recognised by name.
    if isinstance(err, TimeoutError) or any("Timeout" in n for n in names):
        return "timeout"
    return "exception"


def _judged(value: float | None, spent: _Spent, failure: FailureKind | None, why: str) -> Judged:
    return Judged(
        value=value,
        reason=why if failure in (None, "not_applicable") else "",
        error=why[:_MAX_ERROR] if failure else None,
        failure=failure,
        tokens_in=spent.tokens_in,
        tokens_out=spent.tokens_out,
        cost_usd=spent.cost_usd,
        cached=spent.calls > 0 and spent.cache_hits == spent.calls,
        attempts=spent.calls,
    )


def _score(
    runner: asyncio.Runner,
    scorer: SingleTurnMetric,
    metric: MetricName,
    item: JudgeItem,
    llm: object,
) -> Judged:
    """One item through ragas; never raises for a judge failure (the result says why)."""
    early = _precheck(metric, item)
    if early is not None:
        return early
    before = _spent(llm)
    try:
        raw = runner.run(scorer.single_turn_ascore(_sample(item)))
    except Exception as err:  # noqa: BLE001 -- any judge failure is recorded, not raised
        why = f"{type(err).__name__}: {err}"
        return _judged(None, _spent(llm).since(before), _failure_kind(err), why)
    spent = _spent(llm).since(before)
    value = float(raw)
    if not math.isfinite(value):
        if metric == "faithfulness":  # ragas' NaN here: no statements in the answer
            return _judged(None, spent, "not_applicable", "ragas found no statements to check")
        return _judged(None, spent, "unparseable", "ragas returned NaN: nothing to score")
    # cosine similarity (answer relevancy) can dip below 0; ours are scores in [0, 1]
    return _judged(min(max(value, 0.0), 1.0), spent, None, "")


def ragas_judge_all(
    items: Sequence[JudgeItem],
    metric: MetricName,
    llm: object,
    embedder: Embedder,
    *,
    judge_model: str,
    on_progress: Callable[[int, int], None] | None = None,
) -> JudgeRun:
    """Score every item with ragas' version of `metric`; results in item order.

    `llm`: a LangChain chat model (typed loosely: evals imports no llm_router); `embedder` is
    used by answer relevancy only. `judge_model` names the judge in the report.
    `on_progress(done, total)` is called after each item. Runs its own event loop, so call it
    from synchronous code (not from inside a running asyncio loop).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown judge metric {metric!r}; choose one of {', '.join(METRICS)}")
    scorer = _ragas_metric(metric, llm, embedder)
    results: list[Judged] = []
    with asyncio.Runner() as runner:
        for item in items:
            results.append(_score(runner, scorer, metric, item, llm))
            if on_progress is not None:
                on_progress(len(results), len(items))
    return judge_run(metric, judge_model, results)
