"""LLM-judged metrics with our own prompts: faithfulness, answer relevancy, context precision
and context recall.

    run = judge_all(items, "faithfulness", judge)            # judge: any `JudgeModel`
    run.aggregate.value, run.aggregate.unmeasured, run.cost_usd, run.failures["unparseable"]

One judge call per item: a versioned template per metric (configs/prompts/judge-<metric>/,
`JudgeConfig.prompt_version`; an item's prompt is byte-identical across runs, so the router's
exact cache makes reruns free), a strict JSON reply, a parser that rejects anything else. The
item's text sits in tags the system prompt declares to be data; tag look-alikes inside it are
escaped. A judge that raises, times out or stays unparseable (one retry, whose prompt adds
the parse error so a cached bad reply is not replayed) leaves the item unmeasured: value None,
`failure` and `error` say why; so do items the metric does not apply to ("not_applicable").
Aggregates average the measured items only and are never NaN.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, Field

from ragline.core.prompts import PromptTemplate, load_prompt
from ragline.evals.judges.fencing import defuse, fenced, tag_pattern
from ragline.evals.judges.protocol import JudgeModel, JudgeReply
from ragline.evals.result import Aggregate, aggregate

MetricName: TypeAlias = Literal[
    "faithfulness", "answer_relevancy", "context_precision", "context_recall"
]
FailureKind: TypeAlias = Literal["exception", "timeout", "unparseable", "not_applicable"]
FAILURE_KINDS: Final[tuple[FailureKind, ...]] = get_args(FailureKind)
METRICS: Final[tuple[MetricName, ...]] = get_args(MetricName)
_MAX_REASON: Final = 500
DEFAULT_PROMPT_VERSION: Final = 1


class JudgeConfig(BaseModel):
    """How `judge_all` calls the judge; `prompt_version` picks the judge-<metric> templates.

    JudgeConfig(retry_unparseable=False, workers=8, prompt_version=1)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry_unparseable: bool = Field(True, description="ask once more after an unparseable reply")
    max_tokens: int | None = Field(None, ge=16, description="reply budget; null: the metric's")
    workers: int = Field(1, ge=1, le=64, description="judge calls in flight at once (threads)")
    prompt_version: int = Field(
        DEFAULT_PROMPT_VERSION, ge=1, description="version of the judge-<metric> templates"
    )


@dataclass(frozen=True, slots=True)
class JudgeItem:
    """What a judge sees of one answered question.

    JudgeItem(question="Who wrote Emma?", answer="Jane Austen wrote it.",
              contexts=("Emma is an 1815 novel by Jane Austen.",), gold_answers=("Jane Austen",))

    `contexts`: the retrieved chunks' text, best first. `gold_answers[0]` is the reference that
    context precision and context recall use (the others are alternatives for exact match).
    """

    question: str
    answer: str = ""
    contexts: tuple[str, ...] = ()
    gold_answers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Judged:
    """One item's judged score: `value` in [0, 1], or None (unmeasured) with `failure`/`error`.

    Judged(value=0.5, reason="1 of 2 claims supported", tokens_in=300, tokens_out=40)
    """

    value: float | None
    reason: str = ""
    error: str | None = None
    failure: FailureKind | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    cached: bool = False  # every judge call for this item was answered from a cache
    attempts: int = 0  # judge calls made (0: decided without the judge)


@dataclass(frozen=True, slots=True)
class JudgeRun:
    """A metric judged over a set: per-item results (in item order), the aggregate and costs.

    run = judge_all(items, "answer_relevancy", judge)
    run.aggregate                  # Aggregate(name="answer_relevancy", value=0.8, measured=9, ...)
    run.failures                   # {"exception": 1, "timeout": 0, "unparseable": 0, ...}
    """

    metric: MetricName
    judge_model: str
    results: tuple[Judged, ...]
    aggregate: Aggregate
    tokens_in: int
    tokens_out: int
    cost_usd: float
    cached: int  # items whose every judge call was a cache hit
    failures: dict[str, int] = field(default_factory=dict)  # by FailureKind, all kinds present
    prompt: str | None = None  # the template judged with ("judge-faithfulness@1"); None: ragas


class UnparseableReply(ValueError):
    """The judge's reply is not the JSON the template asked for; the message says what is off."""


# ---------------------------------------------------------------------------------- prompts

# The data a template may show, each in its tags (the system text declares them data).
DATA_VARIABLES: Final = ("question", "answer", "reference", "context")
_TAGS: Final = tag_pattern("question", "answer", "reference", "context", "chunk")


def _escape(text: str) -> str:
    """Defuse our tags inside data, so a document cannot close its <context> and speak."""
    return defuse(text, _TAGS)


def _data(tag: str, text: str) -> str:
    return fenced(tag, text, _TAGS)


def _context(contexts: Sequence[str]) -> str:
    chunks = "\n".join(
        f'<chunk id="{i}">\n{_escape(c)}\n</chunk>' for i, c in enumerate(contexts, start=1)
    )
    return f"<context>\n{chunks}\n</context>" if chunks else "<context>\n</context>"


def _reference(item: JudgeItem) -> str:
    return item.gold_answers[0].strip() if item.gold_answers else ""


def prompt_name(metric: MetricName) -> str:
    """The template a metric is judged with: "judge-" and the metric, with hyphens.

    Example:
        >>> prompt_name("answer_relevancy")
        'judge-answer-relevancy'
    """
    return "judge-" + metric.replace("_", "-")


def judge_prompt(metric: MetricName, version: int = DEFAULT_PROMPT_VERSION) -> PromptTemplate:
    """The metric's template at `version` (cached), checked to use only the item's data blocks;
    raises `ragline.core.prompts.PromptError` naming the files there are."""
    return load_prompt(prompt_name(metric), version).require(
        DATA_VARIABLES, setting=f"judge.prompt_version ({metric})"
    )


def _data_blocks(item: JudgeItem) -> dict[str, str]:
    """The item's data, each block fenced in its tags. `reference` carries its own blank line
    (the templates write "{{reference}}{{context}}"), so an item without one leaves no gap."""
    reference = _reference(item)
    return {
        "question": _data("question", item.question),
        "answer": _data("answer", item.answer),
        "reference": _data("reference", reference) + "\n\n" if reference else "",
        "context": _context(item.contexts),
    }


def _render(template: PromptTemplate, item: JudgeItem) -> tuple[str, str]:
    """The (system, user) prompt: the template filled with the item's data; a pure function."""
    blocks = _data_blocks(item)
    rendered = template.render(**{name: blocks[name] for name in template.variables})
    return rendered.system, rendered.user


# ---------------------------------------------------------------------------------- parsing

_Parser: TypeAlias = Callable[[str, JudgeItem], tuple[float | None, str]]
_FENCE: Final = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def _reject_constant(name: str) -> float:
    raise UnparseableReply(f"{name} is not a valid score")


def _object(text: str) -> dict[str, object]:
    """The reply as a JSON object; one surrounding ``` fence is tolerated, nothing else."""
    body = text.strip()
    fenced = _FENCE.fullmatch(body)
    if fenced:
        body = fenced.group(1)
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise UnparseableReply(f"the reply is not valid JSON ({err.msg})") from err
    if not isinstance(data, dict):
        raise UnparseableReply("the reply must be one JSON object")
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise UnparseableReply('"reason" must be a string')
    return data


def _entries(data: dict[str, object], key: str, flag: str) -> list[dict[str, object]]:
    """The list under `key`, each entry an object with a boolean `flag`."""
    entries = data.get(key)
    if not isinstance(entries, list):
        raise UnparseableReply(f'"{key}" must be a list')
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get(flag), bool):
            raise UnparseableReply(f'{key}[{n}] needs "{flag}": true or false')
    return entries


def _reason(data: dict[str, object]) -> str:
    return str(data.get("reason", ""))[:_MAX_REASON]


def _parse_fraction(key: str, flag: str, allow_empty: bool) -> _Parser:
    def parse(text: str, item: JudgeItem) -> tuple[float | None, str]:
        data = _object(text)
        verdicts = [e[flag] is True for e in _entries(data, key, flag)]
        if not verdicts:
            if allow_empty:
                return None, _reason(data) or f"no {key} to judge"
            raise UnparseableReply(f'"{key}" is empty; the reference has at least one statement')
        return sum(verdicts) / len(verdicts), _reason(data)

    return parse


_parse_claims: Final = _parse_fraction("claims", "supported", allow_empty=True)
_parse_statements: Final = _parse_fraction("statements", "attributed", allow_empty=False)


def _parse_score(text: str, item: JudgeItem) -> tuple[float | None, str]:
    data = _object(text)
    score = data.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
        raise UnparseableReply('"score" must be a number from 0 to 1')
    return float(score), _reason(data)


def _parse_precision(text: str, item: JudgeItem) -> tuple[float | None, str]:
    data = _object(text)
    entries = _entries(data, "verdicts", "relevant")
    relevant = [e["relevant"] is True for e in entries]
    chunks = [e.get("chunk") for e in entries]
    if chunks != list(range(1, len(item.contexts) + 1)) or any(isinstance(c, bool) for c in chunks):
        raise UnparseableReply(
            f'"verdicts" must give chunks 1..{len(item.contexts)} once each, in order'
        )
    return average_precision(relevant), _reason(data)


def average_precision(relevant: Sequence[bool]) -> float:
    """Rank-weighted context precision, as ragas computes it: the mean of precision@k over the
    ranks k that hold a relevant chunk; 0.0 when none is relevant.

    average_precision([True, False, True]) == (1/1 + 2/3) / 2
    """
    hits, total = 0, 0.0
    for k, rel in enumerate(relevant, start=1):
        if rel:
            hits += 1
            total += hits / k
    return total / hits if hits else 0.0


@dataclass(frozen=True, slots=True)
class _Metric:
    parse: _Parser
    precheck: Callable[[JudgeItem], Judged | None]  # a result without calling the judge
    max_tokens: int


def _skip(reason: str) -> Judged:
    return Judged(value=None, reason=reason, error=reason, failure="not_applicable")


def _check_faithfulness(item: JudgeItem) -> Judged | None:
    return _skip("the answer is empty: no claims to check") if not item.answer.strip() else None


def _check_relevancy(item: JudgeItem) -> Judged | None:
    return Judged(value=0.0, reason="the answer is empty") if not item.answer.strip() else None


def _check_precision(item: JudgeItem) -> Judged | None:
    return _skip("nothing was retrieved") if not item.contexts else None


def _check_recall(item: JudgeItem) -> Judged | None:
    if not _reference(item):
        return _skip("the item has no gold answer")
    return Judged(value=0.0, reason="nothing was retrieved") if not item.contexts else None


_METRICS: Final[dict[MetricName, _Metric]] = {
    "faithfulness": _Metric(_parse_claims, _check_faithfulness, 1024),
    "answer_relevancy": _Metric(_parse_score, _check_relevancy, 256),
    "context_precision": _Metric(_parse_precision, _check_precision, 1024),
    "context_recall": _Metric(_parse_statements, _check_recall, 1024),
}


def prompt_for(
    item: JudgeItem, metric: MetricName, version: int = DEFAULT_PROMPT_VERSION
) -> tuple[str, str]:
    """The (system, user) prompt the judge gets for `item`: a pure function of the item."""
    return _render(judge_prompt(metric, version), item)


def parse_reply(text: str, item: JudgeItem, metric: MetricName) -> tuple[float | None, str]:
    """(value, reason) from a judge reply; raises `UnparseableReply` on anything malformed.

    A value of None means the metric does not apply (faithfulness of an answer with no claims).
    """
    return _METRICS[metric].parse(text, item)


# ---------------------------------------------------------------------------------- running

_RETRY: Final = (
    "\n\nYour previous reply could not be used: {error}. Reply again with only the JSON "
    "object in the form described above."
)


def _failure_kind(err: Exception) -> FailureKind:
    # evals cannot import ragline.llm_router, so its Timeout (and httpx's) are recognised by name.
    timeout = isinstance(err, TimeoutError) or any(
        "Timeout" in c.__name__ for c in type(err).__mro__
    )
    return "timeout" if timeout else "exception"


