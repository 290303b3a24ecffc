"""`ragline eval SUITE.yaml`: ingest a suite's corpus, run its queries, score, gate, report.

    ragline eval configs/evals/manpages.yaml
    ragline eval configs/evals/manpages.yaml --baseline .ragline/eval_runs/manpages-20250101T...

The corpus goes to ``<data_dir>/eval/<suite>/corpus/`` as one JSONL file and through the real
Ingestor into the suite's collection (a rerun finds it unchanged in the manifest and skips it).
Chunk hits are collapsed to documents by ``source_document`` at their best rank. Exit codes:
0 every gate passed; 1 a gate failed; 2 bad usage (suite, dataset, settings, baseline).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evals.datasets import BeirSet, DatasetError, load_beir
from evals.report import (
    ReportError,
    RunReport,
    SliceResult,
    compare_to_baseline,
    from_json,
    to_json,
    to_markdown,
)
from evals.retrieval import RetrievalReport, evaluate_run, first_occurrences
from evals.stats import slice_by, with_ci
from evals.suite import SuiteConfig, SuiteError, evaluate_gates, load_suite
from rag.retrieve import Retriever
from serving.settings import Settings, deep_merge

BATCH = 64  # queries embedded and searched per step of the progress bar


class EvalUsageError(Exception):
    """Bad usage: the message says what to fix; the command exits 2."""


@dataclass(frozen=True, slots=True)
class EvalRun:
    """What `run_eval` produced: the report and the folder it was written to."""

    report: RunReport
    out_dir: Path


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
) -> EvalRun:
    """Run one suite end to end and write report.md and report.json; raises EvalUsageError."""
    try:
        suite = load_suite(suite_file)
        beir = load_beir(suite.dataset.path, suite.dataset.split)
    except (SuiteError, DatasetError) as exc:
        raise EvalUsageError(str(exc)) from None
    baseline = _read_baseline(baseline_dir) if baseline_dir is not None else None
    settings = suite_settings(base, suite)
    started = datetime.now(UTC)
    run_id = f"{suite.name}-{started.strftime('%Y%m%dT%H%M%S%fZ')}"
    timings: dict[str, float] = {}

    clock = time.perf_counter()
    chunks = _ingest(settings, suite, beir, console)
    timings["ingest"] = time.perf_counter() - clock
    clock = time.perf_counter()
    run = _retrieve(settings, suite, beir, console)
    timings["retrieval"] = time.perf_counter() - clock
    clock = time.perf_counter()
    scored = evaluate_run(run, beir.qrels, ks=suite.ks)
    report = _report(suite, beir, scored, settings, run_id, started, baseline, chunks)
    timings["metrics"] = time.perf_counter() - clock
    report = _with_timings(report, timings)

    folder = out_dir or settings.data_dir / "eval_runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(to_json(report), encoding="utf-8")
    (folder / "report.md").write_text(to_markdown(report), encoding="utf-8")
    return EvalRun(report, folder)


def _read_baseline(folder: Path) -> RunReport:
    path = folder / "report.json" if folder.is_dir() else folder
    try:
        return from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalUsageError(f"--baseline {folder}: cannot read {path} ({exc.strerror})") from None
    except ReportError as exc:
        raise EvalUsageError(f"--baseline {path}: {exc}") from None


def write_corpus(beir: BeirSet, folder: Path) -> Path:
    """The corpus as one JSONL file (rewritten only when its content changed, for the manifest)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    lines = (
        json.dumps({"_id": d.doc_id, "title": d.title, "text": d.text}, ensure_ascii=False)
        for d in beir.corpus
        if d.text.strip() or d.title.strip()
    )
    text = "\n".join(lines) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def _ingest(settings: Settings, suite: SuiteConfig, beir: BeirSet, console: Console) -> int:
    """Ingest the corpus into the suite's collection; returns the chunks in the collection."""
    from rag.errors import RagError
    from serving.console import IngestProgress
    from serving.wiring import build_ingestor, build_store

    folder = write_corpus(beir, settings.data_dir / "eval" / suite.name / "corpus").parent
    store = build_store(settings, suite.collection_name)
    try:
        with IngestProgress(console) as progress:
            ingestor = build_ingestor(settings, store, progress)
            ingest = ingestor.run([folder])
            ingestor.manifest.close()
        if ingest.failed:
            why = "; ".join(f"{s.path}: {s.reason}" for s in ingest.skipped)
            raise EvalUsageError(f"the suite's corpus could not be ingested: {why}")
        return store.count()
    except RagError as exc:
        raise EvalUsageError(f"ingest failed: {exc}") from None
    finally:
        store.close()


_KEYS = ("source_document",)


