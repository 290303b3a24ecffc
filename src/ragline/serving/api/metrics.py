"""Prometheus metrics of one `ragline serve` process, in a registry of its own.

    ragline_requests_total{route,method,status}   requests answered
    ragline_request_seconds{route}                latency histogram
    ragline_tokens_total{model,direction}         tokens the models read (in) and wrote (out)
    ragline_cost_usd_total{model}                 priced cost of model calls
    ragline_cache_hits_total{kind}                exact / semantic cache hits
    ragline_semantic_audits_total{model}          semantic hits re-checked against the model
    ragline_semantic_false_hits_total{model}      ...that the model contradicted (not served)
    ragline_semantic_false_hit_rate{model}        false hits / audits since start
    ragline_breaker_state{deployment}             0 closed, 1 half_open, 2 open
    ragline_ready                                 1 once warm and every part is ready
    ragline_dependency_degraded{dependency}       1 while a dependency is down and requests
                                                  are answered without it (request_log,
                                                  cost_ledger, redis)
    ragline_telemetry_records_total{store,outcome}  rows of the request log / cost ledger:
                                                  written, spilled (to the local file while the
                                                  database is down), replayed, dropped
    ragline_redis_fallbacks_total{store}          calls answered by per-process state while
                                                  Redis was down (rate limits, budgets, breakers)

`route` is the route template (/v1/ingest/{job_id}) or "unmatched", never the raw path, so a
client cannot grow the label set. With `--workers N` each worker process keeps its own
registry and a scrape sees one worker; aggregating them (prometheus_client's multiprocess
mode) is a follow-up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ragline.core.costs import AUDITS, FALSE_HIT, CostEvent
from ragline.llm_router.guards.fallback import open_fallbacks
from ragline.mltrack.sql_batch import open_tables

BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}
_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_TOKEN_KINDS = ("llm", "embedding")


class Metrics:
    """The serving metrics; also a `CostSink`, so routers report tokens, cost and cache hits.

    metrics = Metrics()
    metrics.observe_request("/v1/query", "POST", 200, 0.042)
    metrics.record(cost_event)                    # from the router, as its sink
    body, content_type = metrics.render()
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "ragline_requests", "Requests answered", ["route", "method", "status"], registry=r
        )
        self._latency = Histogram(
            "ragline_request_seconds", "Request latency", ["route"], buckets=_BUCKETS_S, registry=r
        )
        self._tokens = Counter(
            "ragline_tokens",
            "Model tokens by direction (in, out)",
            ["model", "direction"],
            registry=r,
        )
        self._cost = Counter("ragline_cost_usd", "Priced cost in USD", ["model"], registry=r)
        self._cache_hits = Counter("ragline_cache_hits", "Cache hits", ["kind"], registry=r)
        self._audits = Counter(
            "ragline_semantic_audits", "Semantic hits re-checked", ["model"], registry=r
        )
        self._false_hits = Counter(
            "ragline_semantic_false_hits", "Audited hits found wrong", ["model"], registry=r
        )
        self._false_rate = Gauge(
            "ragline_semantic_false_hit_rate", "False hits per audit", ["model"], registry=r
        )
        self._audit_lock = threading.Lock()
        self._audit_counts: dict[str, tuple[int, int]] = {}  # model -> (audits, false hits)
        self._breaker = Gauge(
            "ragline_breaker_state", "0 closed, 1 half_open, 2 open", ["deployment"], registry=r
        )
        self._ready = Gauge("ragline_ready", "1 when ready to serve", registry=r)
        r.register(DependencyCollector())

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.labels(route=route, method=method, status=str(status)).inc()
        self._latency.labels(route=route).observe(seconds)

    def record(self, event: CostEvent) -> None:
        """CostSink: a cache hit counts as a hit (the tokens were not processed again); an
        audited semantic hit also as an audit, a false hit as an audit only (the model's own
        answer was served: its call is an event of its own)."""
        if event.cache in AUDITS:
            false_hit = event.cache == FALSE_HIT
            self._audit(event.model, false_hit=false_hit)
            if not false_hit:
                self._cache_hits.labels(kind="semantic").inc()
            return
        if event.cache:
            self._cache_hits.labels(kind=event.cache).inc()
            return
        if event.kind in _TOKEN_KINDS:
            self._tokens.labels(model=event.model, direction="in").inc(event.tokens_in)
            self._tokens.labels(model=event.model, direction="out").inc(event.tokens_out)
        if event.usd:
            self._cost.labels(model=event.model).inc(float(event.usd))

    def _audit(self, model: str, *, false_hit: bool) -> None:
        with self._audit_lock:
            audits, false_hits = self._audit_counts.get(model, (0, 0))
            audits, false_hits = audits + 1, false_hits + false_hit
            self._audit_counts[model] = (audits, false_hits)
            self._false_rate.labels(model=model).set(false_hits / audits)
        self._audits.labels(model=model).inc()
        if false_hit:
            self._false_hits.labels(model=model).inc()

    def observe_services(self, breakers: Mapping[str, str], ready: bool) -> None:
        """Gauges from the services' current state (called on every scrape)."""
        self._breaker.clear()  # a deployment no longer configured leaves the output
        for deployment, state in breakers.items():
            self._breaker.labels(deployment=deployment).set(BREAKER_VALUES.get(state, 2))
        self._ready.set(1 if ready else 0)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def dependency_parts() -> dict[str, str]:
    """/ready's parts for the dependencies requests can do without: each open telemetry table
    ("request_log", "cost_ledger") and Redis, "ok" or "degraded: ..." (never a 503)."""
    parts: dict[str, str] = {}
    for table in open_tables():  # one table of a kind is degraded: the part is
        name = _part(table.what)
        if table.degraded or name not in parts:
            parts[name] = table.detail
    fallbacks = open_fallbacks()
    if fallbacks:
        degraded = [f for f in fallbacks if f.degraded]
        whats = ", ".join(sorted({f.what for f in degraded}))
        parts["redis"] = (
            f"{degraded[0].detail.split(';')[0]}; {whats} are per process" if degraded else "ok"
        )
    return parts


