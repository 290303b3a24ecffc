"""`ragline eval` on a golden QA suite: the real pipeline answers, a judge grades over HTTP.

The system under test is the real thing (MiniLM, Edge, the extractive answerer); only the
paid judge is faked, at the HTTP layer: an OpenAI-format server on 127.0.0.1 that grades
answer relevancy, and replies with junk for one question (that item must come out
unmeasured, never as a NaN or a zero).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import pytest
from typer.testing import CliRunner

from ragline.core.prompts import load_prompt
from ragline.evals.report import from_json
from ragline.evals.suite import SYSTEM_METRICS
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.app import app

pytestmark = pytest.mark.integration
Invoke = Callable[..., tuple[int, str]]
T = TypeVar("T")

DOCS = {
    "bread.md": "# Bread\n\nBread dough rises because yeast ferments sugar and releases "
    "carbon dioxide gas, which the gluten network traps in small bubbles.\n",
    "tides.md": "# Tides\n\nOcean tides are caused mostly by the gravitational pull of the "
    "moon on the oceans, with a smaller pull from the sun.\n",
    "bees.md": "# Bees\n\nHoney bees tell each other the direction and distance of flowers "
    "with a waggle dance performed inside the hive.\n",
}
GOLDEN = [
    {"id": "g1", "question": "Why does bread dough rise?", "sources": ["bread.md"],
     "answers": ["yeast ferments sugar and releases carbon dioxide gas"], "tags": ["food"]},
    {"id": "g2", "question": "What causes ocean tides?", "sources": ["tides.md"],
     "answers": ["the gravitational pull of the moon"], "tags": ["science"]},
    {"id": "g3", "question": "How do honey bees tell each other where flowers are?",
     "sources": ["bees.md"], "answers": ["with a waggle dance"], "tags": ["science"]},
    {"id": "g4", "question": "Who won the football world cup in 1998?",
     "should_abstain": True, "tags": ["unanswerable"]},
]  # fmt: skip


RAGAS_QUESTION = '{"question": "Why does bread dough rise?", "noncommittal": 0}'


class JudgeServer:
    """OpenAI chat completions on 127.0.0.1: a relevancy grade, or junk for tides questions;
    with `ragas=True`, the question ragas asks the judge to reverse-engineer from an answer;
    with `answer`, that text for every prompt. Each reply waits `delay` seconds first."""

    def __init__(self, ragas: bool = False, answer: str | None = None) -> None:
        self.requests: list[dict[str, object]] = []
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                prompt = body["messages"][-1]["content"]
                reply = "no idea" if "tides" in prompt else '{"score": 1, "reason": "on topic"}'
                if ragas:
                    reply = RAGAS_QUESTION
                reply = answer or reply
                time.sleep(outer.delay)
                data = {
                    "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": 1000, "completion_tokens": 10,
                              "total_tokens": 1010},
                }  # fmt: skip
                raw = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def quality(per_query: Mapping[str, T]) -> dict[str, T]:
    """Every metric but the system's latency and cost: those a rerun measures anew."""
    return {m: v for m, v in per_query.items() if m not in SYSTEM_METRICS}


@pytest.fixture
def judge_server() -> Iterator[JudgeServer]:
    server = JudgeServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


def write_suite(
    folder: Path, judge_url: str, gate: str, judge: str = "{model: 'openai:gpt-4o-mini'}"
) -> Path:
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    for name, text in DOCS.items():
        (corpus / name).write_text(text)
    lines = (json.dumps(item) for item in GOLDEN)
    (folder / "golden.jsonl").write_text("\n".join(lines) + "\n")
    suite = folder / "qa.yaml"
    suite.write_text(
        "name: qa\n"
        "dataset: {kind: golden, path: golden.jsonl, corpus: corpus}\n"
        "system:\n"
        "  llm:\n"
        "    provider: extractive\n"
        f"    openai: {{base_url: '{judge_url}'}}\n"
        f"    cache: {{path: '{folder / 'llm_cache.sqlite'}'}}\n"
        "ks: [1, 3]\n"
        "metrics: [recall@3, mrr, token_f1, citation_recall, abstention_accuracy,"
        " answer_relevancy]\n"
        f"judge: {judge}\n"
        "slice_by: [tags]\n"
        "bootstrap: {resamples: 200, seed: 0}\n"
        f"gates: [{gate}]\n"
    )
    return suite


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--no-track"])  # tracking: test_eval_cmd.py
        return result.exit_code, result.output

    return invoke


