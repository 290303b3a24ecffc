"""A golden suite's answers and judge calls through the vendors' batch APIs (`ragline eval
--batch`, `llm.batch.enabled`): half the price, hours instead of seconds, resumable.

    answered = answer_batched(settings, costs, suite, golden, console)
    runs = judge_batched(settings, costs, spec, {"faithfulness": items}, console)

Answers: every item is retrieved first (as `ragline ask` retrieves), then the requests of the
items that have context go out as one batch (`ragline.llm_router.batch.BatchRunner`), and each
reply is finished exactly as a synchronous answer is (`ragline.rag.answer.finish_answer`:
citations checked, abstention, planted instructions). Judges: every metric's judge calls go
out as one batch (`judges.replayed`), then the retries of unparseable replies as a second. A
rerun of the same work resumes the journalled batches (`<data_dir>/batches/`). Providers
without a batch API answer the same requests synchronously (the output says so).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from rich.console import Console

from ragline.evals.datasets import GoldenSet
from ragline.evals.judges.judge import JudgeConfig, JudgeItem, JudgeRun, judge_all, judge_prompt
from ragline.evals.suite import JudgeSpec, SuiteConfig
from ragline.llm_router.batch.runner import BatchRun, BatchRunner
from ragline.llm_router.errors import ProviderError
from ragline.llm_router.router import Router
from ragline.rag.answer import Answer, abstain_unasked, finish_answer, prepare_answer
from ragline.serving.services.evals.answering import AnsweredItem, ItemAnswerer, answered_item
from ragline.serving.services.evals.judges import ReplayJudge, metric_name, replayed
from ragline.serving.settings import Settings
from ragline.serving.wiring import Accounting


def batch_runner(router: Router, settings: Settings, console: Console) -> BatchRunner:
    """A `BatchRunner` journalling under `<data_dir>/batches/`, its progress on `console`."""
    folder = settings.data_dir / "batches"
    return BatchRunner(router, folder, on_event=lambda line: console.print(line, markup=False))


def summary(what: str, runs: Sequence[BatchRun], console: Console) -> None:
    """One line per batch run: how it ran, batches created, retried, failed, cost."""
    for run in runs:
        how = {"batch": "batch API", "journal": "finished batch journal", "sync": "synchronous"}
        console.print(
            f"{what}: {len(run.results)} requests to {run.deployment} via {how[run.mode]}; "
            f"{run.batches} batches created, {run.retried} retried, {run.failed} failed; "
            f"${run.cost_usd:.6f} at the batch rate"
            if run.mode != "sync"
            else f"{what}: {len(run.results)} requests to {run.deployment} run synchronously "
            f"(no batch API); ${run.cost_usd:.6f}",
            markup=False,
        )


def answer_batched(
    settings: Settings, costs: Accounting, suite: SuiteConfig, golden: GoldenSet, console: Console
) -> list[AnsweredItem]:
    """Retrieve every item, answer those with context in one batch, finish each answer as the
    synchronous path does; results in item order."""
    from ragline.rag.search import relevance_scored

    answerer = ItemAnswerer(settings, costs, suite)
    try:
        ranked, prepared, seconds = [], [], []
        for item in golden.items:
            started = time.perf_counter()
            hits = relevance_scored(
                answerer.retriever, item.question, k=answerer.depth, reranker=answerer.reranker
            )
            ranked.append(hits)
            prepared.append(prepare_answer(item.question, hits, settings.answer))
            seconds.append(time.perf_counter() - started)
        requests = [p.request for p in prepared if p.request is not None]
        console.print(
            f"retrieved {len(golden.items)} items; {len(requests)} answers to ask "
            f"({len(golden.items) - len(requests)} abstain: no relevant context)",
            markup=False,
        )
        run = batch_runner(answerer.router, settings, console).run(requests)
        replies = iter(run.results)
        out = []
        for item, hits, ready, spent in zip(golden.items, ranked, prepared, seconds, strict=True):
            started = time.perf_counter()
            result: Answer | ProviderError
            if ready.request is None:
                result = abstain_unasked(answerer.router.name, started)
            elif isinstance(reply := next(replies), ProviderError):
                result = reply  # failed after the batch's retries: the item is unmeasured
            else:
                result = finish_answer(ready, reply, started)
            answered = answered_item(item, hits, settings, result)
            out.append(replace(answered, seconds=spent + time.perf_counter() - started))
        summary("answers", [run], console)
        return out
    finally:
        answerer.close()


def judge_batched(
    settings: Settings,
    costs: Accounting,
    spec: JudgeSpec,
    items: dict[str, list[JudgeItem]],
    console: Console,
) -> dict[str, JudgeRun]:
    """Every metric's judge calls as one batch (then one of retries), judged as
    `judge_all` judges them; each metric's run, in `items`' order."""
    from ragline.serving.wiring import build_chat_router

    router = build_chat_router(settings, costs, spec.model or settings.llm.provider)
    config = JudgeConfig(
        retry_unparseable=spec.retry_unparseable,
        max_tokens=spec.max_tokens,
        workers=1,  # replayed passes make no model call: threads would not help
        prompt_version=spec.prompt_version,
    )

    def work(judge: ReplayJudge) -> dict[str, JudgeRun]:
        runs = {}
        for metric, asked in items.items():
            template = judge_prompt(metric_name(metric), spec.prompt_version)
            graded = judge.for_prompt(template.id)
            runs[metric] = judge_all(asked, metric_name(metric), graded, config=config)
        return runs

    try:
        name = router.deployments("eval-judge")[0].model
        runner = batch_runner(router, settings, console)
        runs, batches = replayed(work, runner, name, key="eval-judge")
        summary("judges", batches, console)
        return runs
    finally:
        router.close()
