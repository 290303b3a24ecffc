"""Cost events for the API's non-LLM work, so one request's cost breaks down in the ledger.

    costs = WorkCosts(settings, sink)                 # sink: the ledger (and costs.jsonl)
    costs.retrieval(rid, "alice", "docs", work)       # query embedding + vector-store queries
    costs.prediction(rid, "alice", "churn:3", rows=20, seconds=0.004)

The router already records each model call under the request id it is given; these events use
the same id, so `ragline costs breakdown RID` splits a /v1/query into model calls, embedding and
vector DB, summing exactly to its total. Prices come from `ml.ledger` (0 by default: embedded
engines on your own CPU cost nothing extra, but the events still count the work).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from llm_router.costs import CostSink
from mltrack.ledger_report import NANO
from serving.ask_cmd import RetrievalWork
from serving.ledger_sink import embedding_cost, embedding_event, prediction_event, vector_event
from serving.settings import Settings


class WorkCosts:
    """Records the cost events of retrieval and prediction work to `sink`."""

    def __init__(self, settings: Settings, sink: CostSink) -> None:
        self._settings = settings
        self._prices = settings.ml.ledger
        self._sink = sink

    def retrieval(self, request_id: str, key: str, collection: str, work: RetrievalWork) -> None:
        """An embedding event (query-embedding seconds) and a vector-DB event (queries)."""
        model = f"embedding:{self._settings.embedding.model}"
        self._sink.record(
            embedding_event(
                model, work.embed_s, self._prices.embedding_usd_per_hour, request_id, key=key
            )
        )
        price = self._prices.vector_db_usd_per_1k_ops * work.store_queries / Decimal(1000)
        usd = price.quantize(NANO, rounding=ROUND_HALF_EVEN)
        store = f"{self._settings.store.backend}:{collection}"
        self._sink.record(vector_event(store, work.store_queries, usd, request_id, key=key))

    def prediction(
        self, request_id: str, key: str, model: str, *, rows: int, seconds: float
    ) -> None:
        """A prediction event: `rows` predicted in `seconds` of compute."""
        usd = embedding_cost(seconds, self._prices.prediction_usd_per_hour)
        self._sink.record(prediction_event(model, rows, usd, request_id, key=key))
