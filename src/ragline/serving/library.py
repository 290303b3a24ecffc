"""ragline from Python: ingest, search, ask, chat and evaluate over one settings tree.

    import ragline

    with ragline.Pipeline() as pipeline:               # settings found as the CLI finds them
        pipeline.ingest(["docs/"], collection="docs")
        hits = pipeline.search("point ids", k=5, collection="docs")
        result = pipeline.ask("How are point ids computed?", collection="docs")
        result.text, result.citations, result.cost_usd, result.latency_ms
        reply = pipeline.chat([ragline.Message("user", "Say hello.")])

The same services the CLI and the API call, so a script gets what `ragline search` and
`ragline ask` print. Constructing a pipeline loads nothing: the embedder, stores, router and
reranker load on first use, and are reused by later calls. Every call runs in a cost scope of
its own: its events go to the ledger, and its cost is returned.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ragline.core.chat import ChatRequest, Completion, Message
from ragline.core.costs import cost_scope
from ragline.core.index import Hit
from ragline.rag.answer import Answer, Citation
from ragline.rag.filter_parse import parse_filters
from ragline.rag.ingest import IngestReport, Progress
from ragline.rag.rerank import NoReranker, Reranker, make_reranker
from ragline.rag.retrieve import Mode, Retriever
from ragline.rag.search import search
from ragline.rag.store.protocol import VectorStore
from ragline.serving.settings import Settings, load_settings
from ragline.serving.wiring import Accounting, build_chat_router, build_embedder, build_store


class CollectionNotFound(LookupError):
    """A search or question on a collection that was never ingested; the message says how."""


@dataclass(frozen=True, slots=True)
class Result:
    """An answer to `Pipeline.ask`: its text, citations, what it cost and how long it took.

    result.text, result.citations[0].document, result.cost_usd, result.latency_ms
    """

    question: str
    answer: Answer
    hits: tuple[Hit, ...]
    cost_usd: float
    latency_ms: float
    request_id: str

    @property
    def text(self) -> str:
        return self.answer.text

    @property
    def citations(self) -> tuple[Citation, ...]:
        return self.answer.citations

    @property
    def abstained(self) -> bool:
        return self.answer.abstained


class Pipeline:
    """ragline's RAG pipeline and router over one settings tree (see the module docstring).

    Pipeline()                                        # configs/default.yaml, $RAGLINE_CONFIG, env
    Pipeline(ragline.load_settings("serve.yaml"))     # a settings file
    Pipeline(retrieval={"top_k": 5})                  # overrides, as load_settings takes them
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        if settings is not None and overrides:
            settings = settings.model_copy(update=overrides)
        self.settings = settings if settings is not None else load_settings(**overrides)
        self._costs: Accounting | None = None
        self._stores: dict[str, VectorStore] = {}
        self._parts: dict[str, Any] = {}

    # -- the parts, loaded on first use ------------------------------------------------------

    @property
    def costs(self) -> Accounting:
        if self._costs is None:
            self._costs = Accounting(self.settings)
        return self._costs

    @property
    def embedder(self) -> Any:
        """The configured dense embedder (metered), loaded on its first use."""
        if "embedder" not in self._parts:
            self._parts["embedder"] = build_embedder(self.settings, self.costs)
        return self._parts["embedder"]

    @property
    def router(self) -> Any:
        """The configured LLM router (`ragline.Router`)."""
        if "router" not in self._parts:
            self._parts["router"] = build_chat_router(self.settings, self.costs)
        return self._parts["router"]

    @property
    def reranker(self) -> Reranker:
        if "reranker" not in self._parts:
            self._parts["reranker"] = make_reranker(self.settings.rerank)
        reranker: Reranker = self._parts["reranker"]
        return reranker

    def store(self, collection: str | None = None) -> VectorStore:
        """The open store of `collection` (default store.collection)."""
        name = collection or self.settings.store.collection
        if name not in self._stores:
            self._stores[name] = build_store(self.settings, name, self.costs)
        return self._stores[name]

    def retriever(self, collection: str | None = None, mode: Mode | None = None) -> Retriever:
        """A retriever over an existing collection; `CollectionNotFound` if there is none."""
        from ragline.rag.embed.sparse import Bm25Encoder

        store = self.store(collection)
        if not store.exists():
            raise CollectionNotFound(
                f"collection {store.collection!r} does not exist; ingest into it first "
                f"(pipeline.ingest(paths, collection={store.collection!r}) or ragline ingest "
                f"PATH --collection {store.collection})"
            )
        retrieval = self.settings.retrieval
        if mode is not None:
            retrieval = retrieval.model_copy(update={"mode": mode})
        return Retriever(store, self.embedder, Bm25Encoder(self.settings.sparse), retrieval)

    # -- what a user calls ---------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        collection: str | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Load, chunk, embed and store `paths` (files or folders) into `collection`, as
        `ragline ingest` does: unchanged files are skipped, changed ones replaced."""
        from ragline.serving.services.ingest import ingest_paths

        store = self.store(collection)
        with cost_scope(f"ingest-{uuid.uuid4().hex[:12]}"):
            return ingest_paths(
                self.settings,
                self.costs,
                store,
                [Path(p) for p in paths],
                progress,
                embedder=self.embedder,
            )

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        mode: Mode | None = None,
        filters: Sequence[str] = (),
        collection: str | None = None,
        per_document: int | None = None,
        rerank: bool = True,
    ) -> list[Hit]:
        """The top `k` chunks for `query` (distinct documents unless `per_document` says
        otherwise), as `ragline search` ranks them; `filters` as the CLI's --filter."""
        retriever = self.retriever(collection, mode)
        reranker = self.reranker if rerank else NoReranker()
        where = parse_filters(list(filters))
        limit = k or retriever.config.top_k
        with cost_scope():
            [found] = search(retriever, reranker, [("1", query)], where, limit, per_document)
        return list(found.hits)

    def ask(
        self,
        question: str,
        *,
        collection: str | None = None,
        filters: Sequence[str] = (),
        k: int | None = None,
        history: Sequence[Message] = (),
    ) -> Result:
        """A grounded answer with verified citations (or an abstention), as `ragline ask`; with
        `history` (earlier turns) the question is condensed with them before retrieval."""
        from ragline.serving.services.chat_qa import answer_conversation, condenser_for
        from ragline.serving.services.query import BoundRouter, ask

        retriever = self.retriever(collection)
        where = parse_filters(list(filters))
        started = time.perf_counter()
        with cost_scope() as scope:
            model = BoundRouter(self.router, key="library", request_id=scope.request_id)
            if history:
                messages = (*history, Message("user", question))
                condenser = model if condenser_for(self.router) else None
                answer = self.settings.answer
                asked = answer_conversation(
                    messages, retriever, model, answer, self.reranker, condenser, where
                )
            else:
                asked = ask(
                    question, retriever, model, self.settings.answer, where, k, self.reranker
                )
        return Result(
            asked.question,
            asked.answer,
            tuple(asked.hits),
            float(scope.total_usd()),
            (time.perf_counter() - started) * 1000,
            scope.request_id,
        )

    def chat(
        self,
        messages: Sequence[Message],
        *,
        model: str | None = None,
        max_tokens: int = 512,
        temperature: float | None = None,
    ) -> Completion:
        """One completion through the router (or `model`, "provider:model", alone);
        `Completion.cost_usd` is what it cost."""
        router = self.router if model is None else self._named(model)
        request = ChatRequest(
            messages=tuple(messages), max_tokens=max_tokens, temperature=temperature
        )
        with cost_scope():
            done: Completion = router.complete(request)
        return done

    def evaluate(self, suite: str | Path, *, track: bool = True) -> Any:
        """Run an eval suite (configs/evals/*.yaml) as `ragline eval` does; its `EvalRun`."""
        from rich.console import Console

        from ragline.serving.services.evals.run import run_eval

        return run_eval(Path(suite), self.settings, Console(stderr=True), track=track)

    def _named(self, model: str) -> Any:
        key = f"router:{model}"
        if key not in self._parts:
            self._parts[key] = build_chat_router(self.settings, self.costs, model)
        return self._parts[key]

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the stores and routers and write what the ledger buffers."""
        for store in self._stores.values():
            store.close()
        self._stores.clear()
        for name, part in list(self._parts.items()):
            if name.startswith("router"):
                part.close()
        self._parts.clear()
        if self._costs is not None:
            self._costs.close()
            self._costs = None

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
