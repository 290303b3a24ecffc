"""Unchanged rerun: the second ingest of the same ~10k chunks, as a percentage of the first.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/rerun.py [--chunks-target 10000] [--modules 88]

Corpus: the stdlib pydoc text, copied into copy-01/, copy-02/, ... until it makes about
--chunks-target chunks (each copy's chunks have their own ids). Both runs are the `ragline ingest`
command in a fresh process, timed on the wall clock as a user waits for it: process start,
imports, model load, everything. Then a third run in this process, through a freshly built store
and ingestor (no model loads: unchanged files are skipped after hashing), compared with the
first run's own reported time. Target: second run <= 5% of the first.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import time
from pathlib import Path

from common import (
    COLLECTION,
    bench_settings,
    cli_env,
    describe,
    figure,
    log,
    ragline_command,
    workdir,
    write_corpus,
)

TARGET_PERCENT = 5.0
CHUNKS_LINE = re.compile(r"chunks\s+(\d+) written")
TIME_LINE = re.compile(r"time\s+([\d.]+) s")


def chunks_per_file(stdlib: Path, plan_dir: Path) -> dict[Path, int]:
    """How many chunks the configured chunker cuts from each file (loads the model's limit)."""
    from ragline.rag.ingest.pipeline import prepare
    from ragline.rag.loaders import Candidate, walk
    from ragline.serving.wiring import Accounting, build_ingestor, build_store

    settings = bench_settings(plan_dir)
    with Accounting(settings) as costs:
        ingestor = build_ingestor(settings, build_store(settings), costs=costs)
    chunker, config = ingestor.chunker(), settings.ingest
    counts = {}
    for item in walk(stdlib, config.include, config.exclude):
        if isinstance(item, Candidate):
            prepared = prepare((item, config.jsonl_text_field), chunker)
            counts[item.path] = 0 if isinstance(prepared, str) else len(prepared[1])
    ingestor.manifest.close()
    return counts


def build_corpus(counts: dict[Path, int], out: Path, target: int) -> int:
    """Copy files into copy-NN/ folders until they hold `target` chunks; return the chunks."""
    if sum(counts.values()) == 0:
        raise SystemExit("the stdlib corpus gave no chunks")
    total, copy = 0, 0
    while total < target:
        copy += 1
        folder = out / f"copy-{copy:02d}"
        folder.mkdir(parents=True)
        for path, chunks in counts.items():
            if total >= target:
                break
            shutil.copyfile(path, folder / path.name)
            total += chunks
    log(f"corpus: {total} chunks in {copy} copy folder(s) of the stdlib text under {out}")
    return total


def cli_ingest(corpus: Path, data_dir: Path, label: str) -> tuple[float, str]:
    """Wall-clock seconds of `ragline ingest` in a new process, and what it printed."""
    command = [*ragline_command(), "ingest", str(corpus), "--collection", COLLECTION]
    log(f"{label}: {' '.join(command)}")
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=data_dir.parent,
        env=cli_env(data_dir),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{label} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    for line in done.stdout.strip().splitlines():
        print(f"    | {line}")
    log(f"{label}: {seconds:.2f} s wall clock")
    return seconds, done.stdout


def parsed(pattern: re.Pattern[str], text: str) -> float:
    match = pattern.search(text)
    if match is None:
        raise SystemExit(f"`ragline ingest` output changed; no match for {pattern.pattern!r}")
    return float(match.group(1))


def in_process_rerun(corpus: Path, data_dir: Path) -> tuple[float, float, int]:
    """(run seconds, build + run + close seconds, unchanged files) of a fresh ingestor."""
    from ragline.serving.wiring import Accounting, build_ingestor, build_store

    started = time.perf_counter()
    settings = bench_settings(data_dir)
    with Accounting(settings) as costs:
        store = build_store(settings, costs=costs)
        ingestor = build_ingestor(settings, store, costs=costs)
        report = ingestor.run([corpus])
        store.close()
        ingestor.manifest.close()
    total = time.perf_counter() - started
    if report.chunks_written or report.files_ingested:
        raise SystemExit(f"the in-process rerun re-ingested {report.files_ingested} files")
    return report.seconds, total, report.files_unchanged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chunks-target", type=int, default=10_000, help="chunks in the corpus (about)"
    )
    parser.add_argument(
        "--modules",
        type=int,
        default=88,
        help="stdlib modules in one copy (1-88; 88: ~4k chunks)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[2])

    with workdir("rerun", args.keep) as tmp:
        stdlib = write_corpus(tmp / "stdlib", args.modules)
        log("counting chunks per file (loads the model for its length limit; not timed)")
        corpus = tmp / "corpus"
        chunks = build_corpus(chunks_per_file(stdlib, tmp / "plan"), corpus, args.chunks_target)
        data_dir = tmp / "data"

        minutes = chunks / 40 / 60
        log(f"first run: {chunks} chunks, ~{minutes:.1f} min at 40 chunks/s (idle 2 cores)")
        first_s, first_out = cli_ingest(corpus, data_dir, "first run (CLI)")
        second_s, second_out = cli_ingest(corpus, data_dir, "second run (CLI)")
        written = parsed(CHUNKS_LINE, first_out)
        if written != chunks or parsed(CHUNKS_LINE, second_out) != 0:
            raise SystemExit("the runs did not write the expected chunks (see their output)")
        first_run_s = parsed(TIME_LINE, first_out)

        log("third run: in this process, fresh store and ingestor")
        run_s, built_s, unchanged = in_process_rerun(corpus, data_dir)
        log(f"in-process rerun: run() {run_s:.2f} s, with building {built_s:.2f} s")

    cli_pct = 100 * second_s / first_s
    run_pct = 100 * run_s / first_run_s
    print()
    print(f"{'run':<40} {'seconds':>8} {'% of first':>11}")
    print(f"{'first ingest, CLI wall clock':<40} {first_s:>8.2f} {100:>10.1f}%")
    print(f"{'second ingest, CLI wall clock':<40} {second_s:>8.2f} {cli_pct:>10.2f}%")
    print(f"{'first ingest, run() as reported':<40} {first_run_s:>8.2f} {100:>10.1f}%")
    print(f"{'rerun in process, run()':<40} {run_s:>8.2f} {run_pct:>10.2f}%")
    print(f"{'rerun in process, build + run()':<40} {built_s:>8.2f} {'':>11}")
    print(f"{chunks} chunks, {unchanged} unchanged files on rerun; target <= {TARGET_PERCENT}%")
    figure(
        "rerun_percent_of_first",
        cli_pct,
        target=f"<={TARGET_PERCENT}",
        baseline=f"first_run_s={first_s:.4g}",
        ratio=second_s / first_s,
        extra={
            "second_run_s": f"{second_s:.3g}",
            "in_process_percent": f"{run_pct:.3g}",
            "chunks": str(chunks),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
