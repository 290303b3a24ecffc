"""Snapshot create/download/upload at the HTTP boundary (`FakeQdrant`: no Qdrant server binary
reaches this machine; the round trip on a real server is `TestRealServerStore` in
test_server.py), and the refusals of stores that have no snapshots."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ragline.rag.errors import StoreError, StoreUnreachable
from ragline.rag.store.edge import QdrantEdgeStore
from ragline.rag.store.server import QdrantServerStore
from ragline.rag.store.snapshots import create_snapshot, restore_snapshot
from tests.rag.store.qdrant_fake import SNAPSHOT_BYTES, FakeQdrant

pytestmark = pytest.mark.integration


def test_snapshot_is_made_on_the_server_and_downloaded(tmp_path: Path) -> None:
    out = tmp_path / "backups" / "docs.snapshot"
    with FakeQdrant(collections=("docs",)) as fake:
        store = QdrantServerStore("docs", url=fake.url)
        info = create_snapshot(store, out)
        kept = create_snapshot(store)
    assert (info.collection, info.name, info.size) == (
        "docs",
        "docs-1.snapshot",
        len(SNAPSHOT_BYTES),
    )
    assert info.path == out and out.read_bytes() == SNAPSHOT_BYTES
    assert sorted(p.name for p in out.parent.iterdir()) == ["docs.snapshot"]  # no partial file
    assert kept.path is None


def test_restore_uploads_the_file_into_the_named_collection(tmp_path: Path) -> None:
    snapshot = tmp_path / "docs.snapshot"
    snapshot.write_bytes(SNAPSHOT_BYTES)
    with FakeQdrant() as fake:
        restore_snapshot(QdrantServerStore("notes", url=fake.url), str(snapshot))
        [upload] = [b for m, p, b in fake.requests if p == "/collections/notes/snapshots/upload"]
    assert SNAPSHOT_BYTES in upload and b'name="snapshot"' in upload


def test_restore_from_a_url_lets_the_server_fetch_it() -> None:
    source = "http://backup.internal/docs.snapshot"
    with FakeQdrant() as fake:
        restore_snapshot(QdrantServerStore("docs", url=fake.url), source)
        sent = fake.bodies("PUT", "/collections/docs/snapshots/recover")
    assert sent == [{"location": source, "priority": "snapshot"}]


def test_a_missing_collection_is_reported(tmp_path: Path) -> None:
    with FakeQdrant() as fake:
        store = QdrantServerStore("nope", url=fake.url)
        with pytest.raises(
            StoreError, match=r"snapshotting 'nope' failed: HTTP 404.*doesn't exist"
        ):
            create_snapshot(store, tmp_path / "nope.snapshot")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_snapshot_file_is_named(tmp_path: Path) -> None:
    with FakeQdrant() as fake, pytest.raises(StoreError, match=r"nope.snapshot does not exist"):
        restore_snapshot(QdrantServerStore("docs", url=fake.url), str(tmp_path / "nope.snapshot"))
    assert fake.requests == []


def test_an_unreachable_server_is_named(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    store = QdrantServerStore("docs", url=url)
    with pytest.raises(StoreUnreachable, match=rf"Qdrant server at {url}"):
        create_snapshot(store, tmp_path / "docs.snapshot")
    assert not (tmp_path / "docs.snapshot").exists()


def test_local_mode_has_no_snapshots() -> None:
    """qdrant-client's local mode raises NotImplementedError for snapshots; we say why first."""
    store = QdrantServerStore("docs", url=":memory:")
    with pytest.raises(StoreError, match=r"local mode \(store.url ':memory:'\) keeps no snapshots"):
        create_snapshot(store)
    store.close()


def test_edge_refuses_and_names_the_folder_to_copy(tmp_path: Path) -> None:
    store = QdrantEdgeStore(tmp_path, "docs")
    with pytest.raises(StoreError, match=rf"store.backend 'server'.*folder {tmp_path / 'docs'}"):
        create_snapshot(store)
    with pytest.raises(StoreError, match="copy its folder"):
        restore_snapshot(store, "docs.snapshot")
