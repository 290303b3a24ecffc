"""ragas' four judged metrics end to end, with a scripted judge that answers each ragas prompt
with the JSON ragas expects (chosen per prompt from the prompt's own input), so every score is
computable by hand; and once over the real router with its exact cache."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from numpy.typing import NDArray
from pydantic import Field

from ragline.core.chat import ChatRequest, Completion, StreamChunk, Usage
from ragline.core.embedding import EmbedKind
from ragline.core.pricing import Price, Prices, PriceTable
from ragline.evals.judges.judge import FAILURE_KINDS, JudgeItem, JudgeRun, MetricName
from ragline.evals.judges.ragas import EmbedderEmbeddings, ragas_judge_all
from ragline.llm_router.caches.exact import SqliteCache
from ragline.llm_router.config import LlmConfig
from ragline.llm_router.guards.breaker import CircuitBreaker
from ragline.llm_router.guards.budgets import Budgets
from ragline.llm_router.langchain_chat import RouterChatModel
from ragline.llm_router.registry import builtin_registry
from ragline.llm_router.router import Router, RouterParts

pytestmark = [
    pytest.mark.unit,
    # ragas 0.4.3 builds a telemetry event for every LLM call even with RAGAS_DO_NOT_TRACK, and
    # reads its user id with json.load(open(...)) without closing the file (_analytics.py:86).
    pytest.mark.filterwarnings(r"ignore:unclosed file .*ragas[/\\]uuid\.json:ResourceWarning"),
]

# The first words of each ragas prompt's instruction -> a short name for the scripts.
PROMPTS = {
    "Given a question and an answer, analyze the complexity": "statements",
    "Your task is to judge the faithfulness": "nli",
    "Generate a question for the given answer": "question",
    "Given question, answer and context verify": "precision",
    "Given a context, and an answer, analyze each sentence": "recall",
    "The output string did not satisfy": "fix",
}
Script = Callable[[str, dict[str, Any]], str]  # (prompt name, the prompt's input) -> reply


def read_prompt(prompt: str) -> tuple[str, dict[str, Any]]:
    """The prompt's name and the JSON input ragas put after its examples."""
    name = next(n for start, n in PROMPTS.items() if prompt.startswith(start))
    data = prompt.rpartition("\ninput: ")[2].rpartition("\nOutput: ")[0]
    return name, json.loads(data)


@dataclass(frozen=True)
class Totals:
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    cache_hits: int


class ScriptedJudge(BaseChatModel):
    """A LangChain chat model answering from `script`; `usage()` as RouterChatModel's (each call
    10 tokens in, 5 out, $0.001); `finish_reason` "length" plays a reply cut at max_tokens."""

    script: Script
    finish_reason: str = "stop"
    prompts: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, *_: Any, **__: Any
    ) -> ChatResult:
        prompt = messages[-1].text
        self.prompts.append(prompt)
        text = self.script(*read_prompt(prompt))
        info = {"finish_reason": self.finish_reason}
        return ChatResult(
            generations=[ChatGeneration(message=AIMessage(text), generation_info=info)]
        )

    def usage(self) -> Totals:
        n = len(self.prompts)
        return Totals(calls=n, tokens_in=10 * n, tokens_out=5 * n, cost_usd=0.001 * n, cache_hits=0)


