"""Deployment advice from measured numbers: size and latency in, a serving shape out.

    m = measure_folder(Path("out/model"), rows, label="adult-income:3")   # bytes, p50/p95/p99
    plan = decide(m, Needs(latency_ms=100, batch=False))
    plan.target, [str(step) for step in plan.path]
    text = plan_yaml(plan, m, Needs())                    # the plan for a non-embedded target

The decision tree (thresholds from the issue; the caller's budget replaces 100 ms):

    batch consumer? ---- yes --> batch job (throughput decides the chunk size)
        | no
    p95 of one prediction < budget? ---- no --> async queue (callers submit, fetch later)
        | yes
    artifact < 500 MB? ---- yes --> embedded: `ragline serve`'s POST /v1/predict/{model}
        | no
    model server: vLLM for an LLM, Triton (FIL backend for trees, ONNX Runtime) otherwise

Latency is what the serving process spends per request: build a frame from one JSON-like row,
apply the saved feature pipeline, predict (`ragline.serving.api.predictor.Predictor` does the same).
HTTP and JSON on top add about a millisecond on loopback.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.artifacts import load_model, load_pipeline, read_model_file
from ragline.mltrack.tabular.features import FeaturePipeline
from ragline.mltrack.tabular.models import score_frame

Family = Literal["tabular", "llm"]
Target = Literal["embedded", "model_server", "batch_job", "async_queue"]
LATENCY_MS = 100.0  # the budget for one online prediction
SIZE_BYTES = 500 * 1000 * 1000  # 500 MB: above it a model is loaded once, by a server
WORKER_UTILISATION = 0.5  # keep each worker half busy so p95 survives bursts
MAX_WORKERS = 64  # serve.workers' upper bound


@dataclass(frozen=True, slots=True)
class Measurement:
    """A model's measured size and speed.

    Example:
        >>> m = Measurement("m:1", "tabular", "lightgbm-text", 120_000, 0.8, 1.1, 1.5, 5e4)
        >>> m.size_mb
        0.12
    """

    label: str
    family: Family
    format: str
    size_bytes: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rows_per_s: float  # batch throughput
    single_samples: int = 0
    batch_rows: int = 0
    features: tuple[str, ...] = ()
    task: str = ""

    @property
    def size_mb(self) -> float:
        """Size in MB (10^6 bytes), rounded to 2 decimals."""
        return round(self.size_bytes / 1e6, 2)


@dataclass(frozen=True, slots=True)
class Needs:
    """What the consumer needs: a latency budget, batch reads, expected requests per second.

    Example:
        >>> Needs(latency_ms=20, rps=300).batch
        False
    """

    latency_ms: float = LATENCY_MS
    batch: bool = False
    rps: float | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One question of the tree, its answer and the numbers behind it.

    Example:
        >>> str(Step("size < 500 MB?", True, "1.02 MB"))
        'size < 500 MB? yes (1.02 MB)'
    """

    question: str
    answer: bool
    evidence: str

    def __str__(self) -> str:
        return f"{self.question} {'yes' if self.answer else 'no'} ({self.evidence})"


@dataclass(frozen=True, slots=True)
class Plan:
    """Where the tree ended: the target, the server (triton, vllm) and the path taken.

    Example:
        >>> m = Measurement("m:1", "tabular", "lightgbm-text", 120_000, 0.8, 1.1, 1.5, 5e4)
        >>> decide(m, Needs()).target
        'embedded'
    """

    target: Target
    server: str | None
    path: tuple[Step, ...]
    why: str
    workers: int = 1


def workers_needed(m: Measurement, needs: Needs) -> int:
    """Processes that serve `needs.rps` with each one `WORKER_UTILISATION` busy (1 without rps).

    Example:
        >>> m = Measurement("m:1", "tabular", "lightgbm-text", 1, 2.0, 3.0, 4.0, 5e4)
        >>> workers_needed(m, Needs(rps=600))    # 2 ms each: 250 requests/s per half-busy worker
        3
    """
    if needs.rps is None:
        return 1
    per_worker = 1000.0 / max(m.p50_ms, 1e-3) * WORKER_UTILISATION
    return max(1, math.ceil(needs.rps / per_worker))


