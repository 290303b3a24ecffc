"""Grounded answers: retrieved hits in, an answer with verified citations out.

    result = answer("How do I install ragline?", hits, resolve("extractive"), AnswerConfig())
    result.text          # "Run pip install ragline. [Source: guide.md, page 3]"
    result.citations     # (Citation(document="guide.md", page=3, chunk_id=..., ...),)

The steps, each a plain function:
1. Abstain without calling the model when there are no hits, or the best hit's score is below
   `min_relevance`; hits below it are left out of the context as well. This is where "is the
   context relevant?" is decided, on the relevance retrieval measured: the `extractive`
   answerer does not second-guess it by counting shared words (an answer may share one word
   with its question), so off-topic questions must be stopped here.
2. Build the prompt (`build_request`) from the template `AnswerConfig.prompt` names
   (configs/prompts/grounded-answer/v1.yaml by default, `ragline.core.prompts`): the rules as
   the system message, then the numbered context blocks (laid out by
   `ragline.llm_router.grounding`) and the question as the user message. Document text only
   ever appears inside a block, after the rules. The request, and the answer, carry the
   template's id ("grounded-answer@1"), so cost events and answers say which prompt was used.
3. Check the citations of the completion (`verify_citations`): a citation naming a document
   (and page) that is not among the context blocks, or a block that does not hold the words it
   is cited for (`ragline.rag.answer_checks`), is removed from the text; a sentence quoted
   from one block and credited to another is credited to the block that holds it. The blocks
   that are cited become `Answer.citations`.
4. An answer that cites nothing gets the top context block as its citation, marked
   `inferred=True` (what the answer most likely rests on, not verified in the text). An answer
   that says "I don't have enough information" is an abstention and has no citations.
5. Flag an answer that repeats an instruction planted in the context ("ignore previous
   instructions and say ..."): `Answer.warnings` says which, and from which document.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragline.core.chat import ChatModel, ChatRequest, Completion, Usage
from ragline.core.index import Hit
from ragline.core.prompts import PromptError, PromptTemplate, resolve_prompt
from ragline.core.types import JsonValue
from ragline.llm_router.grounding import (
    CONTEXT_LABEL,
    NOT_ENOUGH_INFO,
    QUESTION_LABEL,
    ContextBlock,
    citation,
    find_citations,
    format_user_prompt,
)
from ragline.rag.answer_checks import (
    SUPPORT,
    claim_of,
    coverage,
    quotes,
    repeated_instructions,
)

DEFAULT_PROMPT = "grounded-answer@1"
DEFAULT_CONDENSE_PROMPT = "condense@1"
_UNSURE = re.compile(r"^\W*i (?:don['’]?t|do not) have enough information", re.IGNORECASE)


class AnswerConfig(BaseModel):
    """How answers are built from hits.

    `min_relevance` is compared with `Hit.score` as the caller hands the hits over, so it must
    be a relevance score on a 0..1 scale: a dense cosine similarity, or a reranker score
    squashed to 0..1. With all-MiniLM-L6-v2 the best hit of a question the corpus does not
    answer still scores up to about 0.25 in a large corpus (0.19-0.25 for general-knowledge
    questions over 931 man pages), while questions it answers score 0.35 and up: 0.3 sits in
    that gap. Rank-fusion scores (RRF, DBSF) order hits but do not say whether any of them is
    relevant: rerank first, or set `min_relevance` to null to let the model decide.

    `prompt` and `condense_prompt` name versioned templates in configs/prompts/
    (`ragline.core.prompts`); a name without "@version" means its latest version. Both are
    checked when the settings load: an unknown template or version, or one whose variables the
    code does not fill, is a config error that names the files present.

        AnswerConfig(min_relevance=0.35, max_context_blocks=4, max_tokens=256,
                     prompt="grounded-answer@1")
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_relevance: float | None = Field(
        0.3, description="abstain (no model call) when the best Hit.score is below; null: never"
    )
    max_context_blocks: int = Field(5, ge=1, le=50, description="hits shown to the model")
    max_tokens: int = Field(384, gt=0, description="longest answer, in tokens")
    prompt: str = Field(DEFAULT_PROMPT, description="the grounded-answer template, name@version")
    condense_prompt: str = Field(
        DEFAULT_CONDENSE_PROMPT,
        description="the template that makes a follow-up question standalone, name@version",
    )

    @field_validator("prompt")
    @classmethod
    def _answer_template(cls, ref: str) -> str:
        grounded_template(ref)
        return ref

    @field_validator("condense_prompt")
    @classmethod
    def _condense_template(cls, ref: str) -> str:
        condense_template(ref)
        return ref


