"""A 1,000-question retrieval-only eval suite, timed once its index exists; run twice, same numbers?

    HF_HUB_OFFLINE=1 .venv/bin/python bench/eval_suite_speed.py [--max-docs 1000] [--keep]

Exports the man-page set (bench/manpage_set.py, one query per page) with --max-docs pages as a
BEIR folder in a temp directory, writes a suite over it (configs/evals/manpages.yaml's system,
metrics and gates), then runs `ragline eval` as a subprocess twice: the first run ingests the
corpus and builds the index; the second finds it unchanged and is timed end to end (process
start, query model start, 1,000 queries, metrics with 1,000-resample bootstrap CIs, reports).
Target: second run <= 20 s; both runs give identical metric values.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from common import cli_env, describe, figure, log, ragline_command, workdir
from export_beir import export_beir, load_set

SUITE = """name: manpages-speed
dataset: {{kind: beir, path: {path}}}
system: {{retrieval: {{mode: hybrid}}}}  # the default fusion: RRF, k=60
ks: [1, 3, 10, 100]
metrics: [ndcg@10, recall@10, mrr@10, map]
gates: [{{metric: ndcg@10, min: 0.85}}, {{metric: recall@10, min: 0.95}}]
bootstrap: {{resamples: 1000, seed: 0}}
"""


def run_suite(suite: Path, data: Path, out: Path) -> tuple[float, dict[str, object]]:
    """Seconds for one `ragline eval` process, and its report.json."""
    started = time.perf_counter()
    done = subprocess.run(
        [*ragline_command(), "eval", str(suite), "--out", str(out)],
        env=cli_env(data), capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"ragline eval failed ({done.returncode}):\n{done.stderr}")
    print(done.stdout, end="", flush=True)
    report: dict[str, object] = json.loads((out / "report.json").read_text())
    return seconds, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-docs", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[1])
    with workdir("eval", args.keep) as tmp:
        docs, queries = load_set("manpages", args.max_docs)
        n_docs, n_queries = export_beir(docs, queries, tmp / "manpages")
        log(f"exported {n_docs} documents, {n_queries} queries")
        suite = tmp / "suite.yaml"
        suite.write_text(SUITE.format(path=json.dumps(str(tmp / "manpages"))))
        first_s, first = run_suite(suite, tmp / "data", tmp / "run1")
        log(f"first run (ingest + index): {first_s:.1f} s")
        second_s, second = run_suite(suite, tmp / "data", tmp / "run2")
        log(f"second run (index exists): {second_s:.1f} s; stages {second['timings']}")
        same = (
            first["aggregates"] == second["aggregates"]
            and first["per_query"] == second["per_query"]
        )
        log(f"identical numbers on both runs: {same}")
        figure(
            "eval_suite_seconds",
            second_s,
            target="<=20",
            baseline="none",
            ratio=second_s / 20.0,
            extra={"queries": str(n_queries), "identical": str(same).lower()},
        )


if __name__ == "__main__":
    main()
