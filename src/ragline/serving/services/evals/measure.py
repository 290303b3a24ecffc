"""What `ragline eval` measures: ingest a suite's corpus, then run its queries or QA items.

    folder = write_corpus(beir, data_dir / "eval" / "manpages" / "corpus").parent
    chunks = ingest_corpus(settings, suite, folder, console)
    measured = measure_beir(settings, suite, beir, console)   # or measure_golden(...)
    measured.per_query["ndcg@10"], measured.top_scores

Chunk hits are collapsed to documents by ``source_document`` at their best rank.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragline.evals.datasets import BeirSet, GoldenSet
from ragline.evals.metrics.retrieval import evaluate_run, first_occurrences
from ragline.evals.suite import SuiteConfig
from ragline.rag.retrieve import Retriever
from ragline.serving.settings import Settings
from ragline.serving.wiring import Accounting

if TYPE_CHECKING:
    from ragline.rag.ingest.ray_engine import RayOptions
    from ragline.serving.services.evals.ray_pool import EvalPool

BATCH = 64  # queries embedded and searched per step of the progress bar


class EvalUsageError(Exception):
    """Bad usage: the message says what to fix; the command exits 2."""


@dataclass(slots=True)
class Measured:
    """What a run measured, before it becomes a report: per-query values, aligned with
    `query_ids`, the queries' metadata (for slices) and what the plots need."""

    query_ids: tuple[str, ...]
    per_query: dict[str, list[float | None]]
    metadata: list[Mapping[str, object]]
    dataset: dict[str, int]
    run: dict[str, list[str]] = field(default_factory=dict)  # documents retrieved, best first
    qrels: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    top_scores: list[float | None] = field(default_factory=list)  # best hit's score per query
    costs: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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


def ingest_corpus(
    settings: Settings,
    costs: Accounting,
    suite: SuiteConfig,
    folder: Path,
    console: Console,
    engine: RayOptions | None = None,
) -> int:
    """Ingest `folder` into the suite's collection (on Ray with `engine`); returns the chunks
    in the collection."""
    from ragline.rag.errors import RagError
    from ragline.serving.services.ingest import ingest_paths
    from ragline.serving.services.progress import IngestProgress
    from ragline.serving.wiring import build_store

    store = build_store(settings, suite.collection_name, costs)
    try:
        with IngestProgress(console) as progress:
            ingest = ingest_paths(settings, costs, store, [folder], progress, engine=engine)
        if ingest.failed:
            why = "; ".join(f"{s.path}: {s.reason}" for s in ingest.skipped)
            raise EvalUsageError(f"the suite's corpus could not be ingested: {why}")
        return store.count()
    except RagError as exc:
        raise EvalUsageError(f"ingest failed: {exc}") from None
    finally:
        store.close()


_KEYS = ("source_document",)


def measure_beir(
    settings: Settings,
    costs: Accounting,
    suite: SuiteConfig,
    beir: BeirSet,
    console: Console,
    pool: EvalPool | None = None,
) -> Measured:
    """Search every query (chunks collapsed by source_document) and score against the qrels;
    in `pool`'s Ray actors when given."""
    from ragline.serving.wiring import build_retriever, build_store

    run: dict[str, list[str]] = {}
    top: dict[str, float] = {}
    columns = (TextColumn("queries"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("queries", total=len(beir.queries))
        texts = [q.text for q in beir.queries]
        if pool is not None:
            hits = pool.search(texts, suite.depth, _KEYS, lambda n: bar.advance(task, n))
        else:
            store = build_store(settings, suite.collection_name, costs)
            retriever: Retriever = build_retriever(settings, settings.retrieval, store, costs)
            hits = []
            try:
                for start in range(0, len(texts), BATCH):
                    # scoring needs only each hit's document, not its ~1 KB of text
                    batch = texts[start : start + BATCH]
                    hits += retriever.search_many(batch, top_k=suite.depth, payload_keys=_KEYS)
                    bar.advance(task, len(batch))
            finally:
                retriever.store.close()
    for query, ranked in zip(beir.queries, hits, strict=True):
        docs = (str(h.payload.get("source_document", h.id)) for h in ranked)
        run[query.query_id] = first_occurrences(docs)
        if ranked:
            top[query.query_id] = ranked[0].score
    scored = evaluate_run(run, beir.qrels, ks=suite.ks)
    meta_by_id = {q.query_id: q.metadata for q in beir.queries}
    return Measured(
        query_ids=scored.query_ids,
        per_query={m: scored.per_query(m) for m in suite.metrics},
        metadata=[meta_by_id.get(q, {}) for q in scored.query_ids],
        dataset={
            "documents": len(beir.corpus),
            "queries": len(scored.query_ids),
            "dropped_queries": len(beir.dropped_queries),
        },
        run=run,
        qrels=beir.qrels,
        top_scores=[top.get(q) for q in scored.query_ids],
    )


def measure_golden(
    settings: Settings,
    costs: Accounting,
    suite: SuiteConfig,
    golden: GoldenSet,
    console: Console,
    pool: EvalPool | None = None,
) -> Measured:
    """Answer every item through the pipeline and score retrieval, answers and judges (the
    answers and judge calls in `pool`'s Ray actors when given)."""
    from ragline.serving.services.evals.golden import answer_golden, score_golden

    answered = answer_golden(settings, costs, suite, golden, console, pool)
    scored = score_golden(settings, costs, suite, golden, answered, console, pool)
    items = golden.items
    return Measured(
        query_ids=tuple(item.id for item in items),
        per_query={m: scored.per_query.get(m, [None] * len(items)) for m in suite.measured_metrics},
        metadata=[{**item.metadata, "tags": list(item.tags)} for item in items],
        dataset={
            "items": len(items),
            "should_abstain": sum(item.should_abstain for item in items),
            "synthetic": sum(item.synthetic for item in items),
        },
        run={item.id: list(a.documents) for item, a in zip(items, answered, strict=True)},
        qrels={item.id: dict.fromkeys(item.sources, 1) for item in items if item.sources},
        top_scores=[a.top_score for a in answered],
        costs=scored.costs,
        notes=scored.notes,
    )
