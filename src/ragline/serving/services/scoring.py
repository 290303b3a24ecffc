"""Batch scoring on Ray: what `ragline ml score ... --engine ray` passes to `score_files`.

    with ray_session(RayOptions(address="auto")):
        report = score_files(scorer, source, output, mapper=ray_batches(in_flight=8))

The driver reads the input and writes the output, in order, as the in-process run does; each
batch is scored by `score_batch` in a Ray task (retried if its worker dies), against one copy
of the loaded model in Ray's object store. The rows, scores and labels are those of the
in-process run: the same function scores the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from ragline.mltrack.tabular.score import BatchMapper, Scorer, score_batch
from ragline.rag.ingest.ray_engine import ordered


def ray_batches(in_flight: int | None = None) -> BatchMapper:
    """A `BatchMapper` scoring each batch in a Ray task, `in_flight` at a time (default: the
    cluster's CPUs, plus one so a worker never waits on the driver)."""

    def mapped(
        scorer: Scorer, inputs: Iterator[tuple[Path, pa.RecordBatch]], keep: Sequence[str] | None
    ) -> Iterator[tuple[Path, pa.Table]]:
        import ray

        width = in_flight or int(ray.cluster_resources().get("CPU", 1)) + 1  # type: ignore[no-untyped-call]
        task = ray.remote(max_retries=3)(score_batch)
        model = ray.put(scorer)

        def submit(item: tuple[Path, pa.RecordBatch]) -> Any:
            return task.remote(model, item[1], keep)

        for (path, _), table in ordered(submit, inputs, width):
            yield path, table

    return mapped
