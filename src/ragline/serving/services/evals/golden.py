"""Golden QA suites: ask every question through the real pipeline, then score the answers.

    answered = answer_golden(settings, suite, golden, console)    # retrieval + answer per item
    scored = score_golden(settings, suite, golden, answered, console)
    scored.per_query["token_f1"], scored.costs["judge_usd"], scored.notes

Each item runs as `ragline ask` would: a hybrid (or configured) search with dense-cosine relevance,
then `ragline.rag.answer.answer` through the suite's router. Retrieval metrics compare the documents
retrieved with the item's gold sources (items without sources, e.g. ones that should abstain, are
unmeasured there); generation metrics use the answer, its verified citations and the context blocks
it was given; judged metrics go through a `RouterJudge` (our prompts) or ragas with the router as
its LangChain model. An answer the model failed to give leaves that item unmeasured on every answer
metric, with the reason in the notes. With `llm.batch.enabled` (`ragline eval --batch`) answers and
judge calls go through the vendors' batch APIs instead (`batched`), with the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragline.evals.datasets import GoldenItem, GoldenSet
from ragline.evals.judges.judge import JudgeConfig, JudgeItem, JudgeRun, judge_all, judge_prompt
from ragline.evals.metrics.generation import score_generation
from ragline.evals.metrics.retrieval import evaluate_run
from ragline.evals.suite import (
    COST_PER_QUERY,
    GENERATION_METRICS,
    LATENCY_P50,
    LATENCY_P95,
    JudgeSpec,
    SuiteConfig,
    known_metrics,
)
from ragline.llm_router.router import Router
from ragline.serving.services.evals.answering import AnsweredItem as AnsweredItem  # ray_pool
from ragline.serving.services.evals.answering import ItemAnswerer as ItemAnswerer
from ragline.serving.services.evals.judges import metric_name
from ragline.serving.settings import Settings
from ragline.serving.wiring import Accounting

Values = list[float | None]
Tick = Callable[[int, int], None]
Runner = Callable[[Sequence[JudgeItem], str, Tick], JudgeRun]


class Pool(Protocol):
    """Where answers and judge calls run when not here (`ray_pool.EvalPool`: Ray actors)."""

    def answer(
        self, items: Sequence[GoldenItem], tick: Callable[[int], None]
    ) -> list[AnsweredItem]:
        """`ItemAnswerer` on every item, results in item order; `tick(n)` as n more are done."""
        ...

    def judge_runner(self, spec: JudgeSpec) -> Runner:
        """A `Runner` for `spec` whose judge calls run in the pool."""
        ...


@dataclass(frozen=True, slots=True)
class ScoredGolden:
    """Per-item values of every metric the suite asked for (aligned with the golden items)."""

    per_query: dict[str, Values]
    costs: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _bar(console: Console, label: str) -> Progress:
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True)


def answer_golden(
    settings: Settings,
    costs: Accounting,
    suite: SuiteConfig,
    golden: GoldenSet,
    console: Console,
    pool: Pool | None = None,
) -> list[AnsweredItem]:
    """Retrieve and answer every item, in order, with a progress bar; in `pool`'s Ray actors
    when one is given (the same answers: each actor runs `ItemAnswerer` on its share)."""
    if pool is None and settings.llm.batch.enabled:
        from ragline.serving.services.evals.batched import answer_batched

        return answer_batched(settings, costs, suite, golden, console)
    with _bar(console, "answers") as bar:
        task = bar.add_task("answers", total=len(golden.items))
        if pool is not None:
            return pool.answer(golden.items, lambda n: bar.advance(task, n))
        answerer = ItemAnswerer(settings, costs, suite)
        try:
            out = []
            for item in golden.items:
                out.append(answerer(item))
                bar.advance(task)
            return out
        finally:
            answerer.close()


def score_golden(
    settings: Settings,
    costs: Accounting,
    suite: SuiteConfig,
    golden: GoldenSet,
    answered: Sequence[AnsweredItem],
    console: Console,
    pool: Pool | None = None,
) -> ScoredGolden:
    """Every metric of the suite per item; costs of answering and judging (judge calls in
    `pool`'s actors when given); notes."""
    scored = ScoredGolden(per_query=_retrieval(suite, golden, answered))
    wanted = [m for m in suite.metrics if m in GENERATION_METRICS]
    if wanted:
        embedder = None
        if "embedding_similarity" in wanted:
            from ragline.serving.wiring import build_embedder

            embedder = build_embedder(settings, costs)
        values = score_generation([a.generation for a in answered], embedder)
        for metric in wanted:
            scored.per_query[metric] = _blank_failed(values[metric], answered)
    seconds: Values = [a.seconds for a in answered]  # failed answers too: callers waited
    if pool is None and settings.llm.batch.enabled:
        scored.notes.append(
            "batch mode: latency is retrieval and answer checks only (a batch's turnaround "
            "is no caller's wait); costs are at the batch rate"
        )
    scored.per_query.update({LATENCY_P50: seconds, LATENCY_P95: seconds})
    scored.per_query[COST_PER_QUERY] = [a.cost_usd for a in answered]
    failed = sum(a.error is not None for a in answered)
    if failed:
        first = next(a.error for a in answered if a.error is not None)
        scored.notes.append(
            f"the model gave no answer for {failed} of {len(answered)} items; their answer "
            f"metrics are unmeasured (first error: {first})"
        )
    synthetic = sum(item.synthetic for item in golden.items)
    if synthetic:
        scored.notes.append(f"{synthetic} of {len(golden.items)} items are synthetic")
    scored.costs.update(
        answer_usd=sum(a.cost_usd for a in answered),
        answer_tokens_in=sum(a.tokens_in for a in answered),
        answer_tokens_out=sum(a.tokens_out for a in answered),
    )
    if suite.judge is not None and suite.judged_metrics:
        judged = suite.judged_metrics
        _judge(settings, costs, suite.judge, judged, answered, scored, console, pool)
    return scored


def _retrieval(
    suite: SuiteConfig, golden: GoldenSet, answered: Sequence[AnsweredItem]
) -> dict[str, Values]:
    """Retrieval metrics against each item's gold sources; None for items without any."""
    qrels = {item.id: dict.fromkeys(item.sources, 1) for item in golden.items if item.sources}
    run = {item.id: a.documents for item, a in zip(golden.items, answered, strict=True)}
    retrieval = known_metrics(suite.ks)
    wanted = [m for m in suite.metrics if m in retrieval]
    if not wanted:
        return {}
    if not qrels:
        return {m: [None] * len(golden.items) for m in wanted}
    report = evaluate_run(run, qrels, ks=suite.ks)
    position = {qid: i for i, qid in enumerate(report.query_ids)}
    out: dict[str, Values] = {}
    for metric in wanted:
        values = report.per_query(metric)
        out[metric] = [
            values[position[item.id]] if item.id in position else None for item in golden.items
        ]
    return out


def _blank_failed(values: Sequence[float | None], answered: Sequence[AnsweredItem]) -> Values:
    return [None if a.error is not None else v for v, a in zip(values, answered, strict=True)]


def _judge(
    settings: Settings,
    costs: Accounting,
    spec: JudgeSpec,
    metrics: Sequence[str],
    answered: Sequence[AnsweredItem],
    scored: ScoredGolden,
    console: Console,
    pool: Pool | None = None,
) -> None:
    """Judge the metrics through the router (or in `pool`'s actors, each with its own router;
    or as batches, `llm.batch.enabled`); fill per-item values, costs and failure notes."""
    asked = {m: [i for i, a in enumerate(answered) if _judgeable(m, a)] for m in metrics}
    items = {m: [_judge_item(answered[i]) for i in idx] for m, idx in asked.items()}
    if pool is None and settings.llm.batch.enabled and spec.via != "ragas":
        from ragline.serving.services.evals.batched import judge_batched

        runs = judge_batched(settings, costs, spec, items, console)
    else:
        runs = _judge_each(settings, costs, spec, items, console, pool)
    for metric, run in runs.items():
        values: Values = [None] * len(answered)
        for i, judged in zip(asked[metric], run.results, strict=True):
            values[i] = judged.value
        scored.per_query[metric] = values
        _account(run, len(answered) - len(asked[metric]), spec, scored)


def _judge_each(
    settings: Settings,
    costs: Accounting,
    spec: JudgeSpec,
    items: dict[str, list[JudgeItem]],
    console: Console,
    pool: Pool | None,
) -> dict[str, JudgeRun]:
    """Each metric's run through the router (or `pool`'s actors), with a progress bar."""
    from ragline.serving.wiring import build_chat_router

    router = None
    if pool is not None:
        runner = pool.judge_runner(spec)
    else:
        router = build_chat_router(settings, costs, spec.model or settings.llm.provider)
        runner = judge_runner(settings, costs, spec, router)
    try:
        return {
            metric: _with_progress(console, metric, len(its), partial(runner, its, metric))
            for metric, its in items.items()
        }
    finally:
        if router is not None:
            router.close()


def _with_progress(
    console: Console, label: str, total: int, call: Callable[[Tick], JudgeRun]
) -> JudgeRun:
    with _bar(console, label) as bar:
        task = bar.add_task(label, total=total)
        return call(lambda done, _total: bar.update(task, completed=done))


def judge_runner(settings: Settings, costs: Accounting, spec: JudgeSpec, router: Router) -> Runner:
    """Our judge prompts through `RouterJudge`, or ragas with the router as its chat model."""
    if spec.via == "ragas":
        from ragline.evals.judges.ragas import ragas_judge_all
        from ragline.serving.services.evals.ragas import ragas_judge_name, ragas_llm
        from ragline.serving.wiring import build_embedder

        llm = ragas_llm(router, max_tokens=spec.max_tokens)
        embedder = build_embedder(settings, costs)
        name = ragas_judge_name(router)

        def by_ragas(
            items: Sequence[JudgeItem], metric: str, tick: Callable[[int, int], None]
        ) -> JudgeRun:
            return ragas_judge_all(
                items, metric_name(metric), llm, embedder, judge_model=name, on_progress=tick
            )

        return by_ragas
    from ragline.serving.services.evals.judges import RouterJudge

    judge = RouterJudge(router)
    config = JudgeConfig(
        retry_unparseable=spec.retry_unparseable,
        max_tokens=spec.max_tokens,
        workers=spec.workers,
        prompt_version=spec.prompt_version,
    )

    def ours(items: Sequence[JudgeItem], metric: str, tick: Tick) -> JudgeRun:
        template = judge_prompt(metric_name(metric), spec.prompt_version)
        grader = judge.for_prompt(template.id)  # its cost events name the template
        return judge_all(items, metric_name(metric), grader, config=config, on_progress=tick)

    return ours


def _judgeable(metric: str, answered: AnsweredItem) -> bool:
    """Answer metrics need an answer; an abstention makes no claim to check."""
    if answered.error is not None:
        return False
    if metric in ("faithfulness", "answer_relevancy"):
        return not answered.generation.abstained
    return True


def _judge_item(answered: AnsweredItem) -> JudgeItem:
    g = answered.generation
    return JudgeItem(g.question, g.answer, g.contexts, g.gold_answers)


def _account(run: JudgeRun, skipped: int, spec: JudgeSpec, scored: ScoredGolden) -> None:
    costs = scored.costs
    costs["judge_usd"] = costs.get("judge_usd", 0.0) + run.cost_usd
    costs["judge_tokens_in"] = costs.get("judge_tokens_in", 0) + run.tokens_in
    costs["judge_tokens_out"] = costs.get("judge_tokens_out", 0) + run.tokens_out
    costs["judge_items_cached"] = costs.get("judge_items_cached", 0) + run.cached
    failures = ", ".join(f"{n} {kind}" for kind, n in run.failures.items() if n)
    unmeasured = run.aggregate.unmeasured + skipped
    if unmeasured:
        why = failures + (", " if failures and skipped else "")
        why += f"{skipped} not asked (abstained or no answer)" if skipped else ""
        scored.notes.append(
            f"{run.metric}: {unmeasured} unmeasured ({why}); judge {run.judge_model} via {spec.via}"
        )