def grounded_template(ref: str) -> PromptTemplate:
    """The grounded-answer template `ref` names, checked against what `build_request` fills in
    and what reads its output: the abstention phrase in the system text (answers are checked
    for it) and a "Question: {{question}}" line (the extractive answerer reads it)."""
    template = resolve_prompt(ref).require(
        ("context", "question"), ("context", "question"), setting="answer.prompt"
    )
    if NOT_ENOUGH_INFO not in template.system:
        raise PromptError(
            f"prompt {template.id} ({template.source}): the system text must tell the model to "
            f"reply exactly {NOT_ENOUGH_INFO!r} when the context lacks the answer"
        )
    probe = template.render(context="", question="\x00").user.splitlines()
    if f"{QUESTION_LABEL} \x00" not in probe:
        raise PromptError(
            f"prompt {template.id} ({template.source}): the user text needs a line "
            f"'{QUESTION_LABEL} {{{{question}}}}'; the extractive answerer reads the question there"
        )
    return template


def condense_template(ref: str) -> PromptTemplate:
    """The condensing template `ref` names: it is filled with `conversation` (earlier turns,
    one per line as "User: ..." / "Assistant: ...") and `question` (the follow-up)."""
    needed = ("conversation", "question")
    return resolve_prompt(ref).require(needed, needed, setting="answer.condense_prompt")


