"""The ingest job: walk -> hash -> load -> chunk -> embed (dense + sparse) -> upsert -> manifest.

    ingestor = Ingestor(settings, embedder, sparse, store, manifest)
    report = ingestor.run([Path("docs")])

Safe to rerun and to interrupt: point ids come from content, a file enters the manifest only
once all its chunks are stored and its stale chunks removed, and an unchanged file (same
bytes, same settings) is skipped after hashing, without loading any model; so is a file that
was skipped for its content and has not changed since (the manifest remembers it by hash).
A file stored from under a folder root that is gone from disk is pruned: its chunks are
deleted (`run(roots, prune=False)` keeps them). One writer per collection: callers hold the
collection's cross-process lock (`ragline.rag.ingest.lock`) around `run`.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ragline.core.embedding import Embedder, SparseEncoder, TokenWindow
from ragline.core.filters import Filter, HasId, Match
from ragline.core.index import CollectionSpec, StorePoint
from ragline.rag.chunking import Chunker
from ragline.rag.config import ChunkingConfig, EmbeddingConfig, IngestConfig, SparseConfig
from ragline.rag.errors import IngestError
from ragline.rag.ingest.manifest import BadFile, Entry, Manifest
from ragline.rag.ingest.report import IngestReport, NoProgress, Progress, Skipped
from ragline.rag.loaders import Candidate, load_file, walk
from ragline.rag.store.protocol import VectorStore
from ragline.rag.types import Chunk


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """The parts of the settings tree an ingest uses."""

    ingest: IngestConfig
    chunking: ChunkingConfig
    embedding: EmbeddingConfig
    sparse: SparseConfig
    upsert_batch: int = 1024

    def fingerprint(self) -> str:
        """Changes whenever a setting that changes the stored chunks changes."""
        parts = {
            "chunking": self.chunking.model_dump(mode="json"),
            "embedding": self.embedding.model_dump(
                mode="json", include={"model", "truncate_dim", "document_prefix", "normalize"}
            ),
            "sparse": self.sparse.model_dump(mode="json"),
            "jsonl": self.ingest.jsonl_text_field,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(slots=True)
class _Pending:
    """A file whose chunks are partly embedded and upserted."""

    entry: Entry
    ids: set[str]
    waiting: int


@dataclass(frozen=True, slots=True)
class _Todo:
    candidate: Candidate
    entry: Entry


@dataclass(slots=True)
class _Batch:
    chunks: list[tuple[Chunk, str]] = field(default_factory=list)  # (chunk, source_path)
    files: dict[str, _Pending] = field(default_factory=dict)


class Ingestor:
    """Runs ingests into one collection; see the module docstring for the guarantees."""

    def __init__(
        self,
        settings: IngestSettings,
        embedder: Embedder,
        sparse: SparseEncoder,
        store: VectorStore,
        manifest: Manifest,
        progress: Progress | None = None,
        mapper: MapperFactory | None = None,
    ) -> None:
        self.settings = settings
        self.mapper = mapper or local_mapper  # where files are loaded and chunked
        self.embedder = embedder
        self.sparse = sparse
        self.store = store
        self.manifest = manifest
        self.progress = progress or NoProgress()
        self._chunker: Chunker | None = None
        self._collection_ready = False

    def run(self, roots: Sequence[Path], *, prune: bool = True) -> IngestReport:
        """Ingest every file under `roots`, pruning stored files deleted from a folder root
        unless `prune` is False; return what happened."""
        started = time.perf_counter()
        report = IngestReport()
        self._reconcile_manifest()
        candidates = self._collect(roots, report)
        if prune:
            self._prune(roots, candidates, report)
        self.progress.start(len(candidates))
        todo = self._plan(candidates, report)
        if todo:
            self._process(todo, report)
        self.store.flush()
        if report.chunks_written:
            t0 = time.perf_counter()
            self.store.optimize()  # build HNSW now, not at the first slow queries
            report.index_seconds = time.perf_counter() - t0
        report.seconds = time.perf_counter() - started
        return report

    def _reconcile_manifest(self) -> None:
        reconcile(self.manifest, self.store)

    def _collect(self, roots: Sequence[Path], report: IngestReport) -> list[Candidate]:
        candidates: dict[Path, Candidate] = {}  # a file under two roots is read once
        for root in roots:
            if not root.exists():
                raise IngestError(f"{root} does not exist; give a file or a folder to ingest")
            for item in walk(root, self.settings.ingest.include, self.settings.ingest.exclude):
                if isinstance(item, Candidate):
                    candidates.setdefault(item.path, item)
                else:
                    report.skipped.append(Skipped(item.path, item.reason))
        report.files_seen = len(candidates) + len(report.skipped)
        return list(candidates.values())

    def _prune(self, roots: Sequence[Path], found: list[Candidate], report: IngestReport) -> None:
        """Delete the chunks and manifest rows of files once stored from under a folder root
        that no longer exist (a file that turned unreadable or bad keeps its chunks)."""
        folders = [root.resolve() for root in roots if root.is_dir()]
        seen = {str(c.path) for c in found}
        known = [*self.manifest.entries(), *self.manifest.bad_files()]
        gone = sorted(
            {
                path
                for path in known
                if path not in seen
                and any(Path(path).is_relative_to(folder) for folder in folders)
                and not Path(path).exists()
            }
        )
        if not gone:
            return
        removed = 0
        if self.store.exists():
            for path in gone:
                removed += self.store.delete(Filter(must=(Match("source_path", path),)))
            self.store.flush()  # chunks go before their rows: a crash here prunes again
        self.manifest.forget(gone, bad=True)
        report.files_pruned = len(gone)
        report.chunks_removed += removed
        report.notes.append(
            f"pruned {len(gone)} deleted file(s) ({removed} chunks); --no-prune keeps them"
        )

    def _plan(self, candidates: list[Candidate], report: IngestReport) -> list[_Todo]:
        """Hash every file; keep those that are new or changed (bytes or settings), less
        those skipped before for the same content."""
        known = self.manifest.entries()
        bad = self.manifest.bad_files()
        fingerprint = self.settings.fingerprint()
        limit_mb = self.settings.ingest.max_file_mb
        todo = []
        for candidate in candidates:
            try:
                size_mb = candidate.path.stat().st_size / 1e6
                if size_mb > limit_mb:
                    raise IngestError(
                        f"file is {size_mb:.1f} MB, over ingest.max_file_mb={limit_mb:g}; "
                        "raise the limit or split the file"
                    )
                digest = hashlib.sha256(candidate.path.read_bytes()).hexdigest()
            except IngestError as exc:
                self._skip(candidate.relative, str(exc), report)
                continue
            except OSError as exc:
                self._skip(candidate.relative, f"cannot read: {exc.strerror or exc}", report)
                continue
            previous = known.get(str(candidate.path))
            remembered = bad.get(str(candidate.path))
            if previous and (previous.content_hash, previous.config_hash) == (digest, fingerprint):
                report.files_unchanged += 1
                self.progress.file_done(candidate.relative, "unchanged", 0)
            elif remembered and (remembered.content_hash, remembered.config_hash) == (
                digest,
                fingerprint,
            ):
                self._skip(candidate.relative, remembered.reason, report)
            else:
                todo.append(_Todo(candidate, Entry(str(candidate.path), digest, fingerprint, 0)))
        return todo

    def _process(self, todo: list[_Todo], report: IngestReport) -> None:
        """Load and chunk (in worker processes when asked), then embed and store in batches."""
        t0 = time.perf_counter()
        chunker = self.chunker()
        report.setup_seconds = time.perf_counter() - t0
        report.chunk_size = chunker.size
        if chunker.window is not None:
            report.notes.append(
                f"chunks of at most {chunker.size} tokens ({self.settings.chunking.chunk_size} "
                f"configured) and {chunker.window.max_tokens} {self.embedder.name} tokens, the "
                "most it reads: every chunk is embedded whole"
            )
        workers = self.settings.ingest.workers
        if workers > 1 and self.settings.chunking.strategy == "semantic":
            report.notes.append("semantic chunking embeds sentences: loaded in one process")
            workers = 1
        jobs = [(t.candidate, self.settings.ingest.jsonl_text_field) for t in todo]
        batch = _Batch()
        bad: list[BadFile] = []
        with self.mapper(workers, chunker) as mapper:
            for item, result in zip(todo, mapper(jobs), strict=True):
                if isinstance(result, str):
                    self._skip(item.candidate.relative, result, report)
                    if not result.startswith(_UNREADABLE):  # the content's fault: remember it
                        e = item.entry
                        bad.append(BadFile(e.source_path, e.content_hash, e.config_hash, result))
                    continue
                docs, chunks = result
                entry = Entry(
                    item.entry.source_path,
                    item.entry.content_hash,
                    item.entry.config_hash,
                    len(chunks),
                )
                batch.files[entry.source_path] = _Pending(
                    entry, {c.id for c in chunks}, len(chunks)
                )
                batch.chunks.extend((c, entry.source_path) for c in chunks)
                report.files_ingested += 1
                report.documents += docs
                self.progress.file_done(item.candidate.relative, "ingested", len(chunks))
                if len(batch.chunks) >= self.settings.ingest.embed_batch:
                    self._write(batch, report)
        self._write(batch, report)
        self.manifest.record_bad(bad)

    def _skip(self, relative: str, reason: str, report: IngestReport) -> None:
        report.skipped.append(Skipped(relative, reason))
        self.progress.file_done(relative, "skipped", 0)

    def chunker(self) -> Chunker:
        """Built on first need: fitting chunks to the embedder's window loads the model."""
        if self._chunker is None:
            chunking = self.settings.chunking
            window = self.embedder.window() if chunking.cap_to_embedder else None
            embed = self.embedder.embed if chunking.strategy == "semantic" else None
            self._chunker = Chunker(chunking, embed=embed, window=window)
        return self._chunker

    def _write(self, batch: _Batch, report: IngestReport) -> None:
        """Embed and upsert the batch, then finish the files whose chunks are all stored."""
        if batch.chunks:
            self._ensure_collection()
            texts = [c.text for c, _ in batch.chunks]
            t0 = time.perf_counter()
            dense = self.embedder.embed(texts, kind="document")
            report.embed_seconds += time.perf_counter() - t0
            sparse = self.sparse.encode_documents(texts)
            step = self.settings.upsert_batch
            for start in range(0, len(texts), step):
                self.store.upsert(
                    [
                        StorePoint(chunk.id, dense[i], sparse[i], chunk.payload())
                        for i, (chunk, _) in enumerate(batch.chunks[start : start + step], start)
                    ]
                )
            for _, source in batch.chunks:
                batch.files[source].waiting -= 1
            report.chunks_written += len(texts)
            batch.chunks.clear()
        done = [p for p in batch.files.values() if p.waiting == 0]
        for pending in done:
            stale = Filter(
                must=(Match("source_path", pending.entry.source_path),),
                must_not=(HasId(frozenset(pending.ids)),),
            )
            report.chunks_removed += self.store.delete(stale)
            del batch.files[pending.entry.source_path]
        if done:
            self.store.flush()  # a file enters the manifest only once its chunks are durable
            self.manifest.record(p.entry for p in done)

    def _ensure_collection(self) -> None:
        if not self._collection_ready:
            self.store.ensure_collection(CollectionSpec(dims=self.embedder.dims))
            self._collection_ready = True


