"""Helpers shared by the benchmark scripts: corpus, temp settings tree, timing and figures.

    with workdir("ingest", keep=False) as tmp:
        corpus = write_corpus(tmp / "corpus", modules=40)
        settings = bench_settings(tmp / "data")
        ...
        figure("ingest_throughput_ratio", 0.93, target=">=0.9", baseline="...", ratio=0.93)

Every benchmark writes under a fresh temp directory, never into the repo's `.ragline`.
Benchmarks are scripts, not timed tests: run them on an idle machine and read the figures.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS_SCRIPT = ROOT / "scripts" / "stdlib_corpus.py"
COLLECTION = "bench"

# Model hubs and telemetry are unreachable here; tokenizers' own threads fight torch's.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
for _key, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)

_STARTED = time.perf_counter()


def log(message: str) -> None:
    """A progress line with the seconds since the script started."""
    print(f"[{time.perf_counter() - _STARTED:7.1f} s] {message}", flush=True)


def machine() -> str:
    """CPU model, cores, load and torch threads: timings mean little without them."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = "/".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"{model}, {os.cpu_count()} cores, load average {load}, Python {platform.python_version()}"
    )


def describe(purpose: str) -> None:
    """Print what the benchmark measures and where it runs."""
    print(purpose.strip(), flush=True)
    print(f"machine: {machine()}", flush=True)


@contextmanager
def workdir(name: str, keep: bool = False) -> Iterator[Path]:
    """A fresh temp directory for one benchmark; removed afterwards unless `keep`."""
    path = Path(tempfile.mkdtemp(prefix=f"ragline-bench-{name}-"))
    log(f"working in {path}")
    try:
        yield path
    finally:
        if keep:
            log(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def stdlib_modules() -> tuple[str, ...]:
    """The module list of scripts/stdlib_corpus.py (the one source of that list)."""
    spec = importlib.util.spec_from_file_location("stdlib_corpus", CORPUS_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.MODULES)


def write_corpus(out: Path, modules: int) -> Path:
    """pydoc text of the first `modules` stdlib modules (scripts/stdlib_corpus.py, 88 max)."""
    subprocess.run(
        [sys.executable, str(CORPUS_SCRIPT), str(out), "--modules", str(modules)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    files = sorted(out.glob("*.txt"))
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    log(f"corpus: {len(files)} stdlib modules, {size_mb:.1f} MB in {out}")
    return out


def bench_settings(data_dir: Path, **overrides: Any) -> Any:
    """The settings tree of configs/default.yaml with data under `data_dir`, collection "bench"."""
    from ragline.serving.settings import load_settings

    store = {"collection": COLLECTION, **overrides.pop("store", {})}
    return load_settings(data_dir=data_dir, store=store, **overrides)


def ingest(settings: Any, paths: Sequence[Path], collection: str | None = None) -> Any:
    """Ingest `paths` as `ragline ingest` does (metered into the settings' ledger); the report."""
    from ragline.serving.services.ingest import ingest_paths
    from ragline.serving.wiring import Accounting, build_store

    with Accounting(settings) as costs:
        store = build_store(settings, collection, costs)
        try:
            return ingest_paths(settings, costs, store, paths)
        finally:
            store.close()


def cli_env(data_dir: Path) -> dict[str, str]:
    """Environment for a `ragline` subprocess that keeps its data under `data_dir`."""
    env = {**os.environ, **OFFLINE_ENV, "RAGLINE_DATA_DIR": str(data_dir)}
    env.pop("RAGLINE_CONFIG", None)
    return env


def ragline_command() -> list[str]:
    """The installed `ragline` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "ragline"
    if script.is_file():
        return [str(script)]
    found = shutil.which("ragline")
    if found is None:
        raise SystemExit("the `ragline` command is not installed; run `make setup` first")
    return [found]


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def figure(
    name: str,
    value: float,
    *,
    target: str,
    baseline: str,
    ratio: float,
    extra: Mapping[str, str] | None = None,
) -> None:
    """The final, machine-readable line of a benchmark."""
    fields = [f"{name}={value:.4g}", f"target={target}", f"baseline={baseline}"]
    fields.append(f"ratio={ratio:.4g}")
    fields += [f"{k}={v}" for k, v in (extra or {}).items()]
    print("FIGURE " + " ".join(fields), flush=True)
