"""The router as an `evals.JudgeModel`: judge and synthesis calls cached, retried and costed.

    judge = RouterJudge(build_chat_router(settings, "openai:gpt-4o-mini"),
                        prompt="judge-faithfulness@1")
    reply = judge.judge(system="You grade answers.", prompt="...", max_tokens=256)
    reply.cost_usd, reply.cached           # 0.0 and True on a rerun (the exact cache answered)

`prompt` (the template id the judge's prompts are rendered from) goes on every request, so the
cost events of judge calls name it; `for_prompt` gives the same judge for another template.

Every call asks for temperature 0, so a rerun of the same suite sends byte-identical requests
and the router's exact cache answers them for free. Router errors (rate limit, budget, timeout)
propagate: `ragline.evals.judges.judge` records the item as unmeasured and goes on.

`replayed` runs the same judge work through a batch API instead (`ragline eval --batch`):
the work runs against a `ReplayJudge` that answers only what a batch has answered and notes
the rest; what it noted goes out as one batch; then the work runs again, until nothing new
is asked (the second round holds the retries of unparseable replies). Every pass is the same
pure function of the replies, so the results equal a synchronous run's on the same replies.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ragline.core.chat import ChatRequest, Completion, Message
from ragline.core.costs import current_scope
from ragline.evals.judges.judge import METRICS, MetricName
from ragline.evals.judges.protocol import JudgeReply
from ragline.llm_router.batch.runner import BatchRun, BatchRunner
from ragline.llm_router.errors import ProviderError
from ragline.llm_router.router import Router

T = TypeVar("T")


def metric_name(name: str) -> MetricName:
    """`name` as one of our judged metrics (ValueError naming them if it is not one)."""
    for metric in METRICS:
        if metric == name:
            return metric
    raise ValueError(f"{name!r} is not a judged metric; choose one of {', '.join(METRICS)}")


def judge_request(system: str, prompt: str, max_tokens: int, template: str | None) -> ChatRequest:
    """The request a judge (or question-writer) call sends: temperature 0, `template` named.

    judge_request("You grade answers.", "<question>...", 256, "judge-faithfulness@1")
    """
    return ChatRequest(
        messages=(Message("system", system), Message("user", prompt)),
        max_tokens=max_tokens,
        temperature=0.0,
        prompt=template,
    )


class RouterJudge:
    """`ragline.evals.judges.protocol.JudgeModel` over a `Router` (thread-safe as the router is).

    `name` is the first deployment the router would try, e.g. "openai:gpt-4o-mini".
    """

    def __init__(self, router: Router, key: str = "eval-judge", prompt: str | None = None) -> None:
        self._router = router
        self._key = key
        self.prompt = prompt
        # Judges run on worker threads, outside the caller's context: bill the scope open now.
        scope = current_scope()
        self._request_id = scope.request_id if scope is not None else None

    def for_prompt(self, prompt: str) -> RouterJudge:
        """This judge (same router, key and billed request) asking with template `prompt`."""
        other = copy.copy(self)
        other.prompt = prompt
        return other

    @property
    def name(self) -> str:
        """The model that grades, as "provider:model"."""
        return self._router.deployments(self._key)[0].model

    def judge(self, system: str, prompt: str, max_tokens: int) -> JudgeReply:
        """One temperature-0 completion; its text, tokens, cost and whether a cache answered."""
        request = judge_request(system, prompt, max_tokens, self.prompt)
        done = self._router.complete(request, key=self._key, request_id=self._request_id)
        return reply_of(done)


def reply_of(done: Completion) -> JudgeReply:
    """A completion as a judge reply (`cached`: a cache, or a finished batch, answered)."""
    return JudgeReply(
        text=done.text,
        tokens_in=done.usage.tokens_in,
        tokens_out=done.usage.tokens_out,
        cost_usd=done.cost_usd,
        cached=done.cache is not None,
    )


@dataclass(frozen=True, slots=True)
class Asked:
    """One judge call, as a key: what `judge` was given and the template it names."""

    system: str
    prompt: str
    max_tokens: int
    template: str | None

    def request(self) -> ChatRequest:
        return judge_request(self.system, self.prompt, self.max_tokens, self.template)


class NotYetAsked(ProviderError):
    """A `ReplayJudge` call no batch has answered yet (the item is asked in the next round)."""


class ReplayJudge:
    """A `JudgeModel` answering from batch replies (`known`); every other call is noted in
    `missing` and fails with `NotYetAsked` (the item is unmeasured in this pass only).

    judge = ReplayJudge("openai:gpt-4o-mini", known, prompt="synthesize@1")
    """

    def __init__(
        self, name: str, known: dict[Asked, Completion | ProviderError], prompt: str | None = None
    ) -> None:
        self._name = name
        self._known = known
        self.prompt = prompt
        self.missing: dict[Asked, None] = {}  # in first-asked order
        self._lock = threading.Lock()  # judge_all may call from several threads

    @property
    def name(self) -> str:
        return self._name

    def for_prompt(self, prompt: str) -> ReplayJudge:
        """This judge (same replies, same record of what is missing) for template `prompt`."""
        other = copy.copy(self)
        other.prompt = prompt
        return other

    def judge(self, system: str, prompt: str, max_tokens: int) -> JudgeReply:
        asked = Asked(system, prompt, max_tokens, self.prompt)
        known = self._known.get(asked)
        if isinstance(known, Completion):
            return reply_of(known)
        if known is not None:
            raise known  # the batch's failure after its retries: the item is unmeasured
        with self._lock:
            self.missing[asked] = None
        raise NotYetAsked("not answered by a batch yet")


def replayed(
    work: Callable[[ReplayJudge], T],
    runner: BatchRunner,
    name: str,
    *,
    key: str,
    prompt: str | None = None,
    rounds: int = 2,
) -> tuple[T, list[BatchRun]]:
    """`work`'s result with every judge call answered by batches (see the module docstring),
    and the batch runs it took: at most `rounds` (first asks, then retries of unparseable
    replies); a call still unasked after them fails (its item unmeasured).

    run, batches = replayed(lambda judge: synthesize(chunks, judge), runner, name, key="syn")
    """
    known: dict[Asked, Completion | ProviderError] = {}
    runs: list[BatchRun] = []
    for _ in range(rounds):
        judge = ReplayJudge(name, known, prompt)
        result = work(judge)
        if not judge.missing:
            return result, runs
        asked = list(judge.missing)
        run = runner.run([a.request() for a in asked], key=key)
        runs.append(run)
        known.update(zip(asked, run.results, strict=True))
    # a call still missing now (a third, new prompt for one item) fails as NotYetAsked
    return work(ReplayJudge(name, known, prompt)), runs