def reconcile(manifest: Manifest, store: VectorStore) -> int:
    """Forget files whose stored chunk count no longer matches (deleted outside the ingest).

    The next ingest then re-adds them instead of trusting a stale "complete" mark.
    Returns how many manifest rows were dropped.
    """
    entries = manifest.entries()
    if not store.exists():
        manifest.forget()
        return len(entries)
    stale = [
        path
        for path, entry in entries.items()
        if store.count(Filter(must=(Match("source_path", path),))) != entry.chunks
    ]
    manifest.forget(stale)
    return len(stale)


Job = tuple[Candidate, str]
Prepared = tuple[int, list[Chunk]] | str  # (documents, chunks), or why the file was skipped
JobMap = Callable[[list[Job]], Iterator[Prepared]]
# (workers, chunker) -> a context holding an ordered, lazy map of `prepare`; the Ray engine
# (`ragline.rag.ingest.ray_engine.ray_mapper`) is the other one
MapperFactory = Callable[[int, Chunker], AbstractContextManager[JobMap]]
_WORKER_CHUNKER: Chunker | None = None
_UNREADABLE = "cannot read:"  # a reason that may pass (permissions, a busy disk): not remembered


def prepare(job: Job, chunker: Chunker) -> Prepared:
    """Load one file and chunk it; an unreadable file yields the reason instead."""
    candidate, text_field = job
    try:
        data = candidate.path.read_bytes()
        docs = load_file(candidate.path, data, candidate.relative, text_field)
        chunks = {chunk.id: chunk for doc in docs for chunk in chunker.chunk(doc)}
        return len(docs), list(chunks.values())  # identical records share ids: store once
    except IngestError as exc:
        return str(exc)
    except OSError as exc:
        return f"{_UNREADABLE} {exc.strerror or exc}"


def _init_worker(config: ChunkingConfig, window: TokenWindow | None) -> None:
    global _WORKER_CHUNKER
    _WORKER_CHUNKER = Chunker(config, window=window)


def _prepare_in_worker(job: Job) -> Prepared:
    assert _WORKER_CHUNKER is not None
    return prepare(job, _WORKER_CHUNKER)


@contextmanager
def local_mapper(workers: int, chunker: Chunker) -> Iterator[JobMap]:
    """An ordered, lazy map of `prepare` over jobs: in-process, or over a process pool."""
    if workers <= 1:
        yield lambda jobs: (prepare(job, chunker) for job in jobs)
        return
    context = multiprocessing.get_context("spawn")  # fork after torch threads start is unsafe
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(chunker.config, chunker.window),
    ) as pool:
        yield lambda jobs: pool.map(_prepare_in_worker, jobs, chunksize=4)
