"""`ragline eval SUITE --engine ray`: queries, answers and judge calls in a pool of Ray actors.

    with ray_session(options), closing(EvalPool(settings, suite, "eval-qa-...", options)) as pool:
        hits = pool.search(texts, depth=10, keys=("source_document",), tick=print)
        answered = pool.answer(golden.items, tick=print)
        run = pool.judge_runner(judge_spec)(items, "faithfulness", tick)

Each actor builds what the serial run builds (store, retriever, reranker, routers, judge) once,
from the same settings, and runs the same functions on its share: work goes out in small
chunks and comes back in input order, so every metric equals the serial run's. Every actor
has its own `Accounting` (the ledger the settings name) and records under the run's cost scope,
so a distributed run's events land in the one ledger under the run's id. The Edge store is
opened read-only by each actor (a shard can be loaded by several processes); a Qdrant server
is shared as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ragline.core.costs import cost_scope
from ragline.core.index import Hit
from ragline.evals.datasets import GoldenItem
from ragline.evals.judges.judge import JudgeItem, JudgeRun, judge_run
from ragline.evals.suite import JudgeSpec, SuiteConfig
from ragline.rag.ingest.ray_engine import RayOptions, actor_cpus, ordered
from ragline.serving.services.evals.golden import AnsweredItem, ItemAnswerer, Runner, judge_runner
from ragline.serving.settings import Settings

CHUNK = 4  # items per actor call: small enough to balance, large enough to amortise a call
SEARCH_CHUNK = 32  # queries per search call: embedded together, as the serial run's batches
Tick = Callable[[int], None]  # items just finished


def ray_get(ref: Any) -> Any:
    import ray

    return ray.get(ref)


class EvalWorker:
    """The body of one eval actor: the suite's parts, built on first use, kept for the run."""

    def __init__(self, settings: Settings, suite: SuiteConfig, scope: str) -> None:
        from ragline.serving.wiring import Accounting

        self.settings, self.suite, self.scope = settings, suite, scope
        self.costs = Accounting(settings)
        self._answerer: ItemAnswerer | None = None
        self._runners: dict[str, tuple[Runner, Any]] = {}

    def search(self, texts: list[str], depth: int, keys: tuple[str, ...]) -> list[list[Hit]]:
        with cost_scope(self.scope):
            return self._answering().retriever.search_many(texts, top_k=depth, payload_keys=keys)

    def answer(self, items: list[GoldenItem]) -> list[AnsweredItem]:
        with cost_scope(self.scope):
            answerer = self._answering()
            return [answerer(item) for item in items]

    def judge(self, spec: JudgeSpec, items: list[JudgeItem], metric: str) -> JudgeRun:
        with cost_scope(self.scope):
            return self._runner(spec)(items, metric, lambda done, total: None)

    def close(self) -> None:
        if self._answerer is not None:
            self._answerer.close()
        for _, router in self._runners.values():
            router.close()
        self.costs.close()

    def _answering(self) -> ItemAnswerer:
        if self._answerer is None:
            self._answerer = ItemAnswerer(self.settings, self.costs, self.suite)
        return self._answerer

    def _runner(self, spec: JudgeSpec) -> Runner:
        key = spec.model_dump_json()
        if key not in self._runners:
            from ragline.serving.wiring import build_chat_router

            model = spec.model or self.settings.llm.provider
            router = build_chat_router(self.settings, self.costs, model)
            self._runners[key] = (judge_runner(self.settings, self.costs, spec, router), router)
        return self._runners[key][0]


class EvalPool:
    """`options.actors` eval actors for one run; results always in input order."""

    def __init__(
        self, settings: Settings, suite: SuiteConfig, scope: str, options: RayOptions
    ) -> None:
        import ray

        cpus = actor_cpus(options)
        worker = ray.remote(max_restarts=1, max_task_retries=1)(EvalWorker)
        self.actors: list[Any] = [
            worker.options(num_cpus=cpus, num_gpus=options.num_gpus).remote(settings, suite, scope)
            for _ in range(options.actors)
        ]
        self.description = f"{options.actors} Ray actor(s), {cpus:g} CPU(s) each"

    def _chunks(
        self,
        items: Sequence[Any],
        call: Callable[[Any, list[Any]], Any],
        tick: Tick,
        size: int = CHUNK,
    ) -> list[Any]:
        """Each chunk's result, in order: chunks go to the actors in turn, two each in flight."""
        chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
        turn = iter(range(len(chunks)))

        def submit(chunk: list[Any]) -> Any:
            return call(self.actors[next(turn) % len(self.actors)], chunk)

        parts = []
        for chunk, part in ordered(submit, chunks, 2 * len(self.actors)):
            parts.append(part)
            tick(len(chunk))
        return parts

    def search(
        self, texts: Sequence[str], depth: int, keys: tuple[str, ...], tick: Tick
    ) -> list[list[Hit]]:
        """`Retriever.search_many` over `texts`, in order."""
        call = lambda a, c: a.search.remote(c, depth, keys)  # noqa: E731
        parts = self._chunks(texts, call, tick, size=SEARCH_CHUNK)
        return [hits for part in parts for hits in part]

    def answer(self, items: Sequence[GoldenItem], tick: Tick) -> list[AnsweredItem]:
        """`ItemAnswerer` on every item, in order."""
        parts = self._chunks(items, lambda a, c: a.answer.remote(c), tick)
        return [answered for part in parts for answered in part]

    def judge_runner(self, spec: JudgeSpec) -> Runner:
        """A `Runner` judging in the actors: the per-item results are the serial run's, and the
        `JudgeRun` is assembled from them as `judge_all` assembles its own."""

        def run(
            items: Sequence[JudgeItem], metric: str, tick: Callable[[int, int], None]
        ) -> JudgeRun:
            done = 0

            def advance(n: int) -> None:
                nonlocal done
                done += n
                tick(done, len(items))

            parts: list[JudgeRun] = self._chunks(
                items, lambda a, c: a.judge.remote(spec, c, metric), advance
            )
            if not parts:  # nothing to judge: the serial runner's empty run, from one actor
                empty: JudgeRun = ray_get(self.actors[0].judge.remote(spec, [], metric))
                return empty
            first = parts[0]
            results = [judged for part in parts for judged in part.results]
            return judge_run(first.metric, first.judge_model, results, prompt=first.prompt)

        return run

    def close(self) -> None:
        """Close each actor's routers and ledger (its buffered events are written), then end it."""
        import ray

        ray.get([actor.close.remote() for actor in self.actors])
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []
