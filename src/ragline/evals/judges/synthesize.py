"""Draft golden questions from ingested chunks, for a person to review before they count.

    chunks = sample_chunks(all_chunks, n=50, seed=0)      # spread over documents
    run = synthesize(chunks, generator)                    # generator: any `JudgeModel`
    write_golden_jsonl(run.items, Path("golden.jsonl"))    # load_golden_jsonl reads it back
    run.kept, run.failures["unparseable"], run.duplicates, run.cost_usd

One generator call per chunk: a versioned template (configs/prompts/synthesize/,
`prompt_version`; byte-identical across runs, so the router's exact cache makes reruns free)
asks for one question the passage answers and a short answer from it, as strict JSON. The
passage sits in tags the system prompt declares to be data; tag look-alikes inside it are
escaped. A reply that is not exactly {"question", "answer"} gets one retry with the parse
error; a generator that raises or stays unparseable is a counted failure.
Every item is marked `synthetic` and tagged "synthetic": generated questions can be wrong,
leading or trivial, and are no golden set until someone has read them.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TypeAlias, get_args

from ragline.core.prompts import PromptTemplate, load_prompt
from ragline.evals.datasets import GoldenItem, JsonValue
from ragline.evals.judges.fencing import fenced, tag_pattern
from ragline.evals.judges.protocol import JudgeModel, JudgeReply

FailureReason: TypeAlias = Literal["exception", "timeout", "unparseable"]
FAILURE_REASONS: Final[tuple[FailureReason, ...]] = get_args(FailureReason)
MIN_WORDS: Final = 40  # shorter chunks (headings, captions, fragments) make trivial questions
MAX_TOKENS: Final = 256
PROMPT_NAME: Final = "synthesize"
DEFAULT_PROMPT_VERSION: Final = 1
_MAX_QUESTION, _MAX_ANSWER = 400, 600  # characters


@dataclass(frozen=True, slots=True)
class SourceChunk:
    """One stored chunk to ask about.

    SourceChunk("3f2a...", "guide.md", "To install ragline, run ...", page_number=3,
                section_heading="Install")
    """

    chunk_id: str
    source_document: str
    text: str
    page_number: int | None = None
    section_heading: str | None = None


@dataclass(frozen=True, slots=True)
class SynthesisRun:
    """The kept items (ids syn-1, syn-2, ... in chunk order) and what the run cost.

    run = synthesize(chunks, generator)
    run.asked == run.kept + run.failed + run.duplicates
    run.failures            # {"exception": 0, "timeout": 0, "unparseable": 2}
    """

    generator_model: str
    items: tuple[GoldenItem, ...]
    asked: int
    duplicates: int  # questions equal (after normalising) to an earlier kept one
    failures: dict[str, int] = field(default_factory=dict)  # by FailureReason, all present
    errors: tuple[str, ...] = ()  # "<chunk_id>: <reason>: <detail>" per failed chunk
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    cached: int = 0  # chunks whose every generator call was a cache hit
    prompt: str | None = None  # the template asked with ("synthesize@1")

    @property
    def kept(self) -> int:
        return len(self.items)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


class UnparseableReply(ValueError):
    """The reply is not the JSON the template asked for; the message says what is off."""


# ---------------------------------------------------------------------------------- sampling


def sample_chunks(chunks: Iterable[SourceChunk], n: int, seed: int) -> list[SourceChunk]:
    """Up to `n` chunks of at least `MIN_WORDS` words, spread across documents.

    Documents are visited round-robin in a seeded order, each contributing its chunks in a
    seeded order, so a 50-chunk sample of a 10-document collection takes 5 from each. The
    result depends only on the chunks (not their input order), `n` and `seed`.
    """
    by_doc: dict[str, list[SourceChunk]] = {}
    for chunk in sorted(chunks, key=lambda c: (c.source_document, c.chunk_id)):
        if len(chunk.text.split()) >= MIN_WORDS:
            by_doc.setdefault(chunk.source_document, []).append(chunk)
    rng = random.Random(seed)
    queues = list(by_doc.values())
    rng.shuffle(queues)
    for queue in queues:
        rng.shuffle(queue)
    picked: list[SourceChunk] = []
    for depth in range(max((len(q) for q in queues), default=0)):
        picked += [q[depth] for q in queues if depth < len(q)]
    return picked[: max(n, 0)]


# ---------------------------------------------------------------------------------- prompts

_RETRY: Final = (
    "\n\nYour previous reply could not be used: {error}. Reply again with only the JSON "
    "object in the form described above."
)
_TAGS: Final = tag_pattern("source", "passage")


def _data(tag: str, text: str) -> str:
    """`text` fenced as data: a document cannot close its <passage> and speak."""
    return fenced(tag, text, _TAGS)


def synthesize_prompt(version: int = DEFAULT_PROMPT_VERSION) -> PromptTemplate:
    """The synthesize template at `version` (cached), checked to use only the <source> and
    <passage> blocks; raises `ragline.core.prompts.PromptError` naming the files there are."""
    return load_prompt(PROMPT_NAME, version).require(
        ("source", "passage"), ("passage",), setting="synthesize prompt_version"
    )


def prompt_for(chunk: SourceChunk, version: int = DEFAULT_PROMPT_VERSION) -> tuple[str, str]:
    """The (system, user) prompt for one chunk: a pure function of the chunk."""
    where = chunk.source_document
    if chunk.section_heading:
        where += f", section {chunk.section_heading}"
    if chunk.page_number is not None:
        where += f", page {chunk.page_number}"
    template = synthesize_prompt(version)
    blocks = {"source": _data("source", where), "passage": _data("passage", chunk.text)}
    rendered = template.render(**{name: blocks[name] for name in template.variables})
    return rendered.system, rendered.user


# ---------------------------------------------------------------------------------- parsing

_FENCE: Final = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def parse_reply(text: str) -> tuple[str, str]:
    """(question, answer) from a reply; raises `UnparseableReply` on anything else.

    One surrounding ``` fence is tolerated. The object must hold exactly "question" (a
    non-empty string ending in "?") and "answer" (a non-empty string).
    """
    body = text.strip()
    fenced = _FENCE.fullmatch(body)
    try:
        data = json.loads(fenced.group(1) if fenced else body)
    except json.JSONDecodeError as err:
        raise UnparseableReply(f"the reply is not valid JSON ({err.msg})") from err
    if not isinstance(data, dict):
        raise UnparseableReply("the reply must be one JSON object")
    extra = sorted(set(data) - {"question", "answer"})
    if extra:
        raise UnparseableReply(f'unexpected keys {extra}; give only "question" and "answer"')
    question, answer = data.get("question"), data.get("answer")
    if not isinstance(question, str) or not question.strip().endswith("?"):
        raise UnparseableReply('"question" must be a string that ends with "?"')
    if not isinstance(answer, str) or not answer.strip():
        raise UnparseableReply('"answer" must be a non-empty string')
    if len(question) > _MAX_QUESTION or len(answer) > _MAX_ANSWER:
        raise UnparseableReply("the question or the answer is too long; keep each short")
    return " ".join(question.split()), " ".join(answer.split())


# ---------------------------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class _Drafted:
    """One chunk's outcome: a (question, answer) pair or a failure, with its replies."""

    chunk: SourceChunk
    replies: tuple[JudgeReply, ...]
    pair: tuple[str, str] | None = None
    failure: FailureReason | None = None
    error: str = ""


def _failure_reason(err: Exception) -> FailureReason:
    # evals cannot import ragline.llm_router, so its Timeout (and httpx's) are recognised by name.
    timeout = isinstance(err, TimeoutError) or any(
        "Timeout" in c.__name__ for c in type(err).__mro__
    )
    return "timeout" if timeout else "exception"


def draft(
    chunk: SourceChunk, generator: JudgeModel, version: int = DEFAULT_PROMPT_VERSION
) -> _Drafted:
    """Ask for one chunk's question (one retry on an unparseable reply); never raises for a
    generator failure."""
    system, prompt = prompt_for(chunk, version)
    replies: list[JudgeReply] = []
    for attempt in range(2):
        try:
            reply = generator.judge(system, prompt, MAX_TOKENS)
        except Exception as err:  # noqa: BLE001 -- any generator failure is counted, not raised
            why = f"{type(err).__name__}: {err}"
            return _Drafted(chunk, tuple(replies), failure=_failure_reason(err), error=why)
        replies.append(reply)
        try:
            return _Drafted(chunk, tuple(replies), pair=parse_reply(reply.text))
        except UnparseableReply as err:
            if attempt == 1:
                return _Drafted(chunk, tuple(replies), failure="unparseable", error=str(err))
            prompt += _RETRY.format(error=err)
    raise AssertionError("unreachable: the loop returns on its last attempt")


def _in_order(
    chunks: Sequence[SourceChunk], fn: Callable[[SourceChunk], _Drafted], workers: int
) -> Iterator[_Drafted]:
    """`map(fn, chunks)`, on `workers` threads when more than one; stopping early cancels the
    calls not yet started."""
    if workers == 1:
        yield from map(fn, chunks)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield from pool.map(fn, chunks)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def normalise(question: str) -> str:
    """The form two questions are compared in: lower case, letters and digits only."""
    return " ".join(re.sub(r"[^\w\s]", " ", question.casefold()).split())


def synthesize(
    chunks: Sequence[SourceChunk],
    generator: JudgeModel,
    *,
    workers: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
    prompt_version: int = DEFAULT_PROMPT_VERSION,
) -> SynthesisRun:
    """One question per chunk, in chunk order; later near-duplicates of a kept one dropped.

    `on_progress(done, total)` is called after each chunk (from the calling thread). With
    `workers > 1` the generator is called from that many threads at once, so it must be
    thread-safe; the result does not depend on the number of workers. `prompt_version` picks
    configs/prompts/synthesize/v<N>.yaml; the run records its id.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    template = synthesize_prompt(prompt_version)  # a missing version fails before any call
    drafted: list[_Drafted] = []
    for one in _in_order(chunks, lambda c: draft(c, generator, prompt_version), workers):
        drafted.append(one)
        if on_progress is not None:
            on_progress(len(drafted), len(chunks))
    return dataclasses.replace(_tally(drafted, generator.name), prompt=template.id)


def _tally(drafted: Sequence[_Drafted], model: str) -> SynthesisRun:
    """Kept items (first of each normalised question), failures by reason, costs."""
    items: list[GoldenItem] = []
    seen: set[str] = set()
    for one in drafted:
        if one.pair is not None and normalise(one.pair[0]) not in seen:
            seen.add(normalise(one.pair[0]))
            items.append(_item(len(items) + 1, one.chunk, *one.pair, model))
    failures: dict[str, int] = dict.fromkeys(FAILURE_REASONS, 0)
    for one in drafted:
        if one.failure is not None:
            failures[one.failure] += 1
    replies = [r for one in drafted for r in one.replies]
    return SynthesisRun(
        generator_model=model,
        items=tuple(items),
        asked=len(drafted),
        duplicates=sum(one.pair is not None for one in drafted) - len(items),
        failures=failures,
        errors=tuple(f"{d.chunk.chunk_id}: {d.failure}: {d.error}" for d in drafted if d.failure),
        tokens_in=sum(r.tokens_in for r in replies),
        tokens_out=sum(r.tokens_out for r in replies),
        cost_usd=sum(r.cost_usd for r in replies),
        cached=sum(bool(one.replies) and all(r.cached for r in one.replies) for one in drafted),
    )


def _item(number: int, chunk: SourceChunk, question: str, answer: str, model: str) -> GoldenItem:
    metadata: dict[str, JsonValue] = {
        "chunk_id": chunk.chunk_id,
        "page_number": chunk.page_number,
        "section_heading": chunk.section_heading,
        "generator": model,
        "passage": chunk.text,  # what a reviewer checks the question and answer against
    }
    return GoldenItem(
        id=f"syn-{number}",
        question=question,
        answers=(answer,),
        sources=(chunk.source_document,),
        tags=("synthetic",),
        synthetic=True,
        metadata=metadata,
    )


# ---------------------------------------------------------------------------------- writing


def golden_record(item: GoldenItem) -> dict[str, JsonValue]:
    """One item as the JSON object `load_golden_jsonl` reads; metadata keys sit at the top."""
    record: dict[str, JsonValue] = {
        "id": item.id,
        "question": item.question,
        "answers": list(item.answers),
        "sources": list(item.sources),
        "tags": list(item.tags),
        "should_abstain": item.should_abstain,
        "synthetic": item.synthetic,
    }
    clash = sorted(set(item.metadata) & set(record))
    if clash:
        raise ValueError(f"item {item.id!r}: metadata keys {clash} clash with item fields")
    record.update(item.metadata)
    return record


def write_golden_jsonl(items: Sequence[GoldenItem], path: Path) -> None:
    """Write one item per line (UTF-8), replacing `path`; `load_golden_jsonl` reads it back.

    Raises ValueError for no items (the loader refuses an empty file) or a repeated id.
    """
    if not items:
        raise ValueError(f"no items to write to {path}; a golden file needs at least one")
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("item ids must be unique; the loader refuses a repeated id")
    lines = [json.dumps(golden_record(item), ensure_ascii=False) for item in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
