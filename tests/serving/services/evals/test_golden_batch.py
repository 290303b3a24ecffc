"""`ragline eval --batch` on a judged golden suite against the HTTP fake of the batch APIs:
the same metrics as the synchronous run on the same replies, at exactly half the cost in the
ledger; failed items retried; a rerun of finished work costs nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragline.evals.report import RunReport, from_json
from ragline.llm_router.testing.batch_fake import BatchFake, echo_reply, text_of
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.app import app
from tests.serving.services.evals.test_golden import quality

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPICS = {
    "bread.md": "Bread dough rises because yeast ferments sugar and releases carbon dioxide "
    "gas, which the gluten network traps in small bubbles.",
    "tides.md": "Ocean tides are caused mostly by the gravitational pull of the moon on the "
    "oceans, with a smaller pull from the sun.",
    "bees.md": "Honey bees tell each other the direction and distance of flowers with a "
    "waggle dance performed inside the hive.",
    "volcano.md": "Volcanoes erupt when molten rock called magma rises through cracks in the "
    "crust and pressure from dissolved gases forces it out.",
    "rainbow.md": "A rainbow appears when sunlight is refracted, reflected and dispersed "
    "inside raindrops, splitting white light into its colours.",
    "compass.md": "A compass needle points north because it is a small magnet that lines up "
    "with the magnetic field of the earth.",
}
QUESTIONS = [
    ("Why does bread dough rise?", "bread.md", "yeast ferments sugar"),
    ("What gas makes bread dough rise?", "bread.md", "carbon dioxide gas"),
    ("What causes ocean tides?", "tides.md", "the gravitational pull of the moon"),
    ("Does the sun pull on the ocean tides?", "tides.md", "a smaller pull from the sun"),
    ("How do honey bees tell each other where flowers are?", "bees.md", "a waggle dance"),
    ("Where do honey bees perform the waggle dance?", "bees.md", "inside the hive"),
    ("Why do volcanoes erupt?", "volcano.md", "magma rises through cracks"),
    ("What is the molten rock in a volcano called?", "volcano.md", "magma"),
    ("How does a rainbow appear?", "rainbow.md", "sunlight is refracted"),
    ("Why does a compass needle point north?", "compass.md", "it is a small magnet"),
]


def golden_lines() -> list[str]:
    items: list[dict[str, Any]] = [
        {"id": f"q{n}", "question": q, "sources": [s], "answers": [a]}
        for n, (q, s, a) in enumerate(QUESTIONS, start=1)
    ]
    items.append(
        {"id": "q11", "question": "Who won the football world cup in 1998?", "should_abstain": True}
    )
    return [json.dumps(item) for item in items]


def reply(body: dict[str, Any]) -> str:
    """Grounded answers from the first block; a junk grade for judge prompts about compasses
    (unparseable twice: unmeasured); a top grade otherwise."""
    text = text_of(body)
    if "<question>" in text and "compass" in text:
        return "no idea"
    return echo_reply(body)


def write_suite(folder: Path, fake: BatchFake) -> Path:
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    for name, text in TOPICS.items():
        (corpus / name).write_text(f"# {name[:-3].title()}\n\n{text}\n")
    (folder / "golden.jsonl").write_text("\n".join(golden_lines()) + "\n")
    suite = folder / "qa.yaml"
    suite.write_text(
        "name: qa-batch\n"
        "dataset: {kind: golden, path: golden.jsonl, corpus: corpus}\n"
        "system:\n"
        "  llm:\n"
        "    provider: openai:gpt-4o-mini\n"
        "    fallbacks: []\n"
        f"    openai: {{base_url: '{fake.openai_url}'}}\n"
        "    cache: {enabled: false}\n"
        "    batch: {poll_s: 0.01, max_poll_s: 0.02, retries: 1}\n"
        "ks: [1, 3]\n"
        "metrics: [recall@3, token_f1, citation_recall, abstention_accuracy, answer_relevancy]\n"
        "judge: {model: 'openai:gpt-4o-mini'}\n"
        "bootstrap: {resamples: 50, seed: 0}\n"
        "gates: [{metric: recall@3, min: 0.5}]\n"
    )
    return suite


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[BatchFake]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with BatchFake(polls_until_done=2, reply=reply) as server:
        yield server


def run_eval(
    monkeypatch: pytest.MonkeyPatch, data: Path, suite: Path, out: Path, *flags: str
) -> tuple[RunReport, str, Decimal]:
    """The report, the output and the ledger's LLM total of one `ragline eval`."""
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(data))
    result = CliRunner().invoke(app, ["eval", str(suite), "--out", str(out), "--no-track", *flags])
    assert result.exit_code == 0, result.output
    ledger = Ledger(LedgerConfig(), data)
    try:
        total = sum((e.usd for e in ledger.events() if e.kind == "llm"), Decimal(0))
        routes = {e.route for e in ledger.events() if e.kind == "llm" and e.usd}
    finally:
        ledger.close()
    if "--batch" in flags:
        assert routes <= {"batch"}
    report = from_json((out / "report.json").read_text())
    return report, result.output, total


def test_batch_eval_matches_the_sync_run_at_half_the_cost(
    fake: BatchFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = write_suite(tmp_path / "suite", fake)
    sync, _, sync_usd = run_eval(monkeypatch, tmp_path / "sync", suite, tmp_path / "r-sync")
    assert fake.batches_created == 0 and fake.sync_requests > 0
    sync_calls = fake.sync_requests

    fake.fail_first = lambda body: "volcano" in text_of(body).lower()  # retried, then fine
    batch, output, batch_usd = run_eval(
        monkeypatch, tmp_path / "batch", suite, tmp_path / "r-batch", "--batch"
    )
    assert fake.sync_requests == sync_calls  # nothing went the synchronous way
    assert quality(batch.per_query) == quality(sync.per_query)
    assert batch_usd * 2 == sync_usd > 0
    assert batch.costs["judge_usd"] * 2 == pytest.approx(sync.costs["judge_usd"])
    assert batch.costs["answer_usd"] * 2 == pytest.approx(sync.costs["answer_usd"])
    relevancy = batch.aggregate("answer_relevancy")
    assert relevancy.unmeasured == 2  # the compass item (junk twice) and q11 (abstained)
    # answers: 1 batch + 1 retry of the volcano items; judges: 1 batch + 1 retry of the
    # volcano items, then 1 batch of the junk reply's re-ask
    assert fake.batches_created == 5
    assert "submitted 10 requests to openai:gpt-4o-mini" in output
    assert "retrying 2 failed items as a new batch" in output
    assert "polling" in output and "at the batch rate" in output

    again, output, again_usd = run_eval(
        monkeypatch, tmp_path / "batch", suite, tmp_path / "r-again", "--batch"
    )
    assert fake.batches_created == 5 and again_usd == batch_usd  # nothing new was paid
    assert "served from it, no new cost" in output
    assert quality(again.per_query) == quality(batch.per_query)
    assert again.costs["judge_usd"] == 0 and again.costs["answer_usd"] == 0
