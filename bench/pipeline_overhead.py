"""What a pipeline adds to training: every stage but training, against training, on Adult.

    .venv/bin/ragline ml dataset adult --out .ragline/datasets/adult.csv
    HF_HUB_OFFLINE=1 .venv/bin/python bench/pipeline_overhead.py [--runs 2]

Runs `configs/pipelines/adult.yaml` as `ragline pipeline run` does (the same service), with
`approval.required: false` so one process runs every stage, in a fresh data dir per run. The
MLflow database is created and MLflow imported before the timed run (both are one-off costs
of a new project, not of a pipeline). Per run it prints each stage's seconds, training's, and
overhead = sum(every other stage) / training, against the target 0.10. The leakage stage
prepares the table (load, split, fit the features) once for the checks and for training, which
reuses it: those seconds count as training's.

A fresh data dir has no production version, so the canary stage is skipped and promote is the
gated first promotion: this measures the first deployment. A canary's time is set by the
rollout policy (canary requests per stage at its percent of traffic), not by the pipeline's
work, so it is reported by the canary tests, not here.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.10
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _pipeline(folder: Path) -> Path:
    """configs/pipelines/adult.yaml with approval off, its paths kept pointing into the repo."""
    text = (ROOT / "configs" / "pipelines" / "adult.yaml").read_text()
    text = text.replace("approval: {required: true}", "approval: {required: false}")
    text = text.replace(
        "train: ../ml/adult.yaml", f"train: {ROOT / 'configs' / 'ml' / 'adult.yaml'}"
    )
    golden = ROOT / ".ragline" / "datasets" / "adult-golden.csv"
    text = text.replace("path: ../../.ragline/datasets/adult-golden.csv", f"path: {golden}")
    path = folder / "adult.yaml"
    path.write_text(text)
    return path


def one_run(folder: Path) -> dict[str, float]:
    """Seconds per stage of one pipeline run in a fresh data dir under `folder`."""
    from ragline.mltrack.tracking.mlflow_store import MlflowStore
    from ragline.serving.services.pipeline import PipelineService
    from ragline.serving.settings import load_settings

    settings = load_settings(None, data_dir=folder / "data")
    store = MlflowStore(settings.ml, settings.data_dir)
    store.client.search_experiments(max_results=1)  # MLflow imported, its schema created
    store.close()
    record = PipelineService(settings).run(_pipeline(folder), "code")
    if record is None or record.status != "promoted":
        stages = [] if record is None else [(s.stage, s.status, s.detail) for s in record.stages]
        sys.exit(f"the pipeline did not reach production: {stages}")
    seconds = {s.stage: s.seconds for s in record.stages}
    # the leakage stage loads, splits and fits the features for training, which reuses them:
    # that part is training's work, done earlier, not the pipeline's
    prepare_s = next(s.numbers.get("prepare_s", 0.0) for s in record.stages if s.stage == "leakage")
    seconds["leakage"] -= prepare_s
    seconds["train"] += prepare_s
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    if not (ROOT / ".ragline" / "datasets" / "adult.csv").is_file():
        sys.exit("run first: .venv/bin/ragline ml dataset adult --out .ragline/datasets/adult.csv")
    ratios = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="ragline-pipeline-bench-") as tmp:
            seconds = one_run(Path(tmp))
        training = seconds.pop("train")
        other = sum(seconds.values())
        ratios.append(other / training)
        parts = ", ".join(f"{k} {v:.2f}" for k, v in seconds.items())
        print(f"run {i + 1}: training {training:.1f} s; other stages {other:.2f} s ({parts})")
        print(f"       overhead {other / training:.3f} (target <= {TARGET:.2f})")
    print(f"overhead per run: {', '.join(f'{r:.3f}' for r in ratios)}; target {TARGET:.2f}")


if __name__ == "__main__":
    main()
