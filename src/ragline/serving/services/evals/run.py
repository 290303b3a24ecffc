"""Run an evaluation suite (what `ragline eval SUITE.yaml` calls): ingest its corpus, run its
queries, score, gate, report.

    run = run_eval(Path("configs/evals/manpages.yaml"), settings, console)
    run.report.passed, run.out_dir

A BEIR corpus goes to ``<data_dir>/eval/<suite>/corpus/`` as one JSONL file, a golden suite's
``corpus`` is ingested as it is; either goes through the real Ingestor into the suite's collection
(a rerun finds it unchanged in the manifest and skips it); ragline.serving.services.evals.measure
runs the queries, ragline.serving.services.evals.golden answers and judges QA items. The run folder
gets report.md, report.json and PNG plots; every run is listed in
``<data_dir>/eval_runs/runs.jsonl`` and recorded as an mltrack experiment
(ragline.serving.services.evals.track). The whole run is one cost scope (`eval-<run id>`):
ingest, queries, answers and judges are in the ledger under it. `EvalUsageError` says what the
user must fix (suite, dataset, settings, baseline).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich.console import Console

from ragline.core.costs import cost_scope
from ragline.evals.datasets import BeirSet, DatasetError, GoldenSet, load_beir, load_golden_jsonl
from ragline.evals.judges.judge import judge_prompt
from ragline.evals.report import (
    ReportError,
    RunReport,
    SliceResult,
    compare_to_baseline,
    from_json,
    to_json,
    to_markdown,
)
from ragline.evals.stats import slice_by, with_ci
from ragline.evals.suite import (
    LATENCY_P50,
    SuiteConfig,
    SuiteError,
    evaluate_gates,
    load_suite,
    statistic_of,
)
from ragline.rag.answer import grounded_template
from ragline.serving.services.evals.measure import (
    EvalUsageError,
    Measured,
    ingest_corpus,
    measure_beir,
    measure_golden,
    write_corpus,
)
from ragline.serving.services.evals.plots import write_plots
from ragline.serving.settings import Settings, deep_merge
from ragline.serving.wiring import Accounting

if TYPE_CHECKING:
    from ragline.rag.ingest.ray_engine import RayOptions
    from ragline.serving.services.evals.ray_pool import EvalPool


@dataclass(frozen=True, slots=True)
class EvalRun:
    """What `run_eval` produced: the report and the folder it was written to."""

    report: RunReport
    out_dir: Path
    experiment: str | None = None  # the mltrack experiment id, when tracked
    tracking_error: str | None = None


def suite_settings(base: Settings, suite: SuiteConfig) -> Settings:
    """`base` with the suite's ``system`` overrides layered over it, validated as a whole."""
    merged = deep_merge(base.model_dump(), suite.system)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        paths = "; ".join(
            f"system.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise EvalUsageError(f"suite {suite.name!r} overrides bad settings: {paths}") from None


def run_eval(
    suite_file: Path,
    base: Settings,
    console: Console,
    baseline_dir: Path | None = None,
    out_dir: Path | None = None,
    track: bool = True,
    engine: RayOptions | None = None,
    overrides: Mapping[str, object] | None = None,
) -> EvalRun:
    """Run one suite end to end, write its reports and plots, and record it (runs.jsonl and,
    with `track`, an mltrack experiment); raises EvalUsageError. With `engine`, the ingest, the
    queries, the answers and the judge calls run on Ray (`ray_pool.EvalPool`), with the same
    metrics. `overrides` are settings layered over the suite's ``system`` (`run_without`)."""
    try:
        suite = load_suite(suite_file)
        data = _load(suite)
    except (SuiteError, DatasetError) as exc:
        raise EvalUsageError(str(exc)) from None
    baseline = _read_baseline(baseline_dir) if baseline_dir is not None else None
    if overrides:
        suite = suite.model_copy(update={"system": deep_merge(dict(suite.system), overrides)})
    settings = suite_settings(base, suite)
    started = datetime.now(UTC)
    run_id = f"{suite.name}-{started.strftime('%Y%m%dT%H%M%S%fZ')}"
    timings: dict[str, float] = {}

    scope = f"eval-{run_id}"
    with _maybe_ray(engine), Accounting(settings) as costs, cost_scope(scope):
        clock = time.perf_counter()
        if isinstance(data, BeirSet):
            folder = write_corpus(data, settings.data_dir / "eval" / suite.name / "corpus").parent
        else:
            folder = _corpus_folder(suite)
        chunks = ingest_corpus(settings, costs, suite, folder, console, engine)
        timings["ingest"] = time.perf_counter() - clock
        clock = time.perf_counter()
        with _pool(settings, suite, scope, engine, console) as pool:
            if isinstance(data, BeirSet):
                measured = measure_beir(settings, costs, suite, data, console, pool)
            else:
                measured = measure_golden(settings, costs, suite, data, console, pool)
        timings["queries"] = time.perf_counter() - clock
    measured.dataset["chunks"] = chunks
    clock = time.perf_counter()
    report = _report(suite, measured, settings, run_id, started, baseline)
    timings["metrics"] = time.perf_counter() - clock

    folder = out_dir or settings.data_dir / "eval_runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    plots = write_plots(suite, measured, report, folder) if suite.plots else ()
    timings["plots"] = time.perf_counter() - clock
    report = replace(report, plots=plots, timings={k: round(v, 3) for k, v in timings.items()})
    (folder / "report.json").write_text(to_json(report), encoding="utf-8")
    (folder / "report.md").write_text(to_markdown(report), encoding="utf-8")
    experiment, problem = _track(settings, suite, report, folder) if track else (None, None)
    record_run(settings.data_dir / "eval_runs", report, folder, experiment)
    return EvalRun(report, folder, experiment, problem)


# a part of the system `ragline eval --without` can switch off, and the overrides that do it
WITHOUT: dict[str, dict[str, object]] = {"rerank": {"rerank": {"model": None}}}


def run_without(
    part: str, suite_file: Path, base: Settings, console: Console, **options: Any
) -> tuple[EvalRun, EvalRun]:
    """The suite without `part` (e.g. ``rerank``), then with it, compared item by item: the
    second run's comparisons are (with - without) per metric, paired bootstrap CIs and p-values.
    Refuses (EvalUsageError) a part the suite's system does not use: nothing to compare."""
    if part not in WITHOUT:
        raise EvalUsageError(f"--without takes one of {', '.join(WITHOUT)}, not {part!r}")
    try:
        suite = load_suite(suite_file)
    except SuiteError as exc:
        raise EvalUsageError(str(exc)) from None
    if suite_settings(base, suite).rerank.model is None:
        raise EvalUsageError(
            f"suite {suite.name!r} runs without a reranker already (rerank.model is null); "
            "set system.rerank.model to a CrossEncoder to measure what it adds"
        )
    out_dir = options.pop("out_dir", None)
    without_dir = out_dir / f"without-{part}" if out_dir is not None else None
    without = run_eval(
        suite_file, base, console, out_dir=without_dir, overrides=WITHOUT[part], **options
    )
    console.print(f"without {part}: {without.out_dir}", markup=False)
    full = run_eval(
        suite_file, base, console, baseline_dir=without.out_dir, out_dir=out_dir, **options
    )
    return without, full


@contextmanager
def _maybe_ray(engine: RayOptions | None) -> Iterator[None]:
    if engine is None:
        yield
        return
    from ragline.rag.errors import IngestError
    from ragline.rag.ingest.ray_engine import ray_session

    try:
        with ray_session(engine):
            yield
    except IngestError as exc:  # an unreachable cluster: the user's to fix
        raise EvalUsageError(str(exc)) from None


@contextmanager
def _pool(
    settings: Settings, suite: SuiteConfig, scope: str, engine: RayOptions | None, console: Console
) -> Iterator[EvalPool | None]:
    if engine is None:
        yield None
        return
    from ragline.serving.services.evals.ray_pool import EvalPool

    with closing(EvalPool(settings, suite, scope, engine)) as pool:
        console.print(f"queries, answers and judges in {pool.description}", markup=False)
        yield pool


def _track(
    settings: Settings, suite: SuiteConfig, report: RunReport, folder: Path
) -> tuple[str | None, str | None]:
    """The experiment id, or why tracking failed (the run's reports stand either way)."""
    from ragline.mltrack.errors import MltrackError
    from ragline.serving.services.evals.track import track_eval_run

    try:
        return track_eval_run(settings, suite, report, folder), None
    except MltrackError as exc:
        return None, str(exc)


def _load(suite: SuiteConfig) -> BeirSet | GoldenSet:
    if suite.dataset.kind == "golden":
        return load_golden_jsonl(suite.dataset.path)
    return load_beir(suite.dataset.path, suite.dataset.split)


def _corpus_folder(suite: SuiteConfig) -> Path:
    corpus = suite.dataset.corpus
    if corpus is None or not corpus.exists():
        raise EvalUsageError(f"dataset.corpus {corpus} does not exist; point it at the documents")
    return corpus


def record_run(runs: Path, report: RunReport, folder: Path, experiment: str | None = None) -> None:
    """Append one line to ``runs.jsonl``: the run, where it is, its experiment id, pass/fail
    and headline values (a plain file beside MLflow, for scripts and CI logs)."""
    runs.mkdir(parents=True, exist_ok=True)
    line = {
        "run_id": report.run_id,
        "suite": report.suite,
        "timestamp": report.timestamp,
        "folder": str(folder),
        "experiment": experiment,
        "passed": report.passed,
        "metrics": {a.name: a.value for a in report.aggregates},
        "costs": dict(report.costs),
    }
    with (runs / "runs.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, allow_nan=False) + "\n")


def _read_baseline(folder: Path) -> RunReport:
    path = folder / "report.json" if folder.is_dir() else folder
    try:
        return from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalUsageError(f"--baseline {folder}: cannot read {path} ({exc.strerror})") from None
    except ReportError as exc:
        raise EvalUsageError(f"--baseline {path}: {exc}") from None


def _report(
    suite: SuiteConfig,
    measured: Measured,
    settings: Settings,
    run_id: str,
    started: datetime,
    baseline: RunReport | None,
) -> RunReport:
    boot = suite.bootstrap
    metrics = suite.measured_metrics
    per_query = {m: tuple(measured.per_query[m]) for m in metrics}
    aggregates = tuple(
        with_ci(
            m, per_query[m], resamples=boot.resamples, seed=boot.seed, statistic=statistic_of(m)
        )
        for m in metrics
    )
    by_name = {a.name: a for a in aggregates}
    comparisons = (
        compare_to_baseline(
            measured.query_ids,
            # latency_p50 holds latency_p95's per-item seconds: one paired mean difference
            {m: v for m, v in per_query.items() if m != LATENCY_P50},
            baseline,
            resamples=boot.resamples,
            seed=boot.seed,
        )
        if baseline is not None
        else ()
    )
    return RunReport(
        suite=suite.name,
        run_id=run_id,
        timestamp=started.isoformat().replace("+00:00", "Z"),
        settings={
            **settings_summary(settings, suite.collection_name),
            **prompts_used(settings, suite),
        },
        dataset=measured.dataset,
        aggregates=aggregates,
        query_ids=measured.query_ids,
        per_query=per_query,
        gates=tuple(evaluate_gates(by_name, suite.all_gates)),
        slices=_slices(suite, measured.metadata, per_query),
        baseline_run=baseline.run_id if baseline is not None else None,
        comparisons=comparisons,
        costs={k: round(v, 9) for k, v in measured.costs.items()},
        notes=tuple(measured.notes),
        anchors=suite.anchors,
    )


def _slices(
    suite: SuiteConfig,
    metadata: Sequence[Mapping[str, object]],
    per_query: Mapping[str, Sequence[float | None]],
) -> tuple[SliceResult, ...]:
    boot = suite.bootstrap
    out = []
    for name in suite.slice_by:
        for metric in suite.metrics:
            groups = slice_by(
                per_query[metric],
                metadata,
                name,
                name=metric,
                ci=True,
                resamples=boot.resamples,
                seed=boot.seed,
                statistic=statistic_of(metric),
            )
            out += [SliceResult(metric, name, group, agg) for group, agg in groups.items()]
    return tuple(out)


def prompts_used(settings: Settings, suite: SuiteConfig) -> dict[str, str]:
    """The templates a golden suite's answers and judges are asked with, as fingerprints
    ("grounded-answer@1#360c3624": id and text digest), for the report and the experiment's
    params: two runs that differ in a prompt, even one edited without a new version, show it."""
    if suite.dataset.kind != "golden":
        return {}
    used = {"answer.prompt": grounded_template(settings.answer.prompt).fingerprint}
    judge = suite.judge
    if judge is None or not suite.judged_metrics:
        return used
    if judge.via == "ragas":
        return used | {"judge.prompts": "ragas"}
    for metric in suite.judge_prompts:
        template = judge_prompt(metric, judge.prompt_version)
        used[f"judge.prompt.{metric}"] = template.fingerprint
    return used


def settings_summary(settings: Settings, collection: str) -> dict[str, str]:
    """The settings that decide retrieval quality, flattened for the report."""
    r, e, c = settings.retrieval, settings.embedding, settings.chunking
    summary: dict[str, Any] = {
        "collection": collection,
        "store.backend": settings.store.backend,
        "embedding.model": e.model,
        "chunking": f"{c.strategy} {c.chunk_size}/{c.chunk_overlap}",
        "retrieval.mode": r.mode,
        "retrieval.fusion": r.fusion,
        "retrieval.prefetch_k": r.prefetch_k,
        "retrieval.alpha": r.alpha,
        "retrieval.per_document": r.per_document,
        "rerank.model": settings.rerank.model,
    }
    return {k: str(v) for k, v in summary.items()}
