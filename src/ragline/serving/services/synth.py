"""Draft golden questions from a collection's chunks, for human review (`ragline synthesize`).

    drafted = run_synthesize(settings, costs, SynthOptions(Path("golden.jsonl"), "docs"), console)
    drafted.run.kept, drafted.run.cost_usd

Reads the collection's chunks (payload only, in id order: ids are content hashes, so the first
`SCAN_LIMIT` are an unbiased slice of a larger collection), samples `n` across documents
(`ragline.evals.judges.synthesize.sample_chunks`), asks the router's model for one question per
chunk through `RouterJudge` (cached, retried, costed) and writes a golden JSONL that
`load_golden_jsonl` reads. `SynthUsageError` says what the user must fix (missing or empty
collection, --out exists or cannot be written, no usable model).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragline.core.index import Hit
from ragline.evals.judges.protocol import JudgeModel
from ragline.evals.judges.synthesize import (
    SourceChunk,
    SynthesisRun,
    sample_chunks,
    synthesize,
    synthesize_prompt,
    write_golden_jsonl,
)
from ragline.rag.errors import RagError
from ragline.rag.store.protocol import VectorStore
from ragline.serving.settings import Settings
from ragline.serving.wiring import Accounting

if TYPE_CHECKING:
    from ragline.llm_router.router import Router
    from ragline.serving.services.evals.judges import RouterJudge

SCAN_LIMIT = 20_000  # chunks read at most; enough for any sample a person will review
PAGE = 512
_KEYS = ("text", "source_document", "source_path", "page_number", "section_heading")


class SynthUsageError(Exception):
    """Bad usage: the message says what to fix; the command exits 2."""


@dataclass(frozen=True, slots=True)
class SynthOptions:
    """What `ragline synthesize` was asked to do.

    SynthOptions(out=Path("golden.jsonl"), collection="docs", n=50, model="openai:gpt-4o-mini")
    """

    out: Path
    collection: str | None = None
    n: int = 50
    model: str | None = None
    seed: int = 0
    workers: int = 1
    force: bool = False
    batch: bool = False  # through the vendor's batch API (also: llm.batch.enabled)


def check_out(path: Path, force: bool) -> None:
    """Refuse, before any model call, an --out that exists (without --force) or is unwritable."""
    if path.is_dir():
        raise SynthUsageError(f"--out {path} is a folder; give a file path such as {path}/g.jsonl")
    if path.exists() and not force:
        raise SynthUsageError(f"--out {path} exists; pass --force to replace it or pick a new name")
    parent = path.parent
    if not parent.is_dir():
        raise SynthUsageError(f"--out {path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise SynthUsageError(f"--out {path} cannot be written; check its permissions")


def read_chunks(store: VectorStore, limit: int = SCAN_LIMIT) -> list[SourceChunk]:
    """Up to `limit` chunks of the store's collection, in id order, as `SourceChunk`s."""
    hits, offset = store.scroll(min(PAGE, limit), payload_keys=_KEYS)
    while offset is not None and len(hits) < limit:
        page, offset = store.scroll(min(PAGE, limit - len(hits)), offset, payload_keys=_KEYS)
        hits += page
    return [_chunk(hit) for hit in hits]


def _chunk(hit: Hit) -> SourceChunk:
    payload = hit.payload
    page, heading = payload.get("page_number"), payload.get("section_heading")
    return SourceChunk(
        chunk_id=hit.id,
        source_document=str(payload.get("source_document") or payload.get("source_path") or "?"),
        text=str(payload.get("text") or ""),
        page_number=page if isinstance(page, int) and not isinstance(page, bool) else None,
        section_heading=heading if isinstance(heading, str) and heading else None,
    )


@dataclass(frozen=True, slots=True)
class Drafted:
    """What `run_synthesize` did: the run, the chunks read of how many in which collection."""

    run: SynthesisRun
    chunks_read: int
    chunks_total: int
    collection: str
    out: Path
    seconds: float


def _load(settings: Settings, collection: str | None) -> tuple[list[SourceChunk], int, str]:
    """(chunks read, chunks in the collection, collection name); refuses a missing/empty one."""
    from ragline.serving.wiring import build_store

    store = build_store(settings, collection)
    name = store.collection
    try:
        if not store.exists():
            raise SynthUsageError(
                f"collection {name!r} does not exist; ingest into it first "
                f"(ragline ingest PATH --collection {name}) or see: ragline collections"
            )
        total = store.count()
        if total == 0:
            raise SynthUsageError(
                f"collection {name!r} is empty; ingest documents first "
                f"(ragline ingest PATH --collection {name})"
            )
        return read_chunks(store), total, name
    except RagError as exc:
        raise SynthUsageError(f"cannot read collection {name!r}: {exc}") from None
    finally:
        store.close()


def run_synthesize(
    settings: Settings, costs: Accounting, options: SynthOptions, console: Console
) -> Drafted:
    """Draft and write (progress on `console`); `SynthUsageError` for what the user must fix."""
    from ragline.llm_router.errors import ProviderError
    from ragline.serving.services.evals.judges import RouterJudge
    from ragline.serving.wiring import build_chat_router

    started = time.perf_counter()
    check_out(options.out, options.force)
    chunks, total, name = _load(settings, options.collection)
    sample = sample_chunks(chunks, options.n, options.seed)
    if not sample:
        raise SynthUsageError(
            f"no chunk of {name!r} has the 40 words a question needs; ingest longer documents "
            "or use a larger chunking.chunk_size"
        )
    try:
        router = build_chat_router(settings, costs, options.model)
    except ProviderError as exc:
        raise SynthUsageError(f"model error: {exc}") from None
    try:
        generator = RouterJudge(router, key="synthesize", prompt=synthesize_prompt().id)
        if generator.name.startswith("extractive"):
            raise SynthUsageError(
                "the extractive provider cannot write questions; pass --model provider:model "
                "(e.g. openai:gpt-4o-mini, vllm:NAME or local) or set llm.provider"
            )
        if options.batch or settings.llm.batch.enabled:
            run = _generate_batched(sample, generator, router, settings, console)
        else:
            run = _generate(sample, generator, options.workers, console)
    finally:
        router.close()
    if run.items:
        try:
            write_golden_jsonl(run.items, options.out)
        except OSError as exc:
            raise SynthUsageError(
                f"cannot write --out {options.out} ({exc.strerror}); fix the path and rerun "
                "(the model's replies are cached, so a rerun costs nothing)"
            ) from None
    return Drafted(run, len(chunks), total, name, options.out, time.perf_counter() - started)


def _generate(
    sample: list[SourceChunk], generator: JudgeModel, workers: int, console: Console
) -> SynthesisRun:
    """Ask about each sampled chunk, with a progress bar on `console`."""
    columns = (TextColumn("questions"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("questions", total=len(sample))
        return synthesize(
            sample,
            generator,
            workers=workers,
            on_progress=lambda done, total: bar.update(task, completed=done),
        )


def _generate_batched(
    sample: list[SourceChunk],
    generator: RouterJudge,
    router: Router,
    settings: Settings,
    console: Console,
) -> SynthesisRun:
    """Ask about every sampled chunk in one batch (then one of retries of unparseable
    replies), resumable from `<data_dir>/batches/`; the same run `synthesize` makes."""
    from ragline.serving.services.evals.batched import batch_runner, summary
    from ragline.serving.services.evals.judges import replayed

    runner = batch_runner(router, settings, console)
    run, batches = replayed(
        lambda judge: synthesize(sample, judge),
        runner,
        generator.name,
        key="synthesize",
        prompt=generator.prompt,
    )
    summary("questions", batches, console)
    return run