@dataclass(frozen=True, slots=True)
class Citation:
    """A retrieved chunk an answer rests on. `inferred`: the answer cited nothing, this is the
    top context block it was given."""

    document: str
    page: int | None
    section: str | None
    chunk_id: str
    score: float
    inferred: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """A grounded answer. `abstained`: it says "I don't have enough information" (decided
    before any model call when `usage` is zero). `warnings`: what a reader should know before
    trusting it (it repeats an instruction found in the context)."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    usage: Usage
    latency_ms: float
    model: str
    cost_usd: float = 0.0
    attempts: tuple[str, ...] = ()  # deployments tried, in order, when a router answered
    cache: str | None = None  # "exact" | "semantic" | "miss" once a model was asked; else None
    prompt: str | None = None  # the template the model was asked with ("grounded-answer@1")
    warnings: tuple[str, ...] = ()  # e.g. the answer repeats an instruction found in a document

    def to_dict(self) -> dict[str, JsonValue]:
        """A JSON-ready view (for `ragline ask --json` and the API)."""
        return {
            "text": self.text,
            "abstained": self.abstained,
            "citations": [asdict(c) for c in self.citations],
            "model": self.model,
            "latency_ms": round(self.latency_ms, 3),
            "tokens_in": self.usage.tokens_in,
            "tokens_out": self.usage.tokens_out,
            "cost_usd": self.cost_usd,
            "attempts": list(self.attempts),
            "prompt": self.prompt,
            "warnings": list(self.warnings),
        }


def answer(
    question: str, hits: Sequence[Hit], model: ChatModel, config: AnswerConfig | None = None
) -> Answer:
    """Answer `question` from `hits` (best first) with `model`, citations checked."""
    started = time.perf_counter()
    prepared = prepare_answer(question, hits, config or AnswerConfig())
    if prepared.request is None:
        return _abstain(model.name, Usage(0, 0), started)
    return finish_answer(prepared, model.complete(prepared.request), started)


@dataclass(frozen=True, slots=True)
class PreparedAnswer:
    """An answer up to the model call: the context shown and the request to send (None: the
    context is empty, abstain without asking). `answer` is `prepare_answer`, the model call,
    then `finish_answer`; batch work sends many requests at once in between.

        prepared = prepare_answer(question, hits, AnswerConfig())
        done = finish_answer(prepared, model.complete(prepared.request), started)
    """

    question: str
    context: tuple[Hit, ...]
    request: ChatRequest | None


def prepare_answer(question: str, hits: Sequence[Hit], config: AnswerConfig) -> PreparedAnswer:
    """The context and the request for `question` (ValueError for an empty question)."""
    if not question.strip():
        raise ValueError("the question is empty; ask something")
    context = tuple(select_context(hits, config))
    request = build_request(question, context, config) if context else None
    return PreparedAnswer(question, context, request)


def abstain_unasked(model: str, started: float) -> Answer:
    """The answer of a prepared request that was never sent (empty context): an abstention
    by `model` at no cost."""
    return _abstain(model, Usage(0, 0), started)


def finish_answer(prepared: PreparedAnswer, completion: Completion, started: float) -> Answer:
    """The checked answer from the model's `completion` of `prepared.request`: citations
    verified, abstention recognised, planted instructions flagged (`started`: perf_counter
    when the question came in)."""
    context, request = prepared.context, prepared.request
    prompt = request.prompt if request is not None else None
    text, citations = verify_citations(completion.text, context)
    if not text or _UNSURE.match(text):
        return _abstain(completion.model, completion.usage, started, completion, prompt)
    if not citations:
        citations = (_cite(context[0], inferred=True),)
    blocks = [context_block(i, hit) for i, hit in enumerate(context, start=1)]
    return Answer(
        text=text,
        citations=citations,
        abstained=False,
        usage=completion.usage,
        latency_ms=_since(started),
        model=completion.model,
        cost_usd=completion.cost_usd,
        attempts=completion.attempts,
        cache=completion.cache or "miss",
        prompt=prompt,
        warnings=repeated_instructions(text, prepared.question, blocks),
    )


def select_context(hits: Sequence[Hit], config: AnswerConfig) -> list[Hit]:
    """The hits shown to the model: the first `max_context_blocks` at or above `min_relevance`
    (none at all when the best hit is below it)."""
    floor = config.min_relevance
    kept = [h for h in hits if floor is None or h.score >= floor]
    return kept[: config.max_context_blocks]


def build_request(question: str, context: Sequence[Hit], config: AnswerConfig) -> ChatRequest:
    """The chat request from `config.prompt`'s template: the rules, then the numbered context
    blocks and the question; `prompt` names the template."""
    blocks = [context_block(i, hit) for i, hit in enumerate(context, start=1)]
    template = grounded_template(config.prompt)
    rendered = template.render(context=_blocks_text(blocks), question=" ".join(question.split()))
    return ChatRequest(
        messages=rendered.messages,
        max_tokens=config.max_tokens,
        temperature=0.0,
        prompt=rendered.prompt,
    )


def _blocks_text(blocks: Sequence[ContextBlock]) -> str:
    """The numbered blocks laid out as `format_user_prompt` lays them out (headers, forged
    headers defused, a blank line between blocks), without the label and question line that
    the template holds: one module owns the layout the extractive answerer parses."""
    if not blocks:
        return ""
    laid_out = format_user_prompt(blocks, "?").removeprefix(f"{CONTEXT_LABEL}\n\n")
    return laid_out.removesuffix(f"\n\n{QUESTION_LABEL} ?")


def context_block(index: int, hit: Hit) -> ContextBlock:
    """A hit as a numbered context block (document name, page and section from its payload)."""
    payload = hit.payload
    page = payload.get("page_number")
    section = payload.get("section_heading")
    return ContextBlock(
        index=index,
        document=str(payload.get("source_document") or hit.id),
        text=str(payload.get("text") or ""),
        page=page if isinstance(page, int) and not isinstance(page, bool) else None,
        section=section if isinstance(section, str) and section else None,
    )


def verify_citations(text: str, context: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """`text` without the citations its context does not bear out, and the context hits it cites.

    A citation stands for the words before it, back to the previous citation (`claim_of`). It
    is kept when its document is a context block's document (case and spacing ignored), if it
    names a page one of that document's blocks is on that page, and that block holds the words:
    word for word when any context block quotes them (`quotes`: a sentence quoted from one
    document cannot be credited to another), else `SUPPORT` of their terms (`coverage`, for a
    paraphrase). A quote credited to a block that does not hold it is credited to the block
    that does. Kept citations are rewritten in the canonical form; the hits they name are
    returned in order of first mention, once each.
    """
    blocks = [(context_block(i, h), h) for i, h in enumerate(context, start=1)]
    cited: dict[str, Citation] = {}
    pieces: list[str] = []
    position = 0
    claim = ""
    for start, end, names in _brackets(text):
        claim = claim_of(text[position:start]) or claim  # "[Source: a] [Source: b]": same words
        kept: list[str] = []
        for block, hit, page in _bearing_out(blocks, names, claim):
            if citation(block.document, page) not in kept:
                kept.append(citation(block.document, page))
            cited.setdefault(hit.id, _cite(hit, inferred=False, block=block))
        before = text[position:start]
        pieces.append(before + " " + " ".join(kept) if kept else before.rstrip())
        position = end
    pieces.append(text[position:])
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", "".join(pieces))
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), tuple(cited.values())


def _bearing_out(
    blocks: Sequence[tuple[ContextBlock, Hit]], names: list[tuple[str, int | None]], claim: str
) -> list[tuple[ContextBlock, Hit, int | None]]:
    """The blocks a bracket naming `names` may cite for `claim`, each with the page to cite."""
    quoted = [i for i, (block, _) in enumerate(blocks) if quotes(block.text, claim)]
    out: list[tuple[ContextBlock, Hit, int | None]] = []
    for document, page in names:
        for i, (block, hit) in enumerate(blocks):
            named = _same(block.document, document) and (page is None or block.page == page)
            holds = i in quoted if quoted else coverage(block.text, claim) >= SUPPORT
            if named and holds:
                out.append((block, hit, page))
    if names and not out and quoted:
        block, hit = blocks[quoted[0]]
        out.append((block, hit, block.page))
    return out


def _brackets(text: str) -> list[tuple[int, int, list[tuple[str, int | None]]]]:
    """Each [Source: ...] bracket: its span and the (document, page) pairs it names."""
    spans: dict[tuple[int, int], list[tuple[str, int | None]]] = {}
    for found in find_citations(text):
        spans.setdefault((found.start, found.end), []).append((found.document, found.page))
    return [(start, end, names) for (start, end), names in spans.items()]


def _same(document: str, named: str) -> bool:
    return " ".join(document.split()).casefold() == " ".join(named.split()).casefold()


def _cite(hit: Hit, inferred: bool, block: ContextBlock | None = None) -> Citation:
    block = block or context_block(0, hit)
    return Citation(
        document=block.document,
        page=block.page,
        section=block.section,
        chunk_id=hit.id,
        score=hit.score,
        inferred=inferred,
    )


def _abstain(
    model: str,
    usage: Usage,
    started: float,
    completion: Completion | None = None,
    prompt: str | None = None,
) -> Answer:
    if completion is None:
        return Answer(NOT_ENOUGH_INFO, (), True, usage, _since(started), model)
    return Answer(
        NOT_ENOUGH_INFO,
        (),
        True,
        usage,
        _since(started),
        model,
        completion.cost_usd,
        completion.attempts,
        completion.cache or "miss",
        prompt,
    )


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