def test_golden_suite_answers_scores_judges_and_caches(
    run: Invoke, tmp_path: Path, judge_server: JudgeServer
) -> None:
    suite = write_suite(tmp_path / "suite", judge_server.url, "{metric: recall@3, min: 0.9}")
    code, output = run("eval", str(suite), "--out", str(tmp_path / "r1"))
    assert code == 0, output
    report = from_json((tmp_path / "r1" / "report.json").read_text())
    assert report.dataset["items"] == 4 and report.dataset["should_abstain"] == 1
    per = dict(zip(report.query_ids, report.per_query["recall@3"], strict=True))
    assert per == {"g1": 1.0, "g2": 1.0, "g3": 1.0, "g4": None}  # g4 has no gold source
    abstain = dict(zip(report.query_ids, report.per_query["abstention_accuracy"], strict=True))
    assert abstain["g4"] == 1.0  # the unanswerable question is declined
    relevancy = report.aggregate("answer_relevancy")
    # g2's grade is junk twice (a retry, then unmeasured); g4 abstained, so it is not asked
    assert relevancy.value == 1.0 and relevancy.measured == 2 and relevancy.unmeasured == 2
    assert any("answer_relevancy: 2 unmeasured (1 unparseable" in n for n in report.notes)
    assert report.costs["judge_usd"] > 0 and report.costs["judge_items_cached"] == 0
    assert len(judge_server.requests) == 4  # g1, g3, and g2 twice
    assert all(r["temperature"] == 0 for r in judge_server.requests)
    text = (tmp_path / "r1" / "report.json").read_text()
    assert "NaN" not in text
    md = (tmp_path / "r1" / "report.md").read_text()
    assert "## Cost" in md and "judge_usd" in md and "## Notes" in md
    # the prompts used: fingerprints in the report (and the experiment's params), ids in the ledger
    assert report.settings["answer.prompt"] == load_prompt("grounded-answer", 1).fingerprint
    judged_with = load_prompt("judge-answer-relevancy", 1)
    assert report.settings["judge.prompt.answer_relevancy"] == judged_with.fingerprint
    ledger = Ledger(LedgerConfig(), tmp_path / ".ragline")
    prompts = Counter(e.prompt for e in ledger.events() if e.kind == "llm")
    ledger.close()
    assert prompts == {"grounded-answer@1": 3, "judge-answer-relevancy@1": 4}  # g4: no model

    # a rerun is free: the router's exact cache answers every judge call
    code, output = run("eval", str(suite), "--out", str(tmp_path / "r2"))
    assert code == 0, output
    again = from_json((tmp_path / "r2" / "report.json").read_text())
    assert len(judge_server.requests) == 4
    assert again.costs["judge_usd"] == 0 and again.costs["judge_items_cached"] == 3
    assert quality(again.per_query) == quality(report.per_query)


def test_ragas_judges_through_the_router(run: Invoke, tmp_path: Path) -> None:
    server = JudgeServer(ragas=True)
    try:
        judge = "{model: 'openai:gpt-4o-mini', via: ragas}"
        suite = write_suite(tmp_path / "suite", server.url, "{metric: recall@3, min: 0.9}", judge)
        code, output = run("eval", str(suite), "--out", str(tmp_path / "r1"))
        assert code == 0, output
        first = from_json((tmp_path / "r1" / "report.json").read_text())
        calls = len(server.requests)
        code, output = run("eval", str(suite), "--out", str(tmp_path / "r2"))
        assert code == 0, output
        again = from_json((tmp_path / "r2" / "report.json").read_text())
    finally:
        server.server.shutdown()
        server.server.server_close()
    relevancy = dict(zip(first.query_ids, first.per_query["answer_relevancy"], strict=True))
    answered = {q for q, v in relevancy.items() if v is not None}
    assert "g4" not in answered and calls == len(answered) >= 1  # one ragas call per answer
    if "g1" in answered:  # the judge's question is g1's own: cosine 1
        assert relevancy["g1"] == pytest.approx(1.0, abs=1e-4)
    assert all(0.0 <= (relevancy[q] or -1.0) <= 1.0 for q in answered)
    assert first.costs["judge_usd"] > 0
    assert len(server.requests) == calls and again.costs["judge_usd"] == 0  # cached
    assert quality(again.per_query) == quality(first.per_query)
    assert first.settings["judge.prompts"] == "ragas"
    assert not any(k.startswith("judge.prompt.") for k in first.settings)


def test_a_failing_answer_gate_exits_one(
    run: Invoke, tmp_path: Path, judge_server: JudgeServer
) -> None:
    suite = write_suite(tmp_path / "suite", judge_server.url, "{metric: token_f1, min: 0.99}")
    code, output = run("eval", str(suite), "--out", str(tmp_path / "r"))
    assert code == 1, output
    assert "gate token_f1: FAIL: token_f1 = " in output


def test_answer_metrics_need_a_golden_set_and_judged_ones_a_judge(
    run: Invoke, tmp_path: Path
) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "beir.yaml").write_text("name: b\ndataset: {path: x}\nmetrics: [token_f1]\n")
    code, output = run("eval", str(folder / "beir.yaml"))
    assert code == 2 and "needs a golden dataset" in output
    (folder / "nojudge.yaml").write_text(
        "name: n\ndataset: {kind: golden, path: g.jsonl, corpus: c}\nmetrics: [faithfulness]\n"
    )
    code, output = run("eval", str(folder / "nojudge.yaml"))
    assert code == 2 and "add judge:" in output
    (folder / "nocorpus.yaml").write_text("name: n\ndataset: {kind: golden, path: g.jsonl}\n")
    code, output = run("eval", str(folder / "nocorpus.yaml"))
    assert code == 2 and "needs corpus" in output
