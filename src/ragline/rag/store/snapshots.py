"""Collection snapshots on a Qdrant server: create one, download it, upload one to restore.

    info = create_snapshot(store, Path("docs.snapshot"))   # made on the server, then downloaded
    restore_snapshot(store, "docs.snapshot")               # a local file: uploaded
    restore_snapshot(store, "http://backup/docs.snapshot") # a URL the server itself fetches

The server makes and restores snapshots, over Qdrant's REST API with httpx: qdrant-client has no
upload or download helper, and its calls are bound by `store.server.timeout_s`, while making or
restoring a large snapshot keeps the connection silent for minutes (`SNAPSHOT_TIMEOUT_S`).
Restoring replaces the collection named by the store with the snapshot's content. On a cluster
a collection snapshot holds the shards of the node that answered: snapshot each node.

Only `QdrantServerStore` against a server URL has snapshots: qdrant-client's local mode refuses
them, and an Edge collection is a plain folder (copy it while no process writes to it; nothing
here can tell that no process does, so nothing here copies it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from ragline.rag.errors import StoreError
from ragline.rag.store.protocol import VectorStore
from ragline.rag.store.server import QdrantServerStore

SNAPSHOT_TIMEOUT_S = 600.0  # the longest silence while the server makes or restores one


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A snapshot made on the server: its name there, its size, and where it was downloaded."""

    collection: str
    name: str
    size: int | None
    path: Path | None


def server_store(store: VectorStore) -> QdrantServerStore:
    """`store` as a server store with snapshots, or `StoreError` saying what to do instead."""
    if not isinstance(store, QdrantServerStore):
        where = getattr(store, "path", None)
        copy = f" (the folder {where})" if where is not None else ""
        raise StoreError(
            f"snapshots need store.backend 'server' (a Qdrant server URL); collection "
            f"{store.collection!r} is on {type(store).__name__}: stop every process that writes "
            f"to it and copy its folder{copy} instead"
        )
    if not store.remote:
        raise StoreError(
            f"qdrant-client's local mode (store.url {store.url!r}) keeps no snapshots; point "
            "store.url at a Qdrant server, or copy the local folder while nothing writes to it"
        )
    return store


def create_snapshot(store: VectorStore, out: Path | None = None) -> SnapshotInfo:
    """Snapshot the store's collection on the server; download it to `out` when given (written
    to a temporary name first, so a failed download leaves no partial file)."""
    server = server_store(store)
    with server.reachable(), _http(server) as http:
        response = http.post(_snapshots_url(server), params={"wait": "true"})
    _check(response, f"snapshotting {server.collection!r}")
    made = response.json()["result"]
    if out is not None:
        _download(server, made["name"], out)
    return SnapshotInfo(server.collection, made["name"], made.get("size"), out)


def restore_snapshot(store: VectorStore, source: str) -> None:
    """Replace the store's collection with a snapshot: a local file (uploaded), or an http(s)
    or file:// URL that the server reads itself."""
    server = server_store(store)
    params = {"wait": "true"}
    if "://" in source:
        with server.reachable(), _http(server) as http:
            response = http.put(
                f"{_snapshots_url(server)}/recover",
                params=params,
                json={"location": source, "priority": "snapshot"},
            )
        _check(response, f"restoring {source} into {server.collection!r}")
        return
    path = Path(source)
    if not path.is_file():
        raise StoreError(f"snapshot file {path} does not exist; give a file or a URL")
    with server.reachable(), _http(server) as http, path.open("rb") as handle:
        response = http.post(
            f"{_snapshots_url(server)}/upload",
            params={**params, "priority": "snapshot"},
            files={"snapshot": (path.name, handle, "application/octet-stream")},
        )
    _check(response, f"restoring {path} into {server.collection!r}")


def _snapshots_url(server: QdrantServerStore) -> str:
    return f"{server.url.rstrip('/')}/collections/{server.collection}/snapshots"


def _download(server: QdrantServerStore, name: str, out: Path) -> None:
    url = f"{_snapshots_url(server)}/{name}"
    partial = out.with_name(f".{out.name}.part")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with server.reachable(), _http(server) as http, http.stream("GET", url) as response:
            _check(response, f"downloading snapshot {name}")
            with partial.open("wb") as sink:
                for block in response.iter_bytes(1 << 20):
                    sink.write(block)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _http(server: QdrantServerStore) -> httpx.Client:
    timeout = httpx.Timeout(server.config.timeout_s, read=SNAPSHOT_TIMEOUT_S)
    return httpx.Client(headers=server.http_headers(), timeout=timeout)


def _check(response: httpx.Response, doing: str) -> None:
    if response.is_success:
        return
    response.read()
    raise StoreError(
        f"{doing} failed: HTTP {response.status_code} {response.text[:300]}; check the "
        "collection name, the server's free disk, and that store.api_key may manage snapshots"
    )


__all__ = ["SnapshotInfo", "create_snapshot", "restore_snapshot", "server_store"]
