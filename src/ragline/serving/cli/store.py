"""`ragline store ...`: snapshots of a collection on a Qdrant server (store.backend 'server').

    ragline store snapshot --collection docs --out docs.snapshot   # made on the server, downloaded
    ragline store snapshot --collection docs                       # left on the server, named
    ragline store restore docs.snapshot --collection docs          # uploaded; replaces `docs`
    ragline store restore http://backup/docs.snapshot --collection docs   # the server fetches it

The work is `ragline.rag.store.snapshots`. Edge collections have no snapshots (the command says
which folder to copy instead). Exit codes: 0 done; 2 bad usage, settings, backend, or a server
that refused or did not answer (the message names its URL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ragline.serving.cli.common import exit_2_on, out, settings_from

store_app = typer.Typer(
    help="snapshots of a collection on a Qdrant server: create, download, restore.",
    no_args_is_help=True,
)
CollectionOption = Annotated[
    str | None, typer.Option("--collection", help="collection name (default: store.collection)")
]


@store_app.command("snapshot")
def snapshot_command(
    ctx: typer.Context,
    collection: CollectionOption = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="download the snapshot to this file")
    ] = None,
) -> None:
    """Snapshot a collection on the Qdrant server (and download it with --out)."""
    from ragline.rag.errors import StoreError
    from ragline.rag.store.snapshots import create_snapshot
    from ragline.serving.wiring import build_store

    settings = settings_from(ctx)
    with exit_2_on(StoreError):
        store = build_store(settings, collection)
        try:
            info = create_snapshot(store, out_file)
        finally:
            store.close()
    size = f", {info.size} bytes" if info.size is not None else ""
    where = f" -> {info.path}" if info.path is not None else " (kept on the server)"
    out.print(f"snapshot {info.name} of {info.collection!r}{size}{where}", markup=False)


@store_app.command("restore")
def restore_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="a snapshot file, or a URL the server can read")],
    collection: CollectionOption = None,
) -> None:
    """Replace a collection on the Qdrant server with a snapshot's content."""
    from ragline.rag.errors import StoreError
    from ragline.rag.store.snapshots import restore_snapshot
    from ragline.serving.wiring import build_store

    settings = settings_from(ctx)
    with exit_2_on(StoreError):
        store = build_store(settings, collection)
        try:
            restore_snapshot(store, source)
            points = store.count()
        finally:
            store.close()
    out.print(f"restored {store.collection!r} from {source}: {points} points", markup=False)
