"""Vector stores by backend name: `store.backend` in the settings picks one.

    backend = default_stores().get("edge")
    store = backend.open(settings.store, Path(".ragline/qdrant"), "docs")
    backend.location(settings.store, Path(".ragline/qdrant"))   # "edge:/abs/.ragline/qdrant"

Built-in backends register exactly as any other would. Adding a store is one module (the
adapter, passing `ragline.rag.testing.VectorStoreConformance`) and one registration:

    default_stores().register("mystore", StoreBackend(open_my_store, my_location))

`open` receives the `store:` settings, the folder an embedded engine keeps its data in
(`store.path` under `data_dir`), and the collection name; it must be cheap (connect lazily).
`location` names where the data lives, so ingest manifests of different engines never mix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ragline.core.errors import redact_url
from ragline.rag.config import StoreConfig
from ragline.rag.errors import StoreError
from ragline.rag.store.protocol import VectorStore


@dataclass(frozen=True, slots=True)
class StoreBackend:
    """How to open one kind of store, and how to name where its data lives."""

    open: Callable[[StoreConfig, Path, str], VectorStore]
    location: Callable[[StoreConfig, Path], str]


class StoreRegistry:
    """A name -> `StoreBackend` table."""

    def __init__(self) -> None:
        self._backends: dict[str, StoreBackend] = {}

    def register(self, name: str, backend: StoreBackend) -> None:
        if not name.isidentifier():
            raise ValueError(f"store backend name {name!r} must be a plain identifier")
        self._backends[name] = backend

    def names(self) -> list[str]:
        return sorted(self._backends)

    def get(self, name: str) -> StoreBackend:
        backend = self._backends.get(name)
        if backend is None:
            raise StoreError(
                f"unknown store.backend {name!r}; known: {', '.join(self.names())} "
                "(register another with ragline.rag.store.registry.default_stores().register)"
            )
        return backend


def _edge(config: StoreConfig, root: Path, collection: str) -> VectorStore:
    from ragline.rag.store.edge import QdrantEdgeStore

    return QdrantEdgeStore(
        root, collection, wal=config.wal, quantization=config.vector_quantization()
    )


def _edge_location(config: StoreConfig, root: Path) -> str:
    return f"edge:{root.resolve()}"


def _server(config: StoreConfig, root: Path, collection: str) -> VectorStore:
    from ragline.rag.store.server import QdrantServerStore

    if config.url is None:
        raise StoreError("store.backend 'server' needs store.url (e.g. http://localhost:6333)")
    key = config.api_key.get_secret_value() if config.api_key else None
    return QdrantServerStore(
        collection,
        url=config.url,
        api_key=key,
        config=config.server,
        quantization=config.vector_quantization(),
    )


def _server_location(config: StoreConfig, root: Path) -> str:
    return f"server:{redact_url(str(config.url))}"  # stored in manifests: no password


def builtin_stores() -> StoreRegistry:
    """A registry holding ragline's own backends: `edge` (Qdrant Edge, embedded) and `server`
    (qdrant-client: a Qdrant server or cluster URL, or ':memory:')."""
    registry = StoreRegistry()
    registry.register("edge", StoreBackend(_edge, _edge_location))
    registry.register("server", StoreBackend(_server, _server_location))
    return registry


_DEFAULT: StoreRegistry | None = None


def default_stores() -> StoreRegistry:
    """The process-wide registry the settings wiring reads (the built-ins, plus whatever a
    plugin registered)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = builtin_stores()
    return _DEFAULT