class WordCounts:
    """A deterministic bag-of-words `Embedder`: one dimension per word, L2-normalised."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}

    def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> NDArray[np.float32]:
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, self.vocabulary.setdefault(word, len(self.vocabulary))] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def reply(**fields: object) -> str:
    return json.dumps(fields)


def judge_with(script: Script) -> ScriptedJudge:
    return ScriptedJudge(script=script)


def run(items: Sequence[JudgeItem], metric: MetricName, judge: ScriptedJudge) -> JudgeRun:
    return ragas_judge_all(items, metric, judge, WordCounts(), judge_model="scripted")


EMMA = JudgeItem(
    question="Who wrote Emma?",
    answer="Jane Austen wrote Emma. It appeared in 1815. She was French.",
    contexts=("Emma is a novel by Jane Austen.", "Paris is in France.", "Emma came out in 1815."),
    gold_answers=(
        "Jane Austen wrote Emma. It was published in 1815. It is set in Highbury. "
        "Its heroine is Emma Woodhouse.",
    ),
)
SUPPORTED = {"Jane Austen wrote Emma.", "Emma appeared in 1815."}


def faithful(name: str, data: dict[str, Any]) -> str:
    if name == "statements":  # three statements; the context supports the first two
        return reply(
            statements=[
                "Jane Austen wrote Emma.",
                "Emma appeared in 1815.",
                "Jane Austen was French.",
            ]
        )
    verdicts = [
        {"statement": s, "reason": "checked", "verdict": int(s in SUPPORTED)}
        for s in data["statements"]
    ]
    return reply(statements=verdicts)


def test_faithfulness_is_the_share_of_supported_statements() -> None:
    judge = judge_with(faithful)
    result = run([EMMA], "faithfulness", judge)
    [judged] = result.results
    assert judged.value == pytest.approx(2 / 3) and judged.failure is None
    assert (judged.attempts, judged.tokens_in, judged.tokens_out) == (2, 20, 10)
    assert judged.cost_usd == pytest.approx(0.002) and result.cost_usd == pytest.approx(0.002)
    assert [read_prompt(p)[0] for p in judge.prompts] == ["statements", "nli"]
    assert read_prompt(judge.prompts[1])[1]["context"] == "\n".join(EMMA.contexts)


def test_an_answer_without_statements_is_not_applicable_never_nan() -> None:
    judge = judge_with(lambda name, data: reply(statements=[]))
    empty = JudgeItem(question="Who wrote Emma?", answer="", contexts=("x",))
    result = run([EMMA, empty], "faithfulness", judge)
    assert [r.failure for r in result.results] == ["not_applicable", "not_applicable"]
    assert [r.attempts for r in result.results] == [1, 0]  # the empty answer is not sent
    assert result.aggregate.value is None and result.aggregate.unmeasured == 2
    assert result.failures == {**dict.fromkeys(FAILURE_KINDS, 0), "not_applicable": 2}


def test_answer_relevancy_is_the_cosine_of_the_generated_question() -> None:
    questions = {
        "Jane Austen wrote Emma.": ("Who wrote Emma?", 0),  # the same question: cosine 1
        "Austen wrote Persuasion.": ("Who wrote Persuasion?", 0),  # 2 of 3 words shared
        "I am not sure.": ("Who wrote Emma?", 1),  # noncommittal: 0 whatever the question
    }

    def script(name: str, data: dict[str, Any]) -> str:
        question, noncommittal = questions[data["response"]]
        return reply(question=question, noncommittal=noncommittal)

    items = [JudgeItem(question="Who wrote Emma?", answer=a) for a in [*questions, " "]]
    result = run(items, "answer_relevancy", judge_with(script))
    assert [r.value for r in result.results] == pytest.approx([1.0, 2 / 3, 0.0, 0.0])
    assert [r.attempts for r in result.results] == [1, 1, 1, 0]  # strictness 1; empty: no call
    assert result.aggregate.value == pytest.approx((1 + 2 / 3) / 4)


def test_context_precision_is_ragas_average_precision_over_the_chunks() -> None:
    useful = {"Emma is a novel by Jane Austen.", "Emma came out in 1815."}

    def script(name: str, data: dict[str, Any]) -> str:
        assert data["answer"] == EMMA.gold_answers[0]  # judged against the reference
        return reply(reason="r", verdict=int(data["context"] in useful))

    no_reference = JudgeItem(question="q", answer="a", contexts=("c",))
    nothing = JudgeItem(question="q", answer="a", gold_answers=("g",))
    result = run([EMMA, no_reference, nothing], "context_precision", judge_with(script))
    first, second, third = result.results
    assert first.value == pytest.approx((1 / 1 + 2 / 3) / 2) and first.attempts == 3
    assert second.failure == third.failure == "not_applicable"
    assert "gold answer" in (second.error or "") and third.error == "nothing was retrieved"


def test_context_recall_is_the_share_of_attributed_reference_statements() -> None:
    def script(name: str, data: dict[str, Any]) -> str:
        sentences = [s.strip() + "." for s in data["answer"].split(".") if s.strip()]
        rows = [
            {"statement": s, "reason": "r", "attributed": int("Highbury" not in s)}
            for s in sentences
        ]
        return reply(classifications=rows)

    nothing = JudgeItem(question="q", answer="a", gold_answers=("g",))
    result = run([EMMA, nothing], "context_recall", judge_with(script))
    assert [r.value for r in result.results] == pytest.approx([0.75, 0.0])
    assert [r.attempts for r in result.results] == [1, 0]


def test_an_unparseable_judge_leaves_the_item_unmeasured_after_ragas_fix_ups() -> None:
    def script(name: str, data: dict[str, Any]) -> str:
        if name == "fix" or data.get("answer") == "Garbled.":
            return "Sure! The statements are: none."
        return faithful(name, data)

    garbled = JudgeItem(question="q", answer="Garbled.", contexts=("c",))
    judge = judge_with(script)
    result = run([EMMA, garbled, EMMA], "faithfulness", judge)
    first, bad, third = result.results
    assert bad.value is None and bad.failure == "unparseable"
    assert "RagasOutputParserException" in (bad.error or "")
    # the first reply, then ragas' "fix the output" prompt: its own reply unparseable, re-fixed
    # twice more; all four calls are counted and costed to the item
    assert bad.attempts == 4 and bad.cost_usd == pytest.approx(0.004)
    assert first.value == third.value == pytest.approx(2 / 3)
    assert result.aggregate.value == pytest.approx(2 / 3) and not math.isnan(result.aggregate.value)
    assert (result.aggregate.measured, result.aggregate.unmeasured) == (2, 1)
    assert result.failures["unparseable"] == 1


def test_ragas_fix_up_prompt_can_rescue_a_malformed_reply() -> None:
    def script(name: str, data: dict[str, Any]) -> str:
        if name == "fix":  # the judge repairs its own reply when asked
            return reply(text=reply(statements=["Jane Austen wrote Emma."]))
        if name == "statements":
            return "statements: Jane Austen wrote Emma."
        return faithful(name, data)

    [judged] = run([EMMA], "faithfulness", judge_with(script)).results
    assert judged.value == 1.0 and judged.attempts == 3


def test_a_reply_cut_at_max_tokens_is_unparseable() -> None:
    judge = ScriptedJudge(script=faithful, finish_reason="length")
    [judged] = run([EMMA], "faithfulness", judge).results
    assert judged.failure == "unparseable" and "LLMDidNotFinishException" in (judged.error or "")


class ProviderTimeout(Exception):
    """Stands for ragline.llm_router.errors.Timeout, which evals recognises by name."""


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (RuntimeError("budget exceeded"), "exception"),
        (ProviderTimeout("slow"), "timeout"),
        (TimeoutError(), "timeout"),
    ],
)
def test_a_judge_that_raises_is_counted_by_kind_and_the_run_goes_on(
    error: Exception, kind: str
) -> None:
    def script(name: str, data: dict[str, Any]) -> str:
        if data.get("answer") == "Boom.":
            raise error
        return faithful(name, data)

    boom = JudgeItem(question="q", answer="Boom.", contexts=("c",))
    result = run([boom, EMMA], "faithfulness", judge_with(script))
    assert [r.failure for r in result.results] == [kind, None]
    assert result.results[0].error is not None and type(error).__name__ in result.results[0].error
    assert result.failures[kind] == 1 and result.aggregate.value == pytest.approx(2 / 3)


def test_progress_is_reported_after_each_item_in_order() -> None:
    ticks: list[tuple[int, int]] = []
    items = [EMMA, JudgeItem(question="q"), EMMA]
    ragas_judge_all(
        items,
        "faithfulness",
        judge_with(faithful),
        WordCounts(),
        judge_model="scripted",
        on_progress=lambda d, t: ticks.append((d, t)),
    )
    assert ticks == [(1, 3), (2, 3), (3, 3)]


def test_bad_arguments_are_refused_with_a_clear_message() -> None:
    with pytest.raises(TypeError, match="LangChain chat model"):
        ragas_judge_all([EMMA], "faithfulness", object(), WordCounts(), judge_model="x")
    with pytest.raises(ValueError, match="unknown judge metric"):
        ragas_judge_all([EMMA], "bleu", judge_with(faithful), WordCounts(), judge_model="x")  # type: ignore[arg-type]


def test_the_embeddings_adapter_embeds_documents_as_told() -> None:
    kinds: list[str] = []

    class Recording(WordCounts):
        def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> NDArray[np.float32]:
            kinds.append(kind)
            return super().embed(texts, kind)

    adapter = EmbedderEmbeddings(Recording(), documents_as="query")
    [doc] = adapter.embed_documents(["who wrote emma"])
    assert doc == pytest.approx(adapter.embed_query("Who wrote Emma?"))
    assert kinds == ["query", "query"] and all(isinstance(x, float) for x in doc)


class PromptModel:
    """An in-process `ChatModel` (provider "script") that answers ragas' prompts with `script`;
    each call reads 1000 tokens and writes 100."""

    def __init__(self, script: Script) -> None:
        self.script, self.calls = script, 0

    @property
    def name(self) -> str:
        return "script:judge"

    def complete(self, request: ChatRequest) -> Completion:
        self.calls += 1
        text = self.script(*read_prompt(request.messages[-1].content))
        return Completion(text, self.name, Usage(1000, 100), latency_ms=1.0)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        raise NotImplementedError("ragas does not stream")


def test_over_the_router_a_rerun_is_identical_and_answered_by_the_exact_cache(
    tmp_path: Path,
) -> None:
    model = PromptModel(faithful)
    registry = builtin_registry()
    registry.register("script", lambda _model, _config: model)
    config = LlmConfig(provider="script:judge", fallbacks=())
    price = Price(input=Decimal("1"), output=Decimal("2"))  # $ per 1M: each call costs $0.0012
    cache = SqliteCache(tmp_path / "cache.sqlite", ttl_s=60)
    parts = RouterParts(
        registry=registry,
        prices=Prices(PriceTable({"script:judge": price})),
        breaker=CircuitBreaker(config.breaker),
        budgets=Budgets(config.budgets),
        cache=cache,
    )
    chat = RouterChatModel(router=Router(config, parts))
    first = run_router([EMMA, EMMA], chat)
    again = run_router([EMMA, EMMA], chat)
    cache.close()
    assert [r.value for r in first.results] == [r.value for r in again.results]
    assert first.results[0].value == pytest.approx(2 / 3)
    assert model.calls == 2  # two distinct prompts, each sent once: the rest are cache hits
    assert first.cost_usd == pytest.approx(2 * 0.0012) and first.cached == 1
    assert (first.tokens_in, first.tokens_out) == (4000, 400)  # a cache hit's tokens count too
    assert again.cost_usd == 0 and again.cached == 2 and again.results[0].attempts == 2


def run_router(items: Sequence[JudgeItem], chat: RouterChatModel) -> JudgeRun:
    return ragas_judge_all(items, "faithfulness", chat, WordCounts(), judge_model="script:judge")
