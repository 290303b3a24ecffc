"""What the routes work with: pipelines (main settings and one per traffic arm), shared models
and stores, ingest jobs, traffic, readiness and stats.

    services = Services(settings, sink=metrics)      # cheap: nothing loaded; bad arms fail here
    services.warm_up()                               # embedder (torch + ONNX), store, routers
    pipeline = services.pipeline(services.traffic.choose("alice") if services.traffic else None)
    pipeline.router.complete(request, key="alice", request_id=rid)
    retriever = pipeline.retriever("docs")           # CollectionMissing when not ingested yet

An arm's settings are the main settings with the arm's `overrides()` layered on top and
validated as a whole, so a bad override fails at start-up with its key path. Arms can change
`llm`, `retrieval`, `answer` and `rerank` only, so every pipeline shares one embedding model
and one open store per collection (one loaded model per process, not per arm).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from pydantic import ValidationError
from starlette.requests import Request

from ragline.core.costs import CostSink, work_event
from ragline.core.embedding import Embedder
from ragline.core.index import CollectionSpec
from ragline.llm_router.errors import BadRequest, BudgetExceeded, ProviderError, RateLimited
from ragline.llm_router.router import Router
from ragline.mltrack.monitor.prediction_log import PredictionLog, PredictionRecord
from ragline.rag.embed.sparse import Bm25Encoder
from ragline.rag.errors import RagError
from ragline.rag.ingest import IngestReport, Progress
from ragline.rag.rerank import Reranker, make_reranker
from ragline.rag.retrieve import Mode, Retriever
from ragline.rag.store.protocol import VectorStore
from ragline.serving.api.context import ANONYMOUS
from ragline.serving.api.jobs import IngestJobs
from ragline.serving.api.metrics import dependency_parts
from ragline.serving.api.predictor import Prediction, Predictor
from ragline.serving.errors import ConfigError
from ragline.serving.serve_config import Arm
from ragline.serving.services.ingest import ingest_paths
from ragline.serving.settings import Settings, deep_merge
from ragline.serving.wiring import (
    Accounting,
    build_chat_router,
    build_conversations,
    build_embedder,
    build_store,
)

if TYPE_CHECKING:
    from ragline.mltrack.rollout.policy import MetricSignals
    from ragline.mltrack.rollout.state import RolloutState
    from ragline.serving.api.traffic.split import Traffic
    from ragline.serving.conversations.protocol import ConversationStore

log = logging.getLogger(__name__)

ROUTER_ALIASES = frozenset({"ragline", "default", ""})  # chat `model` values meaning the router
_SEVERITY = {"closed": 0, "half_open": 1, "open": 2}
# Errors that are the caller's doing (4xx), not a failure of the arm that served the request.
_CALLER_ERRORS: tuple[type[BaseException], ...] = (BadRequest, BudgetExceeded, RateLimited)


class CollectionMissing(LookupError):
    """A collection that has not been ingested yet; the message says how to create it.

    raise CollectionMissing("docs")    # routes answer 404 with the message
    """

    def __init__(self, collection: str) -> None:
        super().__init__(
            f"collection {collection!r} does not exist; ingest into it first "
            f"(POST /v1/ingest with collection {collection!r}, or ragline ingest PATH "
            f"--collection {collection})"
        )
        self.collection = collection


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """Router counters summed over every pipeline; breakers: deployment -> worst state.

    ServiceStats(exact_hits=3, semantic_hits=0, calls=10, breakers={"vllm:small": "open"})
    """

    exact_hits: int
    semantic_hits: int
    calls: int
    breakers: dict[str, str]


class _Shared:
    """The parts every pipeline shares: the cost accounting (ledger, prices, the one sink), the
    metered embedder, the sparse encoder, one open metered store per collection."""

    def __init__(self, settings: Settings, sink: CostSink | None) -> None:
        self.settings = settings
        self.costs = Accounting(settings, *(() if sink is None else (sink,)))
        self.embedder = build_embedder(settings, self.costs)
        self.sparse = Bm25Encoder(settings.sparse)
        self.probe = build_store(settings)  # never opened: readiness checks only
        self._stores: dict[str, VectorStore] = {}
        self._lock = threading.Lock()

    def store(self, collection: str) -> VectorStore:
        """The open store of an existing collection; CollectionMissing otherwise."""
        with self._lock:
            store = self._stores.get(collection)
            if store is not None:
                return store
            store = build_store(self.settings, collection, self.costs)
            if not store.exists():
                raise CollectionMissing(collection)
            return self._keep(collection, store)

    def writable_store(self, collection: str) -> VectorStore:
        """The store of `collection`, created if missing (for ingest jobs)."""
        dims = self.embedder.dims  # may load the model: before taking the lock
        with self._lock:
            store = self._stores.get(collection) or build_store(
                self.settings, collection, self.costs
            )
            if not store.exists():
                store.ensure_collection(CollectionSpec(dims=dims))
            return self._keep(collection, store)

    def _keep(self, collection: str, store: VectorStore) -> VectorStore:
        # Opening under the lock keeps one engine handle per collection: two Edge handles on
        # one shard directory would not see each other's writes.
        store.count()
        self._stores[collection] = store
        return store

    def stores(self) -> list[VectorStore]:
        with self._lock:
            return list(self._stores.values())

    def router(self, settings: Settings, model: str | None = None) -> Router:
        """The router of `settings` (an arm's or the main ones); `model` alone when given."""
        return build_chat_router(settings, self.costs, model, embedder=self.embedder)


class Pipeline:
    """One configuration's way of answering: its router (plus a router per named model), its
    retrieval, rerank and answer settings; models and stores come from the shared parts.

    pipeline.router.complete(request, key="alice")
    pipeline.chat_model("extractive")          # a configured model alone; None if not served
    pipeline.retriever("docs", mode="dense").search("why does dough rise?")
    """

    def __init__(self, arm: str | None, settings: Settings, shared: _Shared) -> None:
        self.arm = arm
        self.settings = settings
        self._shared = shared
        self.router = shared.router(settings)
        self._named: dict[str, Router] = {}
        self._reranker: Reranker | None = None
        self._lock = threading.Lock()

    def served_models(self) -> tuple[str, ...]:
        """The "provider:model" names a chat request may ask for by name, in config order."""
        llm = self.settings.llm
        names = [llm.provider, *(d.model for d in llm.deployments), *llm.fallbacks]
        return tuple(dict.fromkeys(names))

    def chat_model(self, model: str) -> Router | None:
        """The router for a chat request's `model`: the pipeline's own for "ragline" (or
        "default", or empty), a router over that model alone for a served name, else None."""
        if model in ROUTER_ALIASES:
            return self.router
        if model not in self.served_models():
            return None
        with self._lock:
            router = self._named.get(model)
            if router is None:
                router = self._shared.router(self.settings, model)
                self._named[model] = router
            return router

    def retriever(self, collection: str | None = None, mode: Mode | None = None) -> Retriever:
        """A retriever over `collection` (default store.collection); CollectionMissing if absent."""
        store = self._shared.store(collection or self.settings.store.collection)
        retrieval = self.settings.retrieval
        if mode is not None:
            retrieval = retrieval.model_copy(update={"mode": mode})
        return Retriever(store, self._shared.embedder, self._shared.sparse, retrieval)

    @property
    def reranker(self) -> Reranker:
        with self._lock:
            if self._reranker is None:
                self._reranker = make_reranker(self.settings.rerank)
            return self._reranker

    def routers(self) -> list[Router]:
        with self._lock:
            return [self.router, *self._named.values()]

    def warm_up(self) -> None:
        """Resolve every deployment (a typo in a provider name fails now) and load local
        weights; load a reranker."""
        for name, problem in self.router.warm_up().items():  # requests fall back past them
            log.warning("deployment %s cannot serve: %s", name, problem)
        warm = getattr(self.reranker, "warm_up", None)
        if callable(warm):
            warm()

    def close(self) -> None:
        for router in self.routers():
            router.close()


class Outcome:
    """Times one request and records it for its traffic arm once, when it ends.

    with services.outcome(arm):          # ok unless a server-side error escapes
        completion = router.complete(request)
    outcome.finish(error)                # or by hand, for a stream that ends later
    """

    def __init__(self, traffic: Traffic | None, arm: str | None) -> None:
        self._traffic, self._arm = traffic, arm
        self._started = time.perf_counter()
        self._done = False

    def finish(self, error: BaseException | None = None) -> None:
        if self._done or self._traffic is None:
            return
        self._done = True
        ok = error is None or isinstance(error, (*_CALLER_ERRORS, CollectionMissing))
        self._traffic.record(self._arm, ok, (time.perf_counter() - self._started) * 1000)

    def __enter__(self) -> Outcome:
        return self

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        self.finish(error)


class Services:
    """Everything the /v1 routes need, built once per process from the settings.

    services = Services(settings, sink=metrics)
    services.warm_up(); services.ready()       # (True, {"warm_up": "done", "store": "ok", ...})
    services.pipeline(None)                    # the main settings; an arm name for its variant
    services.jobs.submit("docs", [Path("corpus")])
    services.conversations.load("trip-42", "alice")   # server-side conversations (conversations:)
    services.close()
    """

    def __init__(self, settings: Settings, *, sink: CostSink | None = None) -> None:
        self.settings = settings
        self._shared = _Shared(settings, sink)
        self._pipelines: dict[str | None, Pipeline] = {None: Pipeline(None, settings, self._shared)}
        for where, arm in configured_arms(settings):
            arm_config = arm_settings(settings, arm, where)
            self._pipelines[arm.name] = Pipeline(arm.name, arm_config, self._shared)
        self.traffic: Traffic | None = build_traffic(settings)
        self.jobs = IngestJobs(self.ingest)
        self.predictor = Predictor(
            settings.ml, settings.data_dir, metric_source=self._rollout_metric
        )
        self._predictions: PredictionLog | None = None  # opened on the first prediction
        self._predictions_lock = threading.Lock()
        self.conversations: ConversationStore = build_conversations(settings)
        self._warm = "not started"

    @property
    def embedder(self) -> Embedder:
        """The one metered embedder every pipeline shares (POST /v1/embeddings serves it)."""
        return self._shared.embedder

    def collections(self) -> list[str]:
        """The collections of the store, sorted ([] when the store cannot be listed: GET
        /v1/models still answers with the other models)."""
        try:
            return sorted(self._shared.probe.list_collections())
        except Exception as exc:  # noqa: BLE001 - any store failure: list the rest
            log.warning("cannot list collections: %s: %s", type(exc).__name__, exc)
            return []

    def pipeline(self, arm: str | None) -> Pipeline:
        """The main pipeline (None) or a traffic arm's."""
        try:
            return self._pipelines[arm]
        except KeyError:
            known = [name for name in self._pipelines if name is not None]
            raise ValueError(f"no traffic arm {arm!r}; configured arms: {known}") from None

    def arm_for(self, caller: str, user: str | None) -> str | None:
        """The traffic arm of a request: sticky per API key; on a keyless server per the
        request's `user` field, else a random pick (no one to stick to)."""
        if self.traffic is None:
            return None
        key = caller
        if caller == ANONYMOUS:
            key = f"user:{user}" if user else uuid.uuid4().hex
        return self.traffic.choose(key)

    def outcome(self, arm: str | None) -> Outcome:
        """An `Outcome` recording the request for `arm` (a no-op without traffic config)."""
        return Outcome(self.traffic, arm)

    def warm_up(self) -> None:
        """Load the query embedder (the cached ONNX export; torch only when there is none, so
        the first ingest job may still load torch), open the default collection if it exists,
        resolve every pipeline's first deployment, open the model registry (POST /v1/predict).
        Failures show in `ready()`; a registry that is down only in the log and in predict's 503."""
        self._warm = "running"
        try:
            self._shared.embedder.warm_up()
            with contextlib.suppress(CollectionMissing):  # ready() reports it; ingest makes it
                self._shared.store(self.settings.store.collection)
            for pipeline in self._pipelines.values():
                pipeline.warm_up()
            self.predictor.warm_up()
        except (RagError, ProviderError, OSError, ValueError, ImportError) as exc:
            self._warm = f"failed ({type(exc).__name__}; see the server log)"
            log.error("warm-up failed: %s: %s", type(exc).__name__, exc)
            return
        self._warm = "done"

    def ready(self) -> tuple[bool, dict[str, str]]:
        """(ready, status per part). Ready once warm-up is done and the store answers; a missing
        default collection is reported but does not block (an ingest through the API makes it)."""
        backend = self._shared.embedder.query_backend
        embedder = f"loaded (queries on {backend})" if self._warm == "done" else "not loaded"
        parts = {"warm_up": self._warm, "embedder": embedder}
        probe = self._shared.probe
        try:
            probe.list_collections()
            parts["store"] = "ok"
            exists = probe.exists()
        except Exception as exc:  # noqa: BLE001 - any failure to answer means not ready
            # /ready is unauthenticated: the type only; the details go to the log.
            parts["store"] = f"unreachable ({type(exc).__name__})"
            log.warning("store readiness check failed: %s: %s", type(exc).__name__, exc)
        else:
            parts["collection"] = (
                "ok" if exists else f"missing: {probe.collection!r}, ingest into it"
            )
        # Telemetry stores and Redis are reported, never a 503: requests are answered
        # without them (rows spill to disk, limits and budgets fall back to this process).
        parts.update(dependency_parts())
        return self._warm == "done" and parts["store"] == "ok", parts

    def stats(self) -> ServiceStats:
        routers = [r for p in self._pipelines.values() for r in p.routers()]
        breakers: dict[str, str] = {}
        for router in routers:
            for name, state in router.parts.breaker.states().items():
                if _SEVERITY[state] >= _SEVERITY.get(breakers.get(name, "closed"), 0):
                    breakers[name] = state
        return ServiceStats(
            exact_hits=sum(r.stats.exact_hits for r in routers),
            semantic_hits=sum(r.stats.semantic_hits for r in routers),
            calls=sum(r.stats.calls for r in routers),
            breakers=dict(sorted(breakers.items())),
        )

    def ingest(self, collection: str, paths: Sequence[Path], progress: Progress) -> IngestReport:
        """Ingest `paths` into `collection` with the shared embedder and store (a job's work;
        the SQLite manifest is made in the job's thread)."""
        shared = self._shared
        store = shared.writable_store(collection)
        return ingest_paths(
            self.settings,
            shared.costs,
            store,
            paths,
            progress,
            embedder=shared.embedder,
            sparse=shared.sparse,
        )

    def record_prediction(self, model: str, rows: int, seconds: float) -> None:
        """A "prediction" cost event for `rows` predicted in `seconds`, billed to the request's
        cost scope."""
        usd = self._shared.costs.prices.prediction_cost(seconds)
        self._shared.costs.sink.record(work_event("prediction", model, rows, usd))

    def log_predictions(self, request_id: str, result: Prediction) -> None:
        """The served scores and labels into the prediction log (monitor.prediction_log), which
        `ragline monitor check` reads for prediction, label and concept drift."""
        predictions = self._prediction_log()
        if predictions is None:
            return
        labels = None if result.labels is None else tuple(str(v) for v in result.labels)
        predictions.record(
            PredictionRecord(
                time.time(),
                request_id,
                result.model,
                result.version,
                result.task,
                tuple(result.scores),
                labels,
            )
        )

    def _prediction_log(self) -> PredictionLog | None:
        config = self.settings.monitor.prediction_log
        if not config.enabled:
            return None
        with self._predictions_lock:
            if self._predictions is None:
                self._predictions = PredictionLog(config, self.settings.data_dir)
            return self._predictions

    def _rollout_metric(self, state: RolloutState) -> MetricSignals | None:
        """A rollout's labels signal, from the prediction log (None while it is disabled)."""
        from ragline.mltrack.rollout.labels import label_metric

        predictions = self._prediction_log()
        return label_metric(predictions, state) if predictions is not None else None

    def predictions_flush(self) -> int:
        """Write the prediction log's buffered rows now; returns how many (0: none logged)."""
        return self._predictions.flush() if self._predictions is not None else 0

    def costs_flush(self) -> int:
        """Write the ledger's buffered cost events now; returns how many."""
        return self._shared.costs.ledger.flush()

    def close(self) -> None:
        """Stop ingest jobs (within serve.shutdown_grace_s), then close routers and stores."""
        self.jobs.close(timeout_s=self.settings.serve.shutdown_grace_s)
        for pipeline in self._pipelines.values():
            pipeline.close()
        for store in self._shared.stores():
            store.close()
        self._shared.costs.close()
        self.predictor.close()
        if self._predictions is not None:
            self._predictions.close()
        self.conversations.close()


def get_services(request: Request) -> Services:
    """The app's Services (set by `create_app` on `app.state.services`)."""
    services = getattr(request.app.state, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("app.state.services is not set; build the app with create_app()")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def configured_arms(settings: Settings) -> Iterator[tuple[str, Arm]]:
    """(key path, arm) for each A/B arm or the canary arm."""
    traffic = settings.serve.traffic
    if traffic.ab is not None:
        for i, arm in enumerate(traffic.ab.arms):
            yield f"serve.traffic.ab.arms.{i}", arm
    if traffic.canary is not None:
        yield "serve.traffic.canary.arm", traffic.canary.arm


def arm_settings(settings: Settings, arm: Arm, where: str) -> Settings:
    """The main settings with `arm`'s overrides layered on; ConfigError names the bad keys."""
    merged = deep_merge(settings.model_dump(), arm.overrides())
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        problems = [
            f"{where}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        ]
        raise ConfigError(
            f"traffic arm {arm.name!r} overrides settings badly; fix these keys:\n  "
            + "\n  ".join(problems)
        ) from None


def build_traffic(settings: Settings) -> Traffic | None:
    """The A/B or canary splitter, sharing its state in Redis when llm.state is redis."""
    config = settings.serve.traffic
    if config.ab is None and config.canary is None:
        return None
    from ragline.serving.api.traffic.split import RedisTrafficStore, Traffic

    if settings.llm.state != "redis":
        return Traffic(config)
    import redis

    client = redis.Redis.from_url(settings.llm.redis_url, socket_timeout=2.0)
    return Traffic(config, RedisTrafficStore(client))
