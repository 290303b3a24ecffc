"""The batch clients against the HTTP fake of both vendors: round trips, prices at the batch
rate, retries of failed items, resume from the journal, and providers without a batch API."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from ragline.core.chat import ChatRequest, Completion, Message
from ragline.core.costs import MemorySink, cost_scope
from ragline.llm_router.batch.config import BatchConfig
from ragline.llm_router.batch.journal import Journal
from ragline.llm_router.batch.runner import BatchRunner
from ragline.llm_router.build import build_router
from ragline.llm_router.config import AnthropicConfig, LlmConfig, OpenAIConfig
from ragline.llm_router.errors import ProviderError, Timeout
from ragline.llm_router.router import Router
from ragline.llm_router.testing.batch_fake import BatchFake

pytestmark = pytest.mark.integration
FAST = BatchConfig(poll_s=0.01, max_poll_s=0.02, retries=1)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[BatchFake]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    with BatchFake(polls_until_done=3, fail_first=lambda body: "fail" in str(body)) as server:
        yield server


def router(fake: BatchFake, provider: str, sink: MemorySink, batch: BatchConfig = FAST) -> Router:
    config = LlmConfig(
        provider=provider,
        fallbacks=(),
        openai=OpenAIConfig(base_url=fake.openai_url),
        anthropic=AnthropicConfig(base_url=fake.anthropic_url),
        batch=batch,
        cache={"enabled": False},
    )
    return build_router(config, sink=sink)


def requests(*questions: str) -> list[ChatRequest]:
    return [
        ChatRequest(
            messages=(Message("system", "Answer briefly."), Message("user", q)),
            max_tokens=64,
            temperature=0.0,
            prompt="judge-test@1",
        )
        for q in questions
    ]


@pytest.mark.parametrize("provider", ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"])
def test_a_batch_answers_as_the_sync_call_does_at_half_the_price(
    fake: BatchFake, tmp_path: Path, provider: str
) -> None:
    asked = requests("one?", "two?", "three?")
    sync_sink, batch_sink = MemorySink(), MemorySink()
    sync = router(fake, provider, sync_sink)
    synced = [sync.complete(r, request_id="sync") for r in asked]
    lines: list[str] = []
    runner = BatchRunner(router(fake, provider, batch_sink), tmp_path, on_event=lines.append)
    with cost_scope("batch-run"):
        run = runner.run(asked)
    assert run.mode == "batch" and run.batches == 1 and fake.batches_created == 1
    got = [r for r in run.results if isinstance(r, Completion)]
    assert [c.text for c in got] == [c.text for c in synced]
    assert [c.usage for c in got] == [c.usage for c in synced]
    assert [c.model for c in got] == [c.model for c in synced]
    assert batch_sink.total_usd() * 2 == sync_sink.total_usd() > 0
    assert run.cost_usd == batch_sink.total_usd()
    assert {e.route for e in batch_sink.events} == {"batch"}
    assert {e.request_id for e in batch_sink.events} == {"batch-run"}
    assert {e.prompt for e in batch_sink.events} == {"judge-test@1"}
    assert any(line.startswith("submitted 3 requests") for line in lines)
    assert sum("polling" in line for line in lines) == 3  # done on the third status check


def test_failed_items_are_retried_then_reported(fake: BatchFake, tmp_path: Path) -> None:
    sink = MemorySink()
    runner = BatchRunner(router(fake, "openai:gpt-4o-mini", sink), tmp_path)
    run = runner.run(requests("fine?", "fail once?"))
    assert fake.batches_created == 2 and run.retried == 1 and run.failed == 0
    assert all(isinstance(r, Completion) for r in run.results)
    assert len(sink.events) == 2  # the failed first try costs nothing

    never = BatchConfig(poll_s=0.01, max_poll_s=0.02, retries=0)
    fake.fail_first = lambda body: "broken" in str(body)
    runner = BatchRunner(router(fake, "openai:gpt-4o-mini", sink, never), tmp_path)
    run = runner.run(requests("broken?"))
    assert run.failed == 1 and isinstance(run.results[0], ProviderError)
    assert "fake server error" in str(run.results[0])


def test_a_rerun_resumes_the_journalled_batch_and_a_finished_one_costs_nothing(
    fake: BatchFake, tmp_path: Path
) -> None:
    sink = MemorySink()
    short = BatchConfig(poll_s=0.01, max_poll_s=0.01, max_wait_s=0.01, retries=0)
    fake.polls_until_done = 5
    impatient = BatchRunner(router(fake, "openai:gpt-4o-mini", sink, short), tmp_path)
    with pytest.raises(Timeout, match="rerun the same command"):
        impatient.run(requests("a?", "b?"))
    assert fake.batches_created == 1 and not sink.events
    (entry,) = [Journal(tmp_path).load(p.stem) for p in tmp_path.glob("*.json")]
    assert entry is not None and not entry.finished and len(entry.rounds) == 1

    runner = BatchRunner(router(fake, "openai:gpt-4o-mini", sink), tmp_path)
    run = runner.run(requests("a?", "b?"))
    assert fake.batches_created == 1 and run.batches == 0 and run.mode == "batch"
    assert len(sink.events) == 2

    again = runner.run(requests("a?", "b?"))
    assert again.mode == "journal" and again.cost_usd == Decimal(0)
    assert fake.batches_created == 1 and len(sink.events) == 2
    assert [r.text for r in again.results if isinstance(r, Completion)] == [
        r.text for r in run.results if isinstance(r, Completion)
    ]


def test_providers_without_a_batch_api_run_synchronously(tmp_path: Path) -> None:
    sink = MemorySink()
    config = LlmConfig(provider="extractive", batch=FAST)
    lines: list[str] = []
    runner = BatchRunner(build_router(config, sink=sink), tmp_path, on_event=lines.append)
    run = runner.run(requests("Question: what?"))
    assert run.mode == "sync" and run.batches == 0
    assert "no batch API" in lines[0] and not list(tmp_path.iterdir())
