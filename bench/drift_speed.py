"""Drift statistics over 1,000,000 rows x 50 numeric columns, and Evidently on the same frames.

    .venv/bin/python bench/drift_speed.py [--rows 1000000] [--cols 50] [--repeats 3]
        [--evidently-python /tmp/evidently-venv/bin/python] [--evidently-rows N]
        [--evidently-repeats 1]

Builds a reference and a current frame (normal, exponential and uniform columns; five current
columns shifted, one with 5% NaNs) and times `ragline.mltrack.monitor.drift_report.drift_report` on
the DataFrames: PSI + KS + JS for every column, from one sort per column (best of --repeats), and
`numeric_drift` alone on the float arrays. Then Evidently's `DataDriftPreset` on the same frames,
timed around `Report.run` only (best of --evidently-repeats): in this interpreter if evidently
imports here, else in --evidently-python (evidently 0.7 does not import with pandas 3, so it lives
in its own venv; the frames go to it as Parquet). --evidently-rows times Evidently on the first N
rows of both frames instead, extrapolated linearly to --rows, when the full frame is too slow; the
figure line says which. Target: ragline <= 5 s; the ratio is Evidently's seconds over ragline's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import describe, figure, log, workdir
from ragline.mltrack.monitor.drift import numeric_drift
from ragline.mltrack.monitor.drift_report import DriftThresholds, drift_report

SHIFTED = {0: 0.5, 7: 0.2, 13: 0.05, 21: 1.0, 34: 0.1}  # column -> shift in standard deviations
EVIDENTLY = """
import json, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
best = float("inf")
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    best = min(best, time.perf_counter() - started)
metrics = snapshot.dict()["metrics"]
drifted = [m["value"] for m in metrics if "DriftedColumnsCount" in m["metric_name"]]
import evidently
print(json.dumps({"seconds": best, "version": evidently.__version__, "drifted": drifted}))
"""


def frames(rows: int, cols: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames; SHIFTED columns move in the current one."""
    rng = np.random.default_rng(seed)
    kinds = [rng.normal, rng.exponential, rng.uniform]
    ref = {f"f{j:02d}": kinds[j % 3](size=rows) for j in range(cols)}
    cur = {f"f{j:02d}": kinds[j % 3](size=rows) + SHIFTED.get(j, 0.0) for j in range(cols)}
    cur["f03"][rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(ref), pd.DataFrame(cur)


def best_of(repeats: int, work: object) -> float:
    assert callable(work)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def evidently_seconds(
    ref: pd.DataFrame, cur: pd.DataFrame, python: str | None, repeats: int, tmp: Path
) -> tuple[float, str] | None:
    """Best `Report([DataDriftPreset()]).run` time and evidently's version, or None."""
    here = importlib.util.find_spec("evidently") is not None
    if not here and (python is None or not Path(python).is_file()):
        log("evidently is not installed here and no --evidently-python: no ratio")
        return None
    ref.to_parquet(tmp / "ref.parquet")
    cur.to_parquet(tmp / "cur.parquet")
    command = [sys.executable if here else str(python), "-c", EVIDENTLY]
    done = subprocess.run(
        [*command, str(tmp / "ref.parquet"), str(tmp / "cur.parquet"), str(repeats)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        log(f"evidently failed ({done.returncode}): {done.stderr.strip()[-800:]}")
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"evidently {result['version']}: {result['drifted']}")
    return float(result["seconds"]), str(result["version"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--evidently-python", default=None)
    parser.add_argument("--evidently-rows", type=int, default=None)
    parser.add_argument("--evidently-repeats", type=int, default=1)
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[1])
    ref, cur = frames(args.rows, args.cols)
    log(f"frames: {args.rows} rows x {args.cols} columns each")
    thresholds = DriftThresholds()
    report = drift_report(ref, cur, thresholds)
    flagged = {f.name: f.severity for f in report.features if f.severity != "ok"}
    log(f"ragline: overall {report.severity}; not ok: {flagged}")
    seconds = best_of(args.repeats, lambda: drift_report(ref, cur, thresholds))
    arrays = ref.to_numpy(), cur.to_numpy()
    stats_only = best_of(args.repeats, lambda: numeric_drift(*arrays))
    log(f"ragline drift_report {seconds:.2f} s; numeric_drift on arrays {stats_only:.2f} s")
    sample = args.evidently_rows or args.rows
    with workdir("drift") as tmp:
        timed = evidently_seconds(ref.head(sample), cur.head(sample), args.evidently_python,
                                  args.evidently_repeats, tmp)  # fmt: skip
    extra = {"rows": str(args.rows), "cols": str(args.cols), "arrays_s": f"{stats_only:.3f}"}
    ratio = float("nan")
    baseline = "none:evidently-unavailable"
    if timed is not None:
        ev_seconds, version = timed
        scaled = ev_seconds * args.rows / sample  # linear extrapolation when sampled
        ratio = scaled / seconds
        baseline = f"evidently-{version}-DataDriftPreset"
        extra |= {"evidently_s": f"{ev_seconds:.2f}", "evidently_rows": str(sample)}
        log(f"evidently {ev_seconds:.2f} s on {sample} rows; ratio {ratio:.1f}x")
    figure("drift_seconds", seconds, target="<=5", baseline=baseline, ratio=ratio, extra=extra)


if __name__ == "__main__":
    main()