def judge_item(
    item: JudgeItem, metric: MetricName, judge: JudgeModel, config: JudgeConfig | None = None
) -> Judged:
    """Judge one item; never raises for a judge failure (the result says what went wrong)."""
    config = config or JudgeConfig()
    spec = _METRICS[metric]
    early = spec.precheck(item)
    if early is not None:
        return early
    system, prompt = _render(judge_prompt(metric, config.prompt_version), item)
    max_tokens = config.max_tokens or spec.max_tokens
    replies: list[JudgeReply] = []
    tries = 2 if config.retry_unparseable else 1
    for attempt in range(tries):
        try:
            reply = judge.judge(system, prompt, max_tokens)
        except Exception as err:  # noqa: BLE001 -- any judge failure is recorded, not raised
            return _finish(replies, None, f"{type(err).__name__}: {err}", _failure_kind(err))
        replies.append(reply)
        try:
            value, reason = spec.parse(reply.text, item)
        except UnparseableReply as err:
            if attempt + 1 == tries:
                return _finish(replies, None, str(err), "unparseable")
            prompt += _RETRY.format(error=err)
            continue
        if value is None:
            return _finish(replies, None, reason or "not applicable", "not_applicable")
        return _finish(replies, value, reason, None)
    raise AssertionError("unreachable: the loop returns on its last attempt")


def _finish(
    replies: Sequence[JudgeReply], value: float | None, reason: str, failure: FailureKind | None
) -> Judged:
    """The item's result, with the costs of every reply; `reason` is the error on a failure."""
    return Judged(
        value=value,
        reason="" if failure and failure != "not_applicable" else reason,
        error=reason[:_MAX_REASON] if failure else None,
        failure=failure,
        tokens_in=sum(r.tokens_in for r in replies),
        tokens_out=sum(r.tokens_out for r in replies),
        cost_usd=sum(r.cost_usd for r in replies),
        cached=bool(replies) and all(r.cached for r in replies),
        attempts=len(replies),
    )


def _in_order(
    items: Sequence[JudgeItem], fn: Callable[[JudgeItem], Judged], workers: int
) -> Iterator[Judged]:
    """`map(fn, items)`, on `workers` threads when more than one; stopping early (an error, or
    Ctrl-C) cancels the calls not yet started instead of waiting for all of them."""
    if workers == 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield from pool.map(fn, items)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def judge_all(
    items: Sequence[JudgeItem],
    metric: MetricName,
    judge: JudgeModel,
    *,
    config: JudgeConfig | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> JudgeRun:
    """Judge every item with `metric`; results in item order, failures counted by kind.

    `on_progress(done, total)` is called after each item (from the calling thread). With
    `config.workers > 1` the judge is called from that many threads at once, so it must be
    thread-safe; the results do not depend on the number of workers.
    """
    if metric not in _METRICS:
        raise ValueError(f"unknown judge metric {metric!r}; choose one of {', '.join(METRICS)}")
    config = config or JudgeConfig()
    template = judge_prompt(metric, config.prompt_version)  # a missing version fails up front
    results: list[Judged] = []
    for judged in _in_order(items, lambda i: judge_item(i, metric, judge, config), config.workers):
        results.append(judged)
        if on_progress is not None:
            on_progress(len(results), len(items))
    return judge_run(metric, judge.name, results, prompt=template.id)


def judge_run(
    metric: MetricName, judge_model: str, results: Sequence[Judged], prompt: str | None = None
) -> JudgeRun:
    """A `JudgeRun` from per-item results: the aggregate, costs and failures by kind; `prompt`
    names the template judged with (None when the prompts were not ours)."""
    failures: dict[str, int] = dict.fromkeys(FAILURE_KINDS, 0)
    for r in results:
        if r.failure is not None:
            failures[r.failure] += 1
    return JudgeRun(
        metric=metric,
        judge_model=judge_model,
        results=tuple(results),
        aggregate=aggregate(metric, [r.value for r in results]),
        tokens_in=sum(r.tokens_in for r in results),
        tokens_out=sum(r.tokens_out for r in results),
        cost_usd=sum(r.cost_usd for r in results),
        cached=sum(r.cached for r in results),
        failures=failures,
        prompt=prompt,
    )
