"""Tracking overhead: a 200-trial Optuna study of LightGBM on UCI Adult, tracked vs untracked.

    HF_HUB_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true .venv/bin/python bench/ml_tracking_overhead.py \
        [--trials 200] [--repeats 2] [--rounds 100] [--threads 1] [--keep]

All 45,222 rows of UCI Adult (ragline.mltrack.data.datasets.load_adult) are written to a CSV in a
temp directory; `ragline.mltrack.tabular.train` then runs the same configuration (LightGBM, --rounds
rounds, early stopping 10, --threads threads, tune.trials --trials with median pruning, seed 0, test
metrics with 200 bootstrap resamples) twice per repeat, alternating: untracked (logger=None) and
tracked (inside `Tracker.start_run` on a fresh SQLite store in the temp directory: every tuning
trial's metrics, the params, the final metrics, the model files and report.json are logged, and the
run is created and ended). The untracked run goes first in each pair. Excluded from the timings, and
reported on their own: loading the data, importing MLflow, opening the store (MLflow's schema
migrations) and creating the experiment, and one empty warm-up run (it creates mltrack's
experiment-id table). Target: median tracked / untracked wall time <= 1.10. The seconds spent inside
mltrack (starting the run, every RunLogger call through a timing wrapper, ending the run) are
reported too: on a shared machine two identical studies differ by more than tracking costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import describe, figure, log, workdir

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

TARGET = 1.10


def train_config(csv: Path, args: argparse.Namespace) -> Any:
    """The study: LightGBM on Adult's fourteen attributes, fairness by sex."""
    from ragline.mltrack.tabular import TrainConfig

    return TrainConfig.model_validate(
        {
            "data": {
                "path": str(csv),
                "target": "income",
                "task": "classification",
                "positive_label": 1,
                "protected": "sex",
            },
            "split": {"kind": "stratified", "test_size": 0.2, "valid_size": 0.2, "seed": 0},
            "features": {
                "numeric": [
                    {"columns": ["age", "hours-per-week", "education-num"], "ops": ["standardize"]},
                    {"columns": ["capital-*"], "ops": ["log", {"bin": 8}]},
                ],
                "categorical": [
                    {"columns": ["workclass", "marital-status", "relationship", "race", "sex"]},
                    {
                        "columns": ["occupation", "native-country", "education"],
                        "encoding": "target",
                    },
                ],
            },
            "model": {
                "kind": "lightgbm",
                "rounds": args.rounds,
                "early_stopping": 10,
                "threads": args.threads,
            },
            "tune": {"trials": args.trials, "pruning": True, "seed": 0},
            "metrics": {"resamples": 200, "seed": 0},
        }
    )


def untracked(config: Any, out: Path) -> tuple[float, Any]:
    """Seconds for `train` with no logger, and its result."""
    from ragline.mltrack.tabular import train

    started = time.perf_counter()
    result = train(config, None, out)
    return time.perf_counter() - started, result


class TimedLogger:
    """Forwards every RunLogger call to the run and adds up the seconds spent inside it."""

    def __init__(self, run: Any) -> None:
        self.run, self.seconds, self.calls = run, 0.0, 0

    def _timed(self, method: str, *args: object) -> None:
        started = time.perf_counter()
        getattr(self.run, method)(*args)
        self.seconds += time.perf_counter() - started
        self.calls += 1

    def log_params(self, params: Mapping[str, object]) -> None:
        self._timed("log_params", params)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._timed("log_metrics", metrics, step)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._timed("set_tags", tags)

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        self._timed("log_artifact", path, folder)


def tracked(config: Any, tracker: Any, plan: Any, out: Path) -> tuple[float, Any, dict[str, float]]:
    """Seconds for run start + `train` logged through the run + run end, the result, and the
    seconds spent inside mltrack: starting the run, each logging call, ending the run."""
    from ragline.mltrack.tabular import train
    from ragline.mltrack.tracking.experiments import MetricValue

    started = time.perf_counter()
    with tracker.start_run(plan) as run:
        opened = time.perf_counter()
        timed = TimedLogger(run)
        result = train(config, timed, out)
        auc = result.metrics[result.primary]
        run.finish("iterate", MetricValue(result.primary, auc.value, auc.ci_low, auc.ci_high))
        closing = time.perf_counter()
    ended = time.perf_counter()
    inside = {"start": opened - started, "calls": timed.seconds, "end": ended - closing}
    inside["n_calls"] = timed.calls
    return ended - started, result, inside


