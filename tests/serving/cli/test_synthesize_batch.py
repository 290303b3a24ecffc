"""`ragline synthesize --batch`: the questions of the synchronous run, from one batch (and one
of re-asks for the unparseable reply), at the batch rate; a rerun is served by the journal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragline.evals.datasets import load_golden_jsonl
from ragline.llm_router.testing.batch_fake import BatchFake
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.app import app
from tests.serving.cli.test_synthesize import REPLIES, counts, data_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["data_dir"]  # the module's ingested collection, a fixture


def reply(body: dict[str, Any]) -> str:
    passage = body["messages"][-1]["content"].split("<passage>")[1]
    return next(text for word, text in REPLIES.items() if word in passage)


@pytest.fixture
def fake(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BatchFake]:
    with BatchFake(polls_until_done=2, reply=reply) as server:
        monkeypatch.setenv("RAGLINE_DATA_DIR", str(data_dir))
        monkeypatch.setenv("RAGLINE_LLM__OPENAI__BASE_URL", server.openai_url)
        monkeypatch.setenv("RAGLINE_LLM__BATCH__POLL_S", "0.01")
        monkeypatch.setenv("RAGLINE_LLM__BATCH__MAX_POLL_S", "0.02")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        yield server


def synthesize(out: Path, *flags: str) -> tuple[int, str]:
    args = ["synthesize", "--collection", "kb", "--out", str(out), "-m", "openai:gpt-4o-mini"]
    result = CliRunner().invoke(app, [*args, "--n", "10", *flags])
    return result.exit_code, result.stdout + result.stderr


def test_synthesize_batch_writes_the_sync_questions_at_half_price(
    fake: BatchFake, tmp_path: Path, data_dir: Path
) -> None:
    code, output = synthesize(tmp_path / "batch.jsonl", "--batch")
    assert code == 1, output  # written, but the Kepler chunk stayed unparseable
    assert counts(output) == (4, 2, 1, 1)
    assert fake.batches_created == 2 and fake.sync_requests == 0  # asks, then the re-ask
    assert "submitted 4 requests to openai:gpt-4o-mini" in output
    assert "submitted 1 requests" in output and "at the batch rate" in output
    tokens = re.findall(r"tokens \d+ in / \d+ out", output)

    code, output = synthesize(tmp_path / "sync.jsonl")
    assert code == 1 and fake.sync_requests == 5
    assert re.findall(r"tokens \d+ in / \d+ out", output) == tokens
    ledger = Ledger(LedgerConfig(), data_dir)
    try:
        llm = [e for e in ledger.events() if e.kind == "llm" and e.usd]
    finally:
        ledger.close()
    batched = sum((e.usd for e in llm if e.route == "batch"), Decimal(0))
    synced = sum((e.usd for e in llm if e.route != "batch"), Decimal(0))
    assert batched * 2 == synced > 0
    batch = load_golden_jsonl(tmp_path / "batch.jsonl")
    sync = load_golden_jsonl(tmp_path / "sync.jsonl")
    assert [(i.question, i.answers) for i in batch.items] == [
        (i.question, i.answers) for i in sync.items
    ]

    code, output = synthesize(tmp_path / "again.jsonl", "--batch")
    assert code == 1 and fake.batches_created == 2  # the journal answered
    assert "no new cost" in output and "$0.000000" in output
