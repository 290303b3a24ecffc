"""Alert rules on a real SQLite state table and a real webhook server on loopback."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from ragline.mltrack.config import MltrackConfig
from ragline.mltrack.errors import GateRefused
from ragline.mltrack.monitor.alerts import AlertAction, AlertEngine, AlertRule, Fired, Observation
from ragline.mltrack.monitor.retrain import RetrainOutcome, Trigger
from ragline.mltrack.tracking.mlflow_store import MlflowStore

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PSI = AlertRule(name="psi-high", metric="psi", op=">", threshold=0.25, cooldown_s=600)


def store(folder: Path) -> MlflowStore:
    return MlflowStore(MltrackConfig(), folder)


def drifted(value: float = 0.4, key: str = "age") -> list[Observation]:
    return [Observation("psi", value, key=key)]


def test_fires_once_across_checks_and_engines(tmp_path: Path) -> None:
    first = AlertEngine([PSI], store(tmp_path))
    fired = first.evaluate(drifted(), NOW)
    assert [(f.rule, f.key, f.count) for f in fired] == [("psi-high", "age", 1)]
    for minute in range(1, 5):
        assert first.evaluate(drifted(), NOW + timedelta(minutes=minute)) == []
    # a second process on the same database sees the state and stays quiet
    second = AlertEngine([PSI], store(tmp_path))
    assert second.evaluate(drifted(), NOW + timedelta(minutes=5)) == []
    # another key is its own alert
    assert [f.key for f in second.evaluate(drifted(key="hours"), NOW)] == ["hours"]
    rows = second.history("psi-high")
    assert [(r.key, r.action) for r in rows] == [
        ("age", "fire"), ("age", "log"), ("hours", "fire"), ("hours", "log"),
    ]  # fmt: skip


def test_concurrent_engines_fire_a_breach_once(tmp_path: Path) -> None:
    AlertEngine([PSI], store(tmp_path)).history()  # tables exist before the race
    engines = [AlertEngine([PSI], store(tmp_path)) for _ in range(6)]
    barrier, results = threading.Barrier(len(engines)), [0] * len(engines)

    def check(i: int) -> None:
        barrier.wait()
        results[i] = len(engines[i].evaluate(drifted(), NOW))

    threads = [threading.Thread(target=check, args=(i,)) for i in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 1
    assert [r.action for r in engines[0].history()] == ["fire", "log"]
    for engine in engines:
        engine.store.close()


def test_fires_again_after_cooldown(tmp_path: Path) -> None:
    engine = AlertEngine([PSI], store(tmp_path))
    assert len(engine.evaluate(drifted(), NOW)) == 1
    assert engine.evaluate(drifted(), NOW + timedelta(seconds=599)) == []
    again = engine.evaluate(drifted(0.5), NOW + timedelta(seconds=600))
    assert [(f.count, f.value) for f in again] == [(2, 0.5)]


def test_recovery_resets_so_the_next_breach_fires_at_once(tmp_path: Path) -> None:
    engine = AlertEngine([PSI], store(tmp_path))
    assert len(engine.evaluate(drifted(), NOW)) == 1
    assert engine.evaluate(drifted(0.1), NOW + timedelta(seconds=10)) == []  # recovered
    back = engine.evaluate(drifted(), NOW + timedelta(seconds=20))
    assert [f.count for f in back] == [2]
    assert engine.evaluate(drifted(), NOW + timedelta(seconds=30)) == []


def test_ops_and_metric_matching(tmp_path: Path) -> None:
    rules = [
        AlertRule(name="auc-low", metric="roc_auc", op="<", threshold=0.85),
        AlertRule(name="auc-floor", metric="roc_auc", op="<=", threshold=0.80),
        AlertRule(name="lat", metric="p95_ms", op=">=", threshold=500, severity="critical"),
    ]
    engine = AlertEngine(rules, store(tmp_path))
    obs = [Observation("roc_auc", 0.80, "churn"), Observation("p95_ms", 499.0, "api")]
    assert sorted(f.rule for f in engine.evaluate(obs, NOW)) == ["auc-floor", "auc-low"]
    assert [f.severity for f in engine.evaluate([Observation("p95_ms", 500.0)], NOW)] == [
        "critical"
    ]


def test_rules_validate_their_actions() -> None:
    with pytest.raises(ValidationError, match="webhook action needs an http"):
        AlertAction(kind="webhook")
    with pytest.raises(ValidationError, match="names the registered model"):
        AlertAction(kind="retrain")
    with pytest.raises(ValidationError):
        AlertRule(name="x", metric="psi", op="==", threshold=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unique"):
        AlertEngine([PSI, PSI], store(Path("unused")))


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, object]] = []  # noqa: RUF012 - shared with the test on purpose
    status = 204

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(Hook.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hook_url() -> Iterator[str]:
    Hook.received, Hook.status = [], 204
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
    thread.join()


def test_webhook_posts_the_firing(tmp_path: Path, hook_url: str) -> None:
    rule = PSI.model_copy(update={"actions": (AlertAction(kind="webhook", url=hook_url),)})
    fired = AlertEngine([rule], store(tmp_path)).evaluate(drifted(0.42), NOW)
    assert [(o.kind, o.ok) for o in fired[0].outcomes] == [("webhook", True)]
    assert "HTTP 204" in fired[0].outcomes[0].detail
    assert Hook.received == [
        {"rule": "psi-high", "key": "age", "metric": "psi", "value": 0.42, "op": ">",
         "threshold": 0.25, "severity": "warning", "ts": NOW.isoformat(), "count": 1},
    ]  # fmt: skip


def test_failing_webhooks_are_recorded_not_raised(
    tmp_path: Path, hook_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    Hook.status = 500
    actions = (
        AlertAction(kind="webhook", url=hook_url),
        AlertAction(kind="webhook", url="http://127.0.0.1:1/nobody-listens"),
        AlertAction(kind="log"),
    )
    engine = AlertEngine([PSI.model_copy(update={"actions": actions})], store(tmp_path))
    with caplog.at_level(logging.WARNING, logger="ragline.mltrack.monitor.alerts"):
        fired = engine.evaluate(drifted(), NOW)
    outcomes = fired[0].outcomes
    assert [(o.kind, o.ok) for o in outcomes] == [
        ("webhook", False), ("webhook", False), ("log", True),
    ]  # fmt: skip
    assert "HTTP 500" in outcomes[0].detail and "failed" in outcomes[1].detail
    assert "webhook failed" in caplog.text and "alert psi-high on 'age'" in caplog.text
    rows = engine.history()
    assert [(r.action, r.ok) for r in rows] == [
        ("fire", True), ("webhook", False), ("webhook", False), ("log", True),
    ]  # fmt: skip


def test_retrain_action_calls_the_models_callback(tmp_path: Path) -> None:
    calls: list[tuple[str, Fired]] = []

    def start(model: str, fired: Fired) -> RetrainOutcome:
        calls.append((model, fired))
        trigger = Trigger("performance", f"{fired.metric}={fired.value}")
        return RetrainOutcome(trigger, "EXP-2026-11-26-009", 7, "staging", None)

    def refuse(model: str, fired: Fired) -> RetrainOutcome:
        raise GateRefused("refused by gate beats-production")

    rules = [
        AlertRule(name="auc-low", metric="roc_auc", op="<", threshold=0.85,
                  actions=(AlertAction(kind="retrain", model="churn"),)),
        AlertRule(name="auc-low-2", metric="roc_auc", op="<", threshold=0.85,
                  actions=(AlertAction(kind="retrain", model="other"),
                           AlertAction(kind="retrain", model="unknown"))),
    ]  # fmt: skip
    engine = AlertEngine(rules, store(tmp_path), on_retrain={"churn": start, "other": refuse})
    fired = engine.evaluate([Observation("roc_auc", 0.8, "churn")], NOW)
    assert [c[0] for c in calls] == ["churn"] and calls[0][1].rule == "auc-low"
    first, second = fired[0].outcomes, fired[1].outcomes
    assert first[0].ok and "version 7 in staging" in first[0].detail
    assert [o.ok for o in second] == [False, False]
    assert "GateRefused" in second[0].detail and "no retrain callback" in second[1].detail
