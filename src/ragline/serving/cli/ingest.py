"""`ragline ingest`, `ragline collections`, `ragline delete`: documents into and out of
collections.

    ragline ingest docs/ README.md --collection docs      # unchanged files skipped
    ragline ingest docs/ --no-prune --lock-timeout 60     # keep deleted files' chunks
    ragline ingest docs/ --engine ray --actors 2          # embed in 2 Ray actors (local cluster)
    ragline collections                                   # points and files per collection
    ragline delete --source guide.md --collection docs    # or --all to drop the collection

Ingest runs `ragline.serving.services.ingest.ingest_paths` under one cost scope (embedding
tokens and points written are in the ledger under the printed request id), holding the
collection's ingest lock: a second ingest into it waits, saying so, for --lock-timeout seconds
(default: as long as it takes). Files gone from a folder that was ingested before are pruned
(--no-prune keeps their chunks). Exit codes: 0 done; 1 some files were skipped (listed with
the reason) or nothing matched; 2 bad usage or settings, or the lock wait ran out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ragline.serving.cli.common import cost_line, err, fail, out, settings_from

if TYPE_CHECKING:
    from ragline.rag.ingest.ray_engine import RayOptions
    from ragline.rag.store.protocol import VectorStore
    from ragline.serving.settings import Settings

CollectionOption = Annotated[
    str | None, typer.Option("--collection", help="collection name (default: store.collection)")
]


def ingest_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="files or folders to ingest")],
    collection: CollectionOption = None,
    strategy: Annotated[
        str | None, typer.Option(help="chunking: fixed_size | recursive | semantic")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="processes that load and chunk files")] = None,
    engine: Annotated[
        str, typer.Option(help="local (this process) | ray (Ray tasks and embed actors)")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster: auto | ray://host:10001 (default: start a local one)"),
    ] = None,
    actors: Annotated[int, typer.Option(help="Ray embed actors (one model load each)")] = 1,
    num_cpus: Annotated[
        float | None, typer.Option(help="CPUs per Ray embed actor (default: shared out)")
    ] = None,
    num_gpus: Annotated[float, typer.Option(help="GPUs per Ray embed actor")] = 0.0,
    prune: Annotated[
        bool, typer.Option(help="delete the chunks of files gone from an ingested folder")
    ] = True,
    lock_timeout: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="seconds to wait while another ingest writes the collection (default: no limit)",
        ),
    ] = None,
) -> None:
    """Load, chunk, embed and store files; unchanged files are skipped, changed ones replaced,
    deleted ones pruned."""
    from ragline.core.costs import cost_scope
    from ragline.rag.errors import RagError
    from ragline.serving.services.ingest import RunOptions, check_collection, ingest_paths
    from ragline.serving.services.progress import IngestProgress, print_report
    from ragline.serving.wiring import Accounting, build_store

    overrides: dict[str, object] = {}
    if strategy:
        overrides["chunking"] = {"strategy": strategy}
    if workers:
        overrides["ingest"] = {"workers": workers}
    settings = settings_from(ctx, **overrides)
    if engine not in ("local", "ray"):
        raise fail(f"--engine must be local or ray, got {engine!r}")
    try:
        name = check_collection(collection or settings.store.collection)
        ray = _ray_options(address, actors, num_cpus, num_gpus) if engine == "ray" else None
    except RagError as exc:
        raise fail(str(exc)) from None
    options = RunOptions(prune, lock_timeout, _tell, close_store=True)
    with Accounting(settings) as costs, cost_scope(f"ingest-{_short_id()}") as scope:
        store = build_store(settings, name, costs)
        try:
            with IngestProgress(err) as progress:
                report = ingest_paths(
                    settings, costs, store, paths, progress, engine=ray, options=options
                )
        except RagError as exc:
            raise fail(f"ingest failed: {exc}") from None
        finally:
            store.close()
    print_report(out, report, store.collection, settings.store.backend)
    out.print(f"  cost    {cost_line(scope)}", markup=False, highlight=False)
    if report.files_seen == 0:
        patterns = ", ".join(settings.ingest.include)
        err.print(f"nothing matched ingest.include ({patterns}) under the paths given")
    raise typer.Exit(1 if report.failed or report.files_seen == 0 else 0)


def collections_command(ctx: typer.Context) -> None:
    """List collections with their point and file counts."""
    from ragline.serving.wiring import build_manifest, build_store

    settings = settings_from(ctx)
    names = build_store(settings).list_collections()
    if not names:
        out.print("no collections yet; run: ragline ingest PATH")
        return
    out.print(f"{'collection':<24} {'points':>10} {'files':>8}")
    for name in names:
        store = build_store(settings, name)
        points = store.count()
        store.close()
        manifest = build_manifest(settings, name)
        files = len(manifest.entries())
        manifest.close()
        out.print(f"{name:<24} {points:>10} {files:>8}")


def delete_command(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option(help="source_document name or file path to remove")
    ] = None,
    collection: CollectionOption = None,
    drop: Annotated[bool, typer.Option("--all", help="drop the whole collection")] = False,
) -> None:
    """Remove one source's chunks (or, with --all, the whole collection), holding the
    collection's ingest lock."""
    from ragline.rag.errors import RagError
    from ragline.rag.ingest.lock import hold
    from ragline.serving.services.ingest import ingest_lock
    from ragline.serving.wiring import build_store

    if (source is None) == (not drop):
        raise fail("give exactly one of --source S or --all")
    settings = settings_from(ctx)
    store = build_store(settings, collection)
    if not store.exists():
        err.print(f"collection {store.collection!r} does not exist; see: ragline collections")
        raise typer.Exit(1)
    try:
        with hold(ingest_lock(settings, store.collection), store.collection, on_wait=_tell):
            message, removed = _remove(settings, store, source)
    except RagError as exc:
        raise fail(f"delete failed: {exc}") from None
    out.print(message)
    raise typer.Exit(0 if removed else 1)


def _remove(settings: Settings, store: VectorStore, source: str | None) -> tuple[str, int]:
    """Drop the collection (no `source`) or delete the chunks of `source`; closes the store."""
    from ragline.rag.ingest.pipeline import reconcile
    from ragline.rag.store.filters import source_filter
    from ragline.serving.wiring import build_manifest

    manifest = build_manifest(settings, store.collection)
    try:
        if source is None:
            points = store.count()
            store.drop()
            manifest.forget()
            return f"dropped collection {store.collection} ({points} points)", max(points, 1)
        as_path = str(Path(source).resolve()) if Path(source).exists() else source
        removed = store.delete(source_filter(source)) + (
            store.delete(source_filter(as_path)) if as_path != source else 0
        )
        reconcile(manifest, store)
    finally:
        manifest.close()
        store.close()
    return f"removed {removed} chunks of {source} from {store.collection}", removed


def _tell(line: str) -> None:
    err.print(line, markup=False)


def _ray_options(
    address: str | None, actors: int, num_cpus: float | None, num_gpus: float
) -> RayOptions:
    from ragline.rag.ingest.ray_engine import RayOptions  # only here: the local run needs no Ray

    return RayOptions(address, actors, num_cpus, num_gpus)


def _short_id() -> str:
    import uuid

    return uuid.uuid4().hex[:16]
