"""`ragline eval --batch` on a 100-question judged golden suite against the batch-API fake:
it completes, costs the batch rate, and survives a kill -9 mid-poll (the rerun resumes the
same batch).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/eval_batch.py [--questions 100]

Writes a corpus of short topic documents and a golden set (four questions per document, the
last few unanswerable), serves both vendors' APIs from `ragline.llm_router.testing.batch_fake`
on 127.0.0.1 (the fake's replies: the first context block, cited; a top grade for judges),
then runs `ragline eval` as a subprocess: once synchronously (data dir `sync`), once with
--batch (data dir `batch`) killed with SIGKILL while it polls the answers' batch, then rerun.
Prints the batches created, the items, the LLM cost of each run from its ledger, the ratio,
and whether the metrics agree.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from ragline.evals.report import from_json
from ragline.evals.suite import SYSTEM_METRICS
from ragline.llm_router.testing.batch_fake import BatchFake
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger

THINGS = [
    "bread",
    "tides",
    "bees",
    "volcano",
    "rainbow",
    "compass",
    "glacier",
    "coral",
    "comet",
    "desert",
    "thunder",
    "fern",
    "salmon",
    "granite",
    "owl",
    "tulip",
    "cheese",
    "kelp",
    "lichen",
    "geyser",
    "moss",
    "quartz",
    "beaver",
    "cactus",
    "lava",
]


def write_suite(folder: Path, questions: int, url: str) -> Path:
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    items: list[dict[str, object]] = []
    for n, thing in enumerate(THINGS):
        text = (
            f"The {thing} is studied in field {n}. Experts say the {thing} changes with the "
            f"seasons, and that a {thing} lasts about {n + 3} years in the wild."
        )
        (corpus / f"{thing}.md").write_text(f"# {thing.title()}\n\n{text}\n")
        asks = [
            f"What field studies the {thing}?",
            f"How long does a {thing} last?",
            f"Does the {thing} change with the seasons?",
            f"What do experts say about the {thing}?",
        ]
        for q in asks:
            items.append(
                {
                    "id": f"q{len(items) + 1}",
                    "question": q,
                    "sources": [f"{thing}.md"],
                    "answers": [f"field {n}"],
                }
            )
    items = items[: questions - 5]
    for k in range(5):
        items.append(
            {
                "id": f"u{k}",
                "question": f"Who won the chess olympiad in {1990 + k}?",
                "should_abstain": True,
            }
        )
    (folder / "golden.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    suite = folder / "qa.yaml"
    suite.write_text(
        "name: batch-bench\n"
        "dataset: {kind: golden, path: golden.jsonl, corpus: corpus}\n"
        "system:\n  llm:\n    provider: openai:gpt-4o-mini\n    fallbacks: []\n"
        f"    openai: {{base_url: '{url}'}}\n    cache: {{enabled: false}}\n"
        "    batch: {poll_s: 0.05, max_poll_s: 0.1}\n"
        "ks: [1, 3]\nmetrics: [recall@3, token_f1, citation_recall, abstention_accuracy,"
        " answer_relevancy, faithfulness]\n"
        "judge: {model: 'openai:gpt-4o-mini'}\nbootstrap: {resamples: 200, seed: 0}\nplots: false\n"
    )
    return suite


def cli(data: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, RAGLINE_DATA_DIR=str(data), OPENAI_API_KEY="sk-bench")
    command = [sys.executable, "-m", "ragline.serving.cli.app", *args, "--no-track"]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=1800)
    if process.returncode not in (0, 1):
        raise SystemExit(f"ragline eval failed ({process.returncode}):\n{output}")
    return output


def llm_usd(data: Path) -> Decimal:
    ledger = Ledger(LedgerConfig(), data)
    try:
        return sum((e.usd for e in ledger.events() if e.kind == "llm"), Decimal(0))
    finally:
        ledger.close()


def journalled(data: Path) -> list[str]:
    ids: list[str] = []
    for path in (data / "batches").glob("*.json"):
        ids += [r["batch_id"] for r in json.loads(path.read_text())["rounds"]]
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="eval-batch-"))
    with BatchFake(polls_until_done=10**9) as fake:
        suite = write_suite(root / "suite", args.questions, fake.openai_url)
        started = time.perf_counter()
        finish(cli(root / "sync", "eval", str(suite), "--out", str(root / "r-sync")))
        sync_s = time.perf_counter() - started
        sync_calls = fake.sync_requests

        started = time.perf_counter()
        batch_args = ("eval", str(suite), "--batch", "--out", str(root / "r-batch"))
        first = cli(root / "batch", *batch_args)
        while not journalled(root / "batch") and first.poll() is None:
            time.sleep(0.05)
        (batch_id,) = journalled(root / "batch")
        while fake.polls[batch_id] < 3:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.communicate()
        killed_after = fake.polls[batch_id]
        fake.polls_until_done = killed_after + 2
        output = finish(cli(root / "batch", *batch_args))
        batch_s = time.perf_counter() - started

    sync = from_json((root / "r-sync" / "report.json").read_text())
    batch = from_json((root / "r-batch" / "report.json").read_text())
    same = all(
        sync.per_query[m] == batch.per_query[m] for m in sync.per_query if m not in SYSTEM_METRICS
    )
    sync_usd, batch_usd = llm_usd(root / "sync"), llm_usd(root / "batch")
    print(f"items: {sync.dataset['items']} ({args.questions} asked for); data under {root}")
    print(f"sync run: {sync_calls} synchronous requests, LLM cost ${sync_usd} ({sync_s:.1f} s)")
    print(
        f"batch run: killed -9 after {killed_after} polls of {batch_id}; rerun resumed it: "
        f"{'yes' if f'resuming {batch_id}' in output else 'NO'}; batches created "
        f"{fake.batches_created} (journal: {len(journalled(root / 'batch'))}), "
        f"{fake.batched_requests} batched requests, LLM cost ${batch_usd} ({batch_s:.1f} s)"
    )
    print(f"cost ratio batch/sync: {batch_usd / sync_usd}; metrics identical: {same}")


if __name__ == "__main__":
    main()
