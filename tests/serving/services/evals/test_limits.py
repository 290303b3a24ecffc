"""A golden suite's limits as gates: p95 answer latency and cost per question, and
`ragline eval --without rerank`. The system is the real one (MiniLM, Edge, a real
CrossEncoder); the paid answerer is an OpenAI-format server on 127.0.0.1 (test_golden's, with
one fixed answer) that waits `delay` seconds before it answers: slower than the gate, or not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragline.evals.report import from_json
from tests.rag.test_rerank import tiny_model  # noqa: F401 - a fixture: a real tiny CrossEncoder
from tests.serving.services.evals.test_golden import (  # noqa: F401 - run: a fixture
    DOCS,
    GOLDEN,
    Invoke,
    JudgeServer,
    run,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ANSWER = "From the context: see the sources [1]."


@pytest.fixture
def answerer() -> Iterator[JudgeServer]:
    server = JudgeServer(answer=ANSWER)  # bills 1,000 tokens in, 10 out per call
    yield server
    server.server.shutdown()
    server.server.server_close()


def write_suite(folder: Path, url: str, limits: str, rerank: str = "null") -> Path:
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (corpus / name).write_text(text)
    (folder / "golden.jsonl").write_text("\n".join(json.dumps(g) for g in GOLDEN[:3]) + "\n")
    suite = folder / "qa.yaml"
    suite.write_text(
        "name: qa\n"
        "dataset: {kind: golden, path: golden.jsonl, corpus: corpus}\n"
        "system:\n"
        "  llm:\n"
        "    provider: openai:gpt-4o-mini\n"
        "    fallbacks: []\n"
        "    retry: {attempts: 1}\n"
        "    cache: {enabled: false}\n"
        f"    openai: {{base_url: '{url}'}}\n"
        f"  rerank: {{model: {rerank}, top_n: 3}}\n"
        "ks: [1, 3]\n"
        "metrics: [recall@3, token_f1]\n"
        "bootstrap: {resamples: 200, seed: 0}\n"
        f"limits: {limits}\n"
    )
    return suite


def test_the_latency_gate_fails_a_slower_answerer_and_passes_a_fast_one(
    run: Invoke,  # noqa: F811
    tmp_path: Path,
    answerer: JudgeServer,
) -> None:
    suite = write_suite(tmp_path / "s", answerer.url, "{latency_p95_s: 0.6}")
    answerer.delay = 0.9  # every answer waits longer than the gate allows
    code, output = run("eval", str(suite), "--out", str(tmp_path / "slow"))
    assert code == 1, output
    assert "gate latency_p95: FAIL: latency_p95 = " in output and "above max 0.6" in output
    slow = from_json((tmp_path / "slow" / "report.json").read_text())
    assert all(s is not None and s >= 0.9 for s in slow.per_query["latency_p95"])
    p95 = slow.aggregate("latency_p95").value
    assert p95 is not None and p95 >= 0.9

    answerer.delay = 0.0
    code, output = run("eval", str(suite), "--out", str(tmp_path / "fast"))
    assert code == 0, output
    assert "gate latency_p95: PASS" in output


def test_the_cost_gate_uses_the_priced_answer_per_question(
    run: Invoke,  # noqa: F811
    tmp_path: Path,
    answerer: JudgeServer,
) -> None:
    limits = "{latency_p95_s: null, cost_per_query_usd: 0.00000001}"
    suite = write_suite(tmp_path / "s", answerer.url, limits)
    code, output = run("eval", str(suite), "--out", str(tmp_path / "r"))
    assert code == 1, output
    report = from_json((tmp_path / "r" / "report.json").read_text())
    cost = report.aggregate("cost_per_query").value
    assert cost is not None and cost > 0.00000001
    assert cost == pytest.approx(report.costs["answer_usd"] / 3)
    assert [g.metric for g in report.gates] == ["cost_per_query"]
    assert "gate cost_per_query: FAIL" in output


def test_without_rerank_reports_what_reranking_adds_item_by_item(
    run: Invoke,  # noqa: F811
    tmp_path: Path,
    answerer: JudgeServer,
    tiny_model: Path,  # noqa: F811
) -> None:
    suite = write_suite(tmp_path / "s", answerer.url, "{}", rerank=f"'{tiny_model}'")
    code, output = run("eval", str(suite), "--out", str(tmp_path / "r"), "--without", "rerank")
    assert code == 0, output
    assert "baseline: the same suite without rerank" in output
    full = from_json((tmp_path / "r" / "report.json").read_text())
    without = from_json((tmp_path / "r" / "without-rerank" / "report.json").read_text())
    assert full.settings["rerank.model"] == str(tiny_model) != without.settings["rerank.model"]
    assert full.baseline_run == without.run_id
    compared = {c.metric: c for c in full.comparisons}
    assert set(compared) == {"recall@3", "token_f1", "latency_p95", "cost_per_query"}
    recall = compared["recall@3"]
    assert recall.n == 3 and recall.delta is not None
    assert recall.delta == pytest.approx(
        full.aggregate("recall@3").value - without.aggregate("recall@3").value  # type: ignore[operator]
    )
    assert "vs baseline recall@3" in output

    plain = write_suite(tmp_path / "plain", answerer.url, "{}")
    code, output = run("eval", str(plain), "--without", "rerank")
    assert code == 2 and "runs without a reranker already" in output