def _retrieve(
    settings: Settings, suite: SuiteConfig, beir: BeirSet, console: Console
) -> dict[str, list[str]]:
    """Each query's documents, best first (chunks collapsed by source_document)."""
    from serving.search_cmd import build_retriever

    retriever: Retriever = build_retriever(settings, settings.retrieval, suite.collection_name)
    run: dict[str, list[str]] = {}
    columns = (TextColumn("queries"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("queries", total=len(beir.queries))
            for start in range(0, len(beir.queries), BATCH):
                batch = beir.queries[start : start + BATCH]
                queries = retriever.store_queries([q.text for q in batch], top_k=suite.depth)
                # scoring needs only each hit's document, not its ~1 KB of text
                hits = [
                    retriever.store.query(replace(q, payload_keys=_KEYS)) if q else []
                    for q in queries
                ]
                for query, ranked in zip(batch, hits, strict=True):
                    docs = (str(h.payload.get("source_document", h.id)) for h in ranked)
                    run[query.query_id] = first_occurrences(docs)
                bar.advance(task, len(batch))
    finally:
        retriever.store.close()
    return run


def _report(
    suite: SuiteConfig,
    beir: BeirSet,
    scored: RetrievalReport,
    settings: Settings,
    run_id: str,
    started: datetime,
    baseline: RunReport | None,
    chunks: int,
) -> RunReport:
    boot = suite.bootstrap
    per_query = {m: tuple(scored.per_query(m)) for m in suite.metrics}
    aggregates = tuple(
        with_ci(m, per_query[m], resamples=boot.resamples, seed=boot.seed) for m in suite.metrics
    )
    by_name = {a.name: a for a in aggregates}
    comparisons = (
        compare_to_baseline(
            scored.query_ids, per_query, baseline, resamples=boot.resamples, seed=boot.seed
        )
        if baseline is not None
        else ()
    )
    return RunReport(
        suite=suite.name,
        run_id=run_id,
        timestamp=started.isoformat().replace("+00:00", "Z"),
        settings=settings_summary(settings, suite.collection_name),
        dataset={
            "documents": len(beir.corpus),
            "queries": len(scored.query_ids),
            "dropped_queries": len(beir.dropped_queries),
            "chunks": chunks,
        },
        aggregates=aggregates,
        query_ids=scored.query_ids,
        per_query=per_query,
        gates=tuple(evaluate_gates(by_name, suite.gates)),
        slices=_slices(suite, beir, scored.query_ids, per_query),
        baseline_run=baseline.run_id if baseline is not None else None,
        comparisons=comparisons,
    )


def _slices(
    suite: SuiteConfig,
    beir: BeirSet,
    query_ids: Sequence[str],
    per_query: Mapping[str, Sequence[float | None]],
) -> tuple[SliceResult, ...]:
    meta_by_id = {q.query_id: q.metadata for q in beir.queries}
    metadata = [meta_by_id.get(q, {}) for q in query_ids]
    boot = suite.bootstrap
    out = []
    for name in suite.slice_by:
        for metric in suite.metrics:
            groups = slice_by(
                per_query[metric], metadata, name, name=metric, ci=True,
                resamples=boot.resamples, seed=boot.seed,
            )  # fmt: skip
            out += [SliceResult(metric, name, group, agg) for group, agg in groups.items()]
    return tuple(out)


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
    }
    return {k: str(v) for k, v in summary.items()}


def _with_timings(report: RunReport, timings: dict[str, float]) -> RunReport:
    return replace(report, timings={k: round(v, 3) for k, v in timings.items()})


def print_summary(run: EvalRun, console: Console) -> None:
    """A short table of the headline metrics, the gates, where the reports are, the time taken."""
    report = run.report
    console.print(f"{report.suite}: {report.dataset.get('queries', 0)} queries", markup=False)
    for agg in report.aggregates:
        value = "unmeasured" if agg.value is None else f"{agg.value:.4f}"
        ci = "" if agg.ci_low is None else f"  [{agg.ci_low:.4f}, {agg.ci_high:.4f}]"
        console.print(f"  {agg.name:<14} {value}{ci}", markup=False)
    for cmp in report.comparisons:
        if cmp.delta is not None:
            p = "" if cmp.p_value is None else f" p={cmp.p_value:.3f}"
            console.print(f"  vs baseline {cmp.metric:<14} {cmp.delta:+.4f}{p}", markup=False)
    for gate in report.gates:
        verdict = "PASS" if gate.passed else f"FAIL: {gate.reason}"
        console.print(f"  gate {gate.metric}: {verdict}", markup=False)
    t = report.timings
    console.print(
        f"reports: {run.out_dir / 'report.md'} and report.json; took "
        f"{sum(t.values()):.1f} s (ingest {t.get('ingest', 0):.1f} s, retrieval "
        f"{t.get('retrieval', 0):.1f} s, metrics {t.get('metrics', 0):.2f} s)",
        markup=False,
    )


def eval_exit_code(report: RunReport) -> int:
    """0 when every gate passed, 1 otherwise."""
    return 0 if report.passed else 1
