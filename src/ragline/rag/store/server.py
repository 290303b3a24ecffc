"""`VectorStore` on a Qdrant server or cluster through `qdrant-client`.

    store = QdrantServerStore("docs", url="http://localhost:6333")
    store = QdrantServerStore("docs", url=":memory:")   # qdrant-client's local mode, for tests
    store = QdrantServerStore("docs", url, config=ServerStoreConfig(shard_number=6))
    store = QdrantServerStore("docs", url, quantization=Quantization(kind="binary"))

The same code runs against a real server and against the client's in-process local mode.
Collections are created with the layout of `ServerStoreConfig` (shards, replicas, write
consistency, on-disk vectors and payloads, int8 or binary quantization; see `collection_args`)
and the payload indexes of the `CollectionSpec`, as on Edge. A quantized collection's dense leg
is searched with rescoring and oversampling (`Quantization`), as on Edge. qdrant-client's local
mode (`:memory:`, a path) accepts and stores the quantization setting but searches the float32
vectors; only a server reads the quantized copies. Upserts go in batches, several in flight,
retried on transient failures (`ragline.rag.store.server_calls`); a server that does not answer
raises `StoreUnreachable` naming the URL, after at most `timeout_s` per request.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import UnexpectedResponse

from ragline.core.filters import Condition, DateRange, Filter, HasId, Match, MatchAny, Range
from ragline.core.index import DENSE, SPARSE, CollectionSpec, Hit, StorePoint, StoreQuery, rank
from ragline.rag.config import Quantization, ServerStoreConfig
from ragline.rag.errors import StoreError
from ragline.rag.store import server_calls
from ragline.rag.store.mismatch import dims_mismatch, log, quantization_mismatch
from ragline.rag.store.server_calls import gave_up, transient, upsert_batches

_SCHEMA = {
    "keyword": qm.PayloadSchemaType.KEYWORD,
    "integer": qm.PayloadSchemaType.INTEGER,
    "float": qm.PayloadSchemaType.FLOAT,
    "datetime": qm.PayloadSchemaType.DATETIME,
    "text": qm.PayloadSchemaType.TEXT,
    "bool": qm.PayloadSchemaType.BOOL,
}
TIE_MARGIN = 10
# qdrant-client's local mode ignores payload indexes and warns on each one it is asked for.
_LOCAL_INDEX_WARNING = "Payload indexes have no effect in the local Qdrant"


class QdrantServerStore:
    """`VectorStore` over qdrant-client (a URL, a local path, or ':memory:').

    store = QdrantServerStore("docs", url=":memory:")
    """

    def __init__(
        self,
        collection: str,
        url: str,
        api_key: str | None = None,
        client: QdrantClient | None = None,
        config: ServerStoreConfig | None = None,
        quantization: Quantization | None = None,
    ) -> None:
        self._collection = collection
        self.url = url
        self.config = config if config is not None else ServerStoreConfig()
        if quantization is None:  # the older spelling: store.server.quantization
            older = self.config
            quantization = Quantization(
                kind=older.quantization, always_ram=older.quantization_always_ram
            )
        self.quantization = quantization
        self.remote = "://" in url
        self._api_key = api_key
        if client is not None:
            self.client = client
        elif url == ":memory:":
            self.client = QdrantClient(location=":memory:")
        elif self.remote:
            # No version check: it would call the server here (open must stay cheap) and
            # only warn when the server is down; the first real call reports that instead.
            self.client = QdrantClient(
                url=url,
                api_key=api_key,
                timeout=self.config.timeout_s,
                check_compatibility=False,
            )
        else:
            self.client = QdrantClient(path=url)

    @property
    def collection(self) -> str:
        return self._collection

    def reachable(self) -> AbstractContextManager[None]:
        """Report a server that refused or did not answer as `StoreUnreachable`."""
        return server_calls.reachable(self.url, self.config.timeout_s)

    def http_headers(self) -> dict[str, str]:
        """Headers for calls the client has no method for (snapshot upload and download)."""
        return {"api-key": self._api_key} if self._api_key else {}

    def exists(self) -> bool:
        with self.reachable():
            return bool(self.client.collection_exists(self._collection))

    def ensure_collection(self, spec: CollectionSpec) -> None:
        with self.reachable():
            self._ensure_collection(spec)

    def _ensure_collection(self, spec: CollectionSpec) -> None:
        if self.exists():
            info = self.client.get_collection(self._collection)
            vectors: Any = info.config.params.vectors
            stored = vectors[DENSE].size if isinstance(vectors, dict) else None
            if stored != spec.dims:
                raise dims_mismatch(self._collection, stored, spec.dims)
            # local mode keeps no quantization setting (it always searches float32)
            if self.remote:
                self._adopt(stored_kind(info.config.quantization_config))
            have = set(info.payload_schema)
        else:
            args = collection_args(spec, self.config, self.quantization)
            self.client.create_collection(self._collection, **args)
            have = set()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_LOCAL_INDEX_WARNING, category=UserWarning)
            for key, kind in spec.indexes.items():
                if key not in have:
                    self.client.create_payload_index(self._collection, key, _SCHEMA[kind])

    def _adopt(self, kind: str) -> None:
        """Search a collection as it was made; warn when the settings ask for another kind."""
        if kind == self.quantization.kind:
            return
        log.warning(quantization_mismatch(self._collection, kind, self.quantization.kind))
        if kind in ("none", "int8", "binary"):
            self.quantization = self.quantization.model_copy(update={"kind": kind})

    @contextmanager
    def collection_required(self) -> Iterator[None]:
        """Report a missing collection as `StoreError` (the client says ValueError or 404)."""
        try:
            yield
        except (ValueError, UnexpectedResponse) as exc:
            if self.exists():
                raise
            raise StoreError(
                f"collection {self._collection!r} does not exist in this Qdrant; "
                "ingest into it first (ragline ingest PATH --collection NAME)"
            ) from exc

    def upsert(self, points: Sequence[StorePoint]) -> None:
        if not points:
            return
        batch = [qm.PointStruct(id=p.id, vector=_vectors(p), payload=p.payload) for p in points]
        with self.reachable(), self.collection_required():
            try:
                upsert_batches(self._send, batch, self.config, parallel=self.remote)
            except UnexpectedResponse as exc:
                if not transient(exc):
                    raise
                raise gave_up(self.url, exc, self.config.retries) from None

    def _send(self, batch: Sequence[qm.PointStruct]) -> None:
        self.client.upsert(self._collection, points=list(batch), wait=True)

    def delete(self, where: Filter) -> int:
        native = to_native(where)
        removed = self.count(where)
        if removed:
            with self.reachable():
                selector = qm.FilterSelector(filter=native)
                self.client.delete(self._collection, points_selector=selector)
        return removed

    def count(self, where: Filter | None = None) -> int:
        if not self.exists():
            return 0
        native = to_native(where) if where else None
        with self.reachable():
            counted = self.client.count(self._collection, count_filter=native, exact=True)
        return int(counted.count)

    def query(self, query: StoreQuery) -> list[Hit]:
        native = to_native(query.filter) if query.filter else None
        legs: list[tuple[Any, str, qm.SearchParams | None]] = []
        if query.dense is not None:
            # Local mode searches exactly (and warns about search params): sent to servers only.
            params = search_params(self.quantization) if self.remote else None
            legs.append((query.dense.tolist(), DENSE, params))
        if query.sparse is not None:
            sparse = qm.SparseVector(indices=query.sparse.indices, values=query.sparse.values)
            legs.append((sparse, SPARSE, None))
        if not legs:
            raise ValueError("a query needs a dense vector, a sparse vector or both")
        limit = query.limit + TIE_MARGIN
        payload: Any = True if query.payload_keys is None else list(query.payload_keys)
        with self.reachable(), self.collection_required():
            if len(legs) == 1:
                vector, using, params = legs[0]
                response = self.client.query_points(
                    self._collection,
                    query=vector,
                    using=using,
                    query_filter=native,
                    search_params=params,
                    limit=limit,
                    with_payload=payload,
                )
            else:
                prefetch = [
                    qm.Prefetch(
                        query=v, using=u, limit=query.prefetch_limit, filter=native, params=p
                    )
                    for v, u, p in legs
                ]
                fusion: Any = (
                    qm.FusionQuery(fusion=qm.Fusion.DBSF)
                    if query.fusion == "dbsf"
                    else qm.RrfQuery(rrf=qm.Rrf(k=query.rrf_k, weights=_weights(query)))
                )
                response = self.client.query_points(
                    self._collection,
                    prefetch=prefetch,
                    query=fusion,
                    query_filter=native,
                    limit=limit,
                    with_payload=payload,
                )
        hits = [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]
        return rank(hits)[: query.limit]

    def scroll(
        self,
        limit: int,
        offset: str | None = None,
        where: Filter | None = None,
        payload_keys: tuple[str, ...] | None = None,
    ) -> tuple[list[Hit], str | None]:
        if limit < 1:
            raise ValueError(f"scroll limit must be at least 1, got {limit}")
        payload: Any = True if payload_keys is None else list(payload_keys)
        with self.reachable(), self.collection_required():
            records, next_id = self.client.scroll(
                self._collection,
                scroll_filter=to_native(where) if where else None,
                limit=limit,
                offset=offset,
                with_payload=payload,
                with_vectors=False,
            )
        hits = [Hit(str(r.id), 0.0, dict(r.payload or {})) for r in records]
        return hits, None if next_id is None else str(next_id)

    def list_collections(self) -> list[str]:
        with self.reachable():
            return sorted(c.name for c in self.client.get_collections().collections)

    def drop(self) -> None:
        with self.reachable():
            self.client.delete_collection(self._collection)

    def flush(self) -> None:
        """Upserts already wait for the server to apply them."""

    def optimize(self) -> None:
        """A Qdrant server optimizes in the background; local mode has no index to build."""

    def close(self) -> None:
        self.client.close()


def collection_args(
    spec: CollectionSpec, config: ServerStoreConfig, quantization: Quantization | None = None
) -> dict[str, Any]:
    """What `create_collection` is given: the vectors, plus each layout setting that is set
    (an unset one is left out, so the server's default applies). `quantization` defaults to
    the older `config.quantization` (int8 or none).

    >>> sorted(collection_args(CollectionSpec(dims=8), ServerStoreConfig(shard_number=2)))
    ['shard_number', 'sparse_vectors_config', 'vectors_config']
    """
    on_disk = config.on_disk_vectors
    sparse_index = qm.SparseIndexParams(on_disk=on_disk) if on_disk is not None else None
    args: dict[str, Any] = {
        "vectors_config": {
            DENSE: qm.VectorParams(size=spec.dims, distance=qm.Distance.COSINE, on_disk=on_disk)
        },
        "sparse_vectors_config": {
            SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF, index=sparse_index)
        },
    }
    layout = {
        "shard_number": config.shard_number,
        "replication_factor": config.replication_factor,
        "write_consistency_factor": config.write_consistency_factor,
        "on_disk_payload": config.on_disk_payload,
    }
    args.update({key: value for key, value in layout.items() if value is not None})
    if quantization is None:
        quantization = Quantization(
            kind=config.quantization, always_ram=config.quantization_always_ram
        )
    if quantization.kind == "int8":
        args["quantization_config"] = qm.ScalarQuantization(
            scalar=qm.ScalarQuantizationConfig(
                type=qm.ScalarType.INT8, always_ram=quantization.always_ram
            )
        )
    elif quantization.kind == "binary":
        args["quantization_config"] = qm.BinaryQuantization(
            binary=qm.BinaryQuantizationConfig(always_ram=quantization.always_ram)
        )
    return args


def search_params(quantization: Quantization) -> qm.SearchParams | None:
    """The dense leg's search parameters: rescoring and oversampling (None when unquantized).

    >>> search_params(Quantization(kind="int8")).quantization.oversampling
    2.0
    """
    if quantization.kind == "none":
        return None
    return qm.SearchParams(
        quantization=qm.QuantizationSearchParams(
            rescore=quantization.rescore, oversampling=quantization.oversampling
        )
    )


def stored_kind(config: Any) -> str:
    """The quantization kind of a collection's stored `quantization_config` (None: "none")."""
    if isinstance(config, qm.ScalarQuantization):
        return "int8"
    if isinstance(config, qm.BinaryQuantization):
        return "binary"
    return "none" if config is None else type(config).__name__


def to_native(where: Filter) -> qm.Filter:
    """Our `Filter` as a `qdrant_client.models.Filter`."""
    return qm.Filter(
        must=[_condition(c) for c in where.must] or None,
        must_not=[_condition(c) for c in where.must_not] or None,
        should=[_condition(c) for c in where.should] or None,
    )


def _condition(cond: Condition) -> Any:
    if isinstance(cond, Match):
        return qm.FieldCondition(key=cond.key, match=qm.MatchValue(value=cond.value))
    if isinstance(cond, MatchAny):
        values: Any = list(cond.values)
        return qm.FieldCondition(key=cond.key, match=qm.MatchAny(any=values))
    if isinstance(cond, Range):
        return qm.FieldCondition(
            key=cond.key, range=qm.Range(gte=cond.gte, gt=cond.gt, lte=cond.lte, lt=cond.lt)
        )
    if isinstance(cond, DateRange):
        return qm.FieldCondition(
            key=cond.key,
            range=qm.DatetimeRange(
                gte=_when(cond.gte), gt=_when(cond.gt), lte=_when(cond.lte), lt=_when(cond.lt)
            ),
        )
    if isinstance(cond, HasId):
        return qm.HasIdCondition(has_id=sorted(cond.ids))
    raise TypeError(f"unsupported filter condition {cond!r}")


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _weights(query: StoreQuery) -> list[float] | None:
    return list(query.weights) if query.weights else None


def _vectors(point: StorePoint) -> dict[str, Any]:
    vectors: dict[str, Any] = {DENSE: point.dense.tolist()}
    if point.sparse is not None:
        vectors[SPARSE] = qm.SparseVector(indices=point.sparse.indices, values=point.sparse.values)
    return vectors
