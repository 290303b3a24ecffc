"""Ingest files into a collection: `ragline ingest` and the API's ingest jobs call this.

    with Accounting(settings) as costs, cost_scope("ingest-1"):
        report = ingest_paths(settings, costs, store, [Path("docs")], progress)

The embedder and sparse encoder default to fresh ones; a long-lived process passes those it
already loaded. Embedding and vector-store writes are metered to the current cost scope.
With `engine=RayOptions(...)` files load and chunk in Ray tasks and embed in a Ray actor pool;
this process stays the single writer, so the collection is the one the in-process run makes.

One writer per collection, across processes: every ingest holds the collection's lock
(`ingest_lock`) for the whole run, so a second one waits (told once through
`RunOptions.on_wait`) or, past `RunOptions.lock_timeout_s`, is refused with `IngestLocked`.
Which lock: `ingest.lock_url` when set (a Redis key or a PostgreSQL advisory lock: what
machines sharing a Qdrant server need); else a file lock, beside the shard for the Edge store
(`<store path>/.locks/<collection>.lock`) and in `<data_dir>/locks/` for a server store (which
then only keeps ingests on this machine, or on a shared data dir, apart).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ragline.core.embedding import Embedder, SparseEncoder
from ragline.rag.errors import IngestError
from ragline.rag.ingest import IngestReport, Progress
from ragline.rag.ingest.lock import CrossProcessLock, FileLock, hold, lock_for_url
from ragline.rag.store.protocol import VectorStore
from ragline.serving.settings import Settings
from ragline.serving.wiring import Accounting, build_ingestor, store_key

if TYPE_CHECKING:
    from ragline.rag.ingest.ray_engine import RayOptions

_COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How one ingest call behaves: RunOptions(prune=False, lock_timeout_s=0, on_wait=print).

    `prune`: delete the chunks of files gone from a folder root. `lock_timeout_s`: how long to
    wait for another ingest of the collection (None: as long as it takes; 0: refuse at once).
    `close_store`: close the store before letting go of the lock (one-shot callers, the CLI),
    so the next writer opens a shard that holds every write.
    """

    prune: bool = True
    lock_timeout_s: float | None = None
    on_wait: Callable[[str], None] | None = None
    close_store: bool = False


def check_collection(name: str) -> str:
    """`name` if it is a valid collection name, else an IngestError saying what one is."""
    if not _COLLECTION.fullmatch(name):
        raise IngestError(
            f"collection name {name!r} is not valid: use 1 to 63 letters, digits, '_' or '-', "
            "starting with a letter or digit (e.g. docs, team-notes_2)"
        )
    return name


def ingest_lock(settings: Settings, collection: str) -> CrossProcessLock:
    """The cross-process lock of `collection` in the configured store (see the docstring)."""
    key = f"{store_key(settings)}|{check_collection(collection)}"
    if settings.ingest.lock_url is not None:
        return lock_for_url(settings.ingest.lock_url.get_secret_value(), key)
    if settings.store.backend == "edge":
        return FileLock(settings.store_path() / ".locks" / f"{collection}.lock")
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return FileLock(settings.data_dir / "locks" / f"{collection}-{digest}.lock")


def ingest_paths(
    settings: Settings,
    costs: Accounting,
    store: VectorStore,
    paths: Sequence[Path],
    progress: Progress | None = None,
    *,
    embedder: Embedder | None = None,
    sparse: SparseEncoder | None = None,
    engine: RayOptions | None = None,
    options: RunOptions = RunOptions(),  # frozen: one shared default is safe
) -> IngestReport:
    """Load, chunk, embed and upsert `paths` into `store` under the collection's lock;
    unchanged files are skipped, changed ones replaced, deleted ones pruned (the manifest of
    that store and collection)."""
    lock = ingest_lock(settings, store.collection)
    with hold(lock, store.collection, timeout_s=options.lock_timeout_s, on_wait=options.on_wait):
        try:
            if engine is not None:
                return _ingest_on_ray(settings, costs, store, paths, progress, engine, options)
            ingestor = build_ingestor(
                settings, store, progress, costs=costs, embedder=embedder, sparse=sparse
            )
            try:
                return ingestor.run(list(paths), prune=options.prune)
            finally:
                ingestor.manifest.close()
        finally:
            if options.close_store:
                store.close()


def _ingest_on_ray(
    settings: Settings,
    costs: Accounting,
    store: VectorStore,
    paths: Sequence[Path],
    progress: Progress | None,
    engine: RayOptions,
    options: RunOptions,
) -> IngestReport:
    """`ingest_paths` with load + chunk in Ray tasks and embedding in a Ray actor pool."""
    from ragline.rag.ingest.ray_engine import RayEmbedder, ray_mapper, ray_session
    from ragline.rag.metering import MeteredEmbedder

    with ray_session(engine), RayEmbedder(settings.embedding, engine) as embedder:
        ingestor = build_ingestor(
            settings,
            store,
            progress,
            costs=costs,
            embedder=MeteredEmbedder(embedder, costs.meter),
            mapper=ray_mapper(engine),
        )
        try:
            return ingestor.run(list(paths), prune=options.prune)
        finally:
            ingestor.manifest.close()