def _sized(plan: Plan, m: Measurement, needs: Needs, cpus: int | None) -> Plan:
    """`plan` with its worker count, capped at the CPUs (and serve.workers' 64)."""
    needed, cap = workers_needed(m, needs), min(MAX_WORKERS, cpus or MAX_WORKERS)
    if needed <= cap:
        return replace(plan, workers=needed)
    replicas = math.ceil(needed / cap)
    why = f"{plan.why}; {needed} workers needed for {needs.rps:g} req/s, {cap} fit on one "
    return replace(plan, workers=cap, why=why + f"machine: run {replicas} replicas")


def decide(m: Measurement, needs: Needs, cpus: int | None = None) -> Plan:
    """Walk the tree in the module docstring with `m`'s numbers and the consumer's `needs`;
    the worker count serves `needs.rps`, at most `cpus` per machine."""
    return _sized(_walk(m, needs), m, needs, cpus)


def _walk(m: Measurement, needs: Needs) -> Plan:
    batch = Step(
        "batch consumer?", needs.batch, "reads in batches" if needs.batch else "callers wait"
    )
    if needs.batch:
        why = f"{m.rows_per_s:,.0f} rows/s in batches: a scheduled job, no server to keep up"
        return Plan("batch_job", None, (batch,), why)
    fast = m.p95_ms < needs.latency_ms
    latency = Step(
        f"p95 < {needs.latency_ms:g} ms?", fast, f"p95 {m.p95_ms:.2f} ms, p99 {m.p99_ms:.2f} ms"
    )
    if not fast:
        why = (
            f"one prediction takes {m.p95_ms:.0f} ms at p95, over the {needs.latency_ms:g} ms "
            "budget: callers submit and fetch the result later (or shrink the model)"
        )
        return Plan("async_queue", None, (batch, latency), why)
    small = m.size_bytes < SIZE_BYTES
    size = Step("size < 500 MB?", small, f"{m.size_mb:,.2f} MB")
    path = (batch, latency, size)
    if small:
        why = "fast and small: load it in the API process, no extra server to run"
        return Plan("embedded", None, path, why)
    server = "vllm" if m.family == "llm" else "triton"
    why = f"{m.size_mb:,.0f} MB is too big to load in every API worker: one {server} serves it"
    return Plan("model_server", server, path, why)


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder` (what a deployment copies)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def synthetic_rows(pipeline: FeaturePipeline | None, features: tuple[str, ...]) -> pd.DataFrame:
    """Rows the saved pipeline accepts, when no data is given: numeric inputs at their train
    mean (0 without one), categoricals at their first known category."""
    row: dict[str, object] = {name: 0.0 for name in features}
    if pipeline is not None:
        row = {}
        for num in pipeline.numeric:
            mean = next((op.values[0] for op in num.ops if op.op == "standardize"), 0.0)
            row[num.column] = mean
        for hot in pipeline.onehot:
            row[hot.column] = hot.categories[0] if hot.categories else ""
        for te in pipeline.target:
            row[te.column] = next(iter(te.mapping), "")
    return pd.DataFrame([row] * 64)


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(np.asarray(samples) * 1000.0, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def measure_folder(
    folder: Path,
    rows: pd.DataFrame | None = None,
    *,
    label: str | None = None,
    repeats: int = 200,
    batch_rows: int = 10_000,
) -> Measurement:
    """Size and latency of the model saved in `folder` (`ragline.mltrack.tabular.save_model`
    layout): p50/p95/p99 of `repeats` single-row predictions and the rows/s of one `batch_rows`
    batch, on `rows` (or `synthetic_rows`). DataError when the folder is not a model or rows lack a
    column the model reads."""
    card = read_model_file(folder)
    model, pipeline = load_model(folder), load_pipeline(folder)
    features = tuple(f.name for f in card.signature.features)
    frame = synthetic_rows(pipeline, features) if rows is None or rows.empty else rows
    needed = pipeline.input_columns if pipeline is not None else features
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(
            f"the sample rows lack {missing[:10]}, which the model reads; give its data"
        )
    records = frame[list(needed)].to_dict(orient="records")

    def predict(batch: list[dict[str, object]]) -> None:
        score_frame(model, pipeline, pd.DataFrame(batch))

    for record in records[:5]:  # first calls allocate; they are not what callers will see
        predict([record])
    samples = []
    for i in range(repeats):
        started = time.perf_counter()
        predict([records[i % len(records)]])
        samples.append(time.perf_counter() - started)
    big = (records * math.ceil(batch_rows / len(records)))[:batch_rows]
    started = time.perf_counter()
    predict(big)
    throughput = batch_rows / max(time.perf_counter() - started, 1e-9)
    p50, p95, p99 = _percentiles(samples)
    return Measurement(
        label or str(folder),
        "tabular",
        card.format,
        folder_bytes(folder),
        p50,
        p95,
        p99,
        throughput,
        repeats,
        batch_rows,
        features,
        card.task,
    )


def _triton(m: Measurement, name: str) -> dict[str, object]:
    types = {"lightgbm-text": ("fil", "lightgbm", "model.txt")}
    types |= {"xgboost-json": ("fil", "xgboost_json", "xgboost.json")}
    types |= {"onnx": ("onnxruntime", "", "model.onnx")}
    backend, model_type, file = types.get(m.format, ("fil", "treelite_checkpoint", "checkpoint.tl"))
    classifier = "true" if m.task == "classification" else "false"
    params = (
        ""
        if backend != "fil"
        else (
            f'parameters [{{ key: "model_type" value: {{ string_value: "{model_type}" }} }},\n'
            f'            {{ key: "is_classifier" value: {{ string_value: "{classifier}" }} }}]\n'
        )
    )
    pbtxt = (
        f'backend: "{backend}"\nmax_batch_size: 32768\ndefault_model_filename: "{file}"\n'
        f'input [{{ name: "input__0" data_type: TYPE_FP32 dims: [ {len(m.features)} ] }}]\n'
        'output [{ name: "output__0" data_type: TYPE_FP32 dims: [ 1 ] }]\n'
        f"instance_group [{{ kind: KIND_AUTO }}]\n{params}dynamic_batching {{}}\n"
    )
    note = "sklearn (skops): convert to a Treelite checkpoint or ONNX first"
    return {
        "server": "triton",
        "repository": {f"{name}/config.pbtxt": pbtxt, f"{name}/1/{file}": "the model file"},
        "inputs": list(m.features),
        "note": "features.json's pipeline runs before Triton: send the features in this order"
        + ("" if m.format in ("lightgbm-text", "xgboost-json", "onnx") else f"; {note}"),
    }


def _target_section(plan: Plan, m: Measurement, name: str) -> dict[str, object]:
    if plan.target == "batch_job":
        chunk = int(min(1_000_000, max(1_000, round(m.rows_per_s * 10, -3))))
        return {
            "schedule": "0 2 * * *",
            "input": f"data/score/{name}/{{date}}.parquet",
            "output": f".ragline/predictions/{name}/{{date}}.parquet",
            "model": f"{name}@production",
            "chunk_rows": chunk,
            "seconds_per_million_rows": round(1e6 / m.rows_per_s, 1),
        }
    if plan.target == "async_queue":
        return {
            "queue": "redis://127.0.0.1:6379/0",
            "workers": plan.workers,
            "visibility_timeout_s": round(max(1.0, 10 * m.p99_ms / 1000), 1),
            "result_ttl_s": 86400,
            "submit": f"enqueue {{request_id, rows}} on {name}; poll or callback for scores",
        }
    if plan.server == "vllm":
        return {
            "server": "vllm",
            "command": f"vllm serve MODEL_DIR --served-model-name {name}",
            "ragline_settings": {"llm": {"provider": f"vllm:{name}"}},
        }
    return _triton(m, name)


def plan_document(plan: Plan, m: Measurement, needs: Needs, name: str) -> dict[str, object]:
    """The plan as plain data: decision, measured numbers, path, and the target's section."""
    return {
        "deploy": {
            "model": m.label,
            "target": plan.target,
            "server": plan.server,
            "why": plan.why,
            "needs": {"latency_ms": needs.latency_ms, "batch": needs.batch, "rps": needs.rps},
            "measured": {
                "size_bytes": m.size_bytes,
                "p50_ms": round(m.p50_ms, 3),
                "p95_ms": round(m.p95_ms, 3),
                "p99_ms": round(m.p99_ms, 3),
                "rows_per_s": round(m.rows_per_s),
                "format": m.format,
            },
            "path": [
                {"question": s.question, "answer": s.answer, "evidence": s.evidence}
                for s in plan.path
            ],
        },
        plan.target: _target_section(plan, m, name),
    }


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings (config.pbtxt) as literal blocks, ready to copy."""


def _block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _block)


def plan_yaml(plan: Plan, m: Measurement, needs: Needs, name: str) -> str:
    """`plan_document` as YAML, with a one-line header."""
    document = plan_document(plan, m, needs, name)
    head = f"# deployment plan written by `ragline deploy plan` for {m.label}\n"
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100)
    return head + body