def _part(what: str) -> str:
    return what.removeprefix("the ").replace(" ", "_")  # "the cost ledger" -> "cost_ledger"


class DependencyCollector(Collector):
    """Reads the process's telemetry tables and Redis fallbacks at each scrape."""

    def collect(self) -> Iterator[Metric]:
        degraded = GaugeMetricFamily(
            "ragline_dependency_degraded",
            "1 while a dependency is down and requests are answered without it",
            labels=["dependency"],
        )
        records = CounterMetricFamily(
            "ragline_telemetry_records",
            "Telemetry rows by outcome (written, spilled, replayed, dropped)",
            labels=["store", "outcome"],
        )
        fallbacks = CounterMetricFamily(
            "ragline_redis_fallbacks",
            "Calls answered by per-process state while Redis was down",
            labels=["store"],
        )
        down: dict[str, bool] = {}
        counts: dict[tuple[str, str], int] = {}
        for table in open_tables():
            name = _part(table.what)
            down[name] = down.get(name, False) or table.degraded
            for outcome in ("written", "spilled", "replayed", "dropped"):
                key = (name, outcome)
                counts[key] = counts.get(key, 0) + int(getattr(table, outcome))
        calls: dict[str, int] = {}
        for fallback in open_fallbacks():
            down["redis"] = down.get("redis", False) or fallback.degraded
            calls[fallback.what] = calls.get(fallback.what, 0) + fallback.fallbacks
        for name, is_down in sorted(down.items()):
            degraded.add_metric([name], 1.0 if is_down else 0.0)
        for (store, outcome), value in sorted(counts.items()):
            records.add_metric([store, outcome], value)
        for store, value in sorted(calls.items()):
            fallbacks.add_metric([store], value)
        yield from (degraded, records, fallbacks)