def open_tracker(data_dir: Path) -> tuple[Any, Any]:
    """A Tracker on a fresh SQLite store, opened and warmed up outside the timings."""
    from ragline.mltrack.config import MltrackConfig
    from ragline.mltrack.tracking.experiments import ExperimentPlan, Tracker

    started = time.perf_counter()
    import mlflow  # noqa: F401  (its import is part of start-up, not of tracking a study)

    log(f"import mlflow: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    tracker = Tracker(MltrackConfig(experiment="overhead"), data_dir)
    _ = tracker.experiment_id  # MLflow's migrations + the experiment row
    log(f"store open + schema + experiment: {time.perf_counter() - started:.2f} s (excluded)")
    plan = ExperimentPlan("tracking overhead", "sha256:adult", "lightgbm", actor="bench")
    started = time.perf_counter()
    with tracker.start_run(plan):
        pass
    log(f"warm-up empty run (id table): {time.perf_counter() - started:.2f} s (excluded)")
    return tracker, plan


def summary(label: str, result: Any, seconds: float) -> str:
    tuning = result.tuning
    auc = result.metrics[result.primary]
    return (
        f"{label}: {seconds:.1f} s (tune {result.timings['tune']:.1f} s, "
        f"{len(tuning.trials)} trials, {tuning.pruned} pruned; test AUC {auc.value:.4f})"
    )


@dataclass
class Timings:
    """Seconds per repeat: untracked, tracked, inside mltrack, tracked/untracked tuning stage."""

    plain: list[float] = field(default_factory=list)
    logged: list[float] = field(default_factory=list)
    inside: list[float] = field(default_factory=list)
    tune_ratio: list[float] = field(default_factory=list)


def measure(config: Any, tracker: Any, plan: Any, tmp: Path, repeats: int) -> Timings:
    """Alternate untracked and tracked studies, `repeats` pairs, untracked first."""
    out = Timings()
    for i in range(repeats):
        seconds, base = untracked(config, tmp / f"untracked-{i}")
        out.plain.append(seconds)
        log(summary(f"untracked #{i + 1}", base, seconds))
        seconds, result, spent = tracked(config, tracker, plan, tmp / f"tracked-{i}")
        out.logged.append(seconds)
        log(summary(f"tracked   #{i + 1}", result, seconds))
        out.inside.append(spent["start"] + spent["calls"] + spent["end"])
        log(
            f"  inside mltrack: start {spent['start']:.3f} s, {spent['n_calls']:.0f} logging "
            f"calls {spent['calls']:.3f} s, end {spent['end']:.3f} s = {out.inside[-1]:.3f} s"
        )
        out.tune_ratio.append(result.timings["tune"] / base.timings["tune"])
        if [t.params for t in result.tuning.trials] != [t.params for t in base.tuning.trials]:
            log("WARNING: the two studies sampled different trials")
    return out


def conclude(t: Timings, trials: int) -> None:
    """Log the medians and print the FIGURE line."""
    ratio = statistics.median(a / b for a, b in zip(t.logged, t.plain, strict=True))
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    mltrack_s = statistics.median(t.inside)
    log(
        f"median tracked/untracked {ratio:.3f} ({verdict} vs {TARGET}); tuning stage alone "
        f"{statistics.median(t.tune_ratio):.3f}; time inside mltrack {mltrack_s:.3f} s = "
        f"{mltrack_s / statistics.median(t.plain):.2%} of the untracked median"
    )
    figure(
        "ml_tracking_overhead_ratio",
        ratio,
        target=f"<={TARGET}",
        baseline="untracked study, same run",
        ratio=ratio,
        extra={
            "trials": str(trials),
            "untracked_s": "/".join(f"{s:.1f}" for s in t.plain),
            "tracked_s": "/".join(f"{s:.1f}" for s in t.logged),
            "mltrack_s": f"{mltrack_s:.3f}",
            "verdict": verdict,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    describe("\n\n".join(__doc__.split("\n\n")[1:3]))
    log(f"trials {args.trials}, rounds {args.rounds}, early stopping 10, threads {args.threads}")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from ragline.mltrack.data.datasets import load_adult

    with workdir("mltrack", args.keep) as tmp:
        started = time.perf_counter()
        csv = tmp / "adult.csv"
        load_adult().to_csv(csv, index=False)
        log(f"Adult: 45,222 rows to {csv.name} in {time.perf_counter() - started:.1f} s")
        tracker, plan = open_tracker(tmp / "store")
        timings = measure(train_config(csv, args), tracker, plan, tmp, args.repeats)
        tracker.close()
        conclude(timings, args.trials)


if __name__ == "__main__":
    main()
