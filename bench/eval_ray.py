"""`ragline eval --engine ray` against the serial run: same report, and the wall-clock ratio.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/eval_ray.py [--golden 100] [--latency-s 0.3]

Exports the man-page golden set (bench/export_beir.py: --golden questions, plus the ten no page
answers) and its 1,000-page corpus, then runs `ragline eval` as a subprocess four times on one
data dir: an untimed run that ingests the corpus, then serially and on Ray (`--engine ray
--actors N`, a local cluster on this machine), each timed end to end, then serially again (the
serial figure is the mean of the two serial runs, so drift in load shows). The answers come
from an OpenAI-format stub on 127.0.0.1 that answers after --latency-s (a remote model's
latency: bench/openai_stub.py, mode slow); the router's cache is off so every run asks it. The
ratio is serial seconds / Ray seconds; the reports must be identical (per item and aggregate,
the measured latency aside).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from common import cli_env, describe, figure, log, ragline_command, workdir
from export_beir import export_beir, export_golden, load_set
from openai_stub import StubServer

SUITE = """name: manpages-ray
dataset: {{kind: golden, path: {golden}, corpus: {corpus}}}
system:
  llm:
    provider: openai:gpt-4o-mini
    openai: {{base_url: {url}}}
    cache: {{enabled: false}}
ks: [1, 10]
metrics: [recall@10, mrr, abstention_accuracy, citation_recall, token_f1]
bootstrap: {{resamples: 1000, seed: 0}}
plots: false
"""


def run(suite: Path, data: Path, out: Path, *engine: str) -> tuple[float, dict[str, object]]:
    """Seconds for one `ragline eval` process, and its report.json."""
    env = cli_env(data) | {"OPENAI_API_KEY": "sk-bench"}
    started = time.perf_counter()
    done = subprocess.run(
        [*ragline_command(), "eval", str(suite), "--out", str(out), "--no-track", *engine],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"ragline eval failed ({done.returncode}):\n{done.stderr}")
    report: dict[str, object] = json.loads((out / "report.json").read_text())
    return seconds, report


# measured anew by every run (seconds, and cost that follows the answers): not compared
SYSTEM = ("latency_p50", "latency_p95", "cost_per_query")


def same(a: dict[str, object], b: dict[str, object]) -> bool:
    """The same per-item values and aggregates, latency aside."""

    def quality(report: dict[str, object]) -> tuple[object, object]:
        per_query = report["per_query"]
        aggregates = report["aggregates"]
        assert isinstance(per_query, dict) and isinstance(aggregates, list)
        kept = {k: v for k, v in per_query.items() if k not in SYSTEM}
        return kept, [a for a in aggregates if a["name"] not in SYSTEM]

    return quality(a) == quality(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden", type=int, default=100)
    parser.add_argument("--latency-s", type=float, default=0.3)
    parser.add_argument("--actors", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[1])
    with workdir("eval-ray", args.keep) as tmp, StubServer("slow", args.latency_s) as stub:
        docs, queries = load_set("manpages", 1000)
        folder = tmp / "manpages"
        export_beir(docs, queries, folder)
        items = export_golden(queries, folder, args.golden)
        suite = tmp / "suite.yaml"
        suite.write_text(
            SUITE.format(
                golden=json.dumps(str(folder / "golden.jsonl")),
                corpus=json.dumps(str(folder / "corpus.jsonl")),
                url=json.dumps(stub.url),
            )
        )
        data = tmp / "data"
        first_s, _ = run(suite, data, tmp / "ingest")
        log(f"{items} QA items; first run (ingest + answers) {first_s:.1f} s")
        serial_a, serial = run(suite, data, tmp / "serial-a")
        ray_s, on_ray = run(
            suite, data, tmp / "ray", "--engine", "ray", "--actors", str(args.actors)
        )
        serial_b, again = run(suite, data, tmp / "serial-b")
        serial_s = (serial_a + serial_b) / 2
        identical = same(serial, on_ray) and same(serial, again)
        log(
            f"serial {serial_a:.1f} s and {serial_b:.1f} s; "
            f"Ray ({args.actors} actors) {ray_s:.1f} s"
        )
        log(f"identical reports: {identical}; model calls answered by the stub: {stub.stats()}")
        figure(
            "eval_ray_speedup",
            serial_s / ray_s,
            target=">1",
            baseline=f"serial:{serial_s:.1f}s",
            ratio=serial_s / ray_s,
            extra={
                "items": str(items),
                "ray_s": f"{ray_s:.1f}",
                "actors": str(args.actors),
                "latency_s": str(args.latency_s),
                "identical": str(identical).lower(),
            },
        )


if __name__ == "__main__":
    main()
