"""Reply caps by purpose: the lookup (name, families, default), a caller's own max_tokens wins,
the router applies `llm.max_tokens` and records each call's finish_reason; against the real
llama.cpp server a tiny cap ends in "length", which the ledger keeps and the truncation report
counts."""

from __future__ import annotations

import dataclasses
import doctest
from pathlib import Path

import pytest

from ragline.core.chat import ChatRequest, Completion, Message
from ragline.llm_router import caps
from ragline.llm_router.build import build_router
from ragline.llm_router.caches.exact import CacheConfig
from ragline.llm_router.caps import REQUEST_DEFAULT, cap_for, with_default_cap
from ragline.llm_router.config import LlmConfig, VllmConfig
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.mltrack.costs.truncation import truncation_report
from tests.llm_router.llama_server import MODEL_ALIAS
from tests.llm_router.test_router import ScriptModel, llm, make_router

ASK = (Message("user", "Tell me a long story about a lighthouse keeper."),)
CAPS = {"judge": 256, "judge-context": 128, "condense": 96, "default": 384}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("prompt", "cap"),
    [
        ("condense@1", 96),
        ("judge-faithfulness@1", 256),  # the family
        ("judge-context-recall@3", 128),  # the nearest family wins
        ("grounded-answer@2", 384),  # no entry: default
        (None, 384),  # no template: default
    ],
)
def test_the_cap_of_a_purpose(prompt: str | None, cap: int) -> None:
    assert cap_for(CAPS, prompt) == cap
    assert with_default_cap(ChatRequest(messages=ASK, prompt=prompt), CAPS).max_tokens == cap


@pytest.mark.unit
def test_a_callers_max_tokens_wins_and_no_caps_change_nothing() -> None:
    asked = ChatRequest(messages=ASK, max_tokens=40, prompt="condense@1")
    assert with_default_cap(asked, CAPS) is asked
    plain = ChatRequest(messages=ASK, prompt="condense@1")
    assert plain.max_tokens == REQUEST_DEFAULT == 512
    assert with_default_cap(plain, {}) is plain
    assert with_default_cap(plain, {"judge": 10}) is plain  # no entry, no default
    assert doctest.testmod(caps).failed == 0


@pytest.mark.unit
def test_caps_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"llm.max_tokens .*positive token count"):
        LlmConfig(max_tokens={"judge": 0})


class Recorder(ScriptModel):
    """A scripted model that keeps the requests it was asked and ends with `finish`."""

    def __init__(self, finish: str) -> None:
        super().__init__("small", ["an answer"])
        self.asked: list[ChatRequest] = []
        self.finish = finish

    def complete(self, request: ChatRequest) -> Completion:
        self.asked.append(request)
        done = super().complete(request)
        return dataclasses.replace(done, finish_reason=self.finish)  # type: ignore[arg-type]


@pytest.mark.unit
def test_the_router_applies_caps_and_records_finish_reasons() -> None:
    model = Recorder("length")
    router, sink, _ = make_router({"small": model}, llm(max_tokens={"condense": 96}))
    router.complete(ChatRequest(messages=ASK, prompt="condense@1"), request_id="r1")
    router.complete(ChatRequest(messages=ASK, max_tokens=30, prompt="condense@1"))
    assert [r.max_tokens for r in model.asked] == [96, 30]
    assert [e.finish_reason for e in sink.events] == ["length", "length"]
    assert [e.prompt for e in sink.events] == ["condense@1", "condense@1"]


@pytest.mark.integration
def test_a_tiny_cap_on_a_real_server_is_reported_truncated(
    llama_server_url: str, tmp_path: Path
) -> None:
    config = LlmConfig(
        provider=f"vllm:{MODEL_ALIAS}",
        fallbacks=(),
        cache=CacheConfig(enabled=False),
        vllm=VllmConfig(base_url=llama_server_url),
        max_tokens={"condense": 3},
    )
    with Ledger(LedgerConfig(), tmp_path) as ledger:
        router = build_router(config, data_dir=tmp_path, sink=ledger)
        done = router.complete(ChatRequest(messages=ASK, temperature=0, prompt="condense@1"))
        router.close()
        calls = ledger.completions()
    assert done.finish_reason == "length" and 0 < done.usage.tokens_out <= 3
    [row] = truncation_report(calls)
    assert (row.group, row.calls, row.truncated, row.share) == ("condense", 1, 1, 1.0)
    assert row.max == done.usage.tokens_out and row.advice == "raise the cap: 100.0% truncated"
