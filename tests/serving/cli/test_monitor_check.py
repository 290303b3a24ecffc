"""`ragline monitor check | retrain | run` end to end: a real request log and ledger on SQLite,
alert webhooks to a real HTTP server on 127.0.0.1, and a retrain on real UCI Adult rows."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any, ClassVar

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from ragline.core.costs import CostEvent
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.mltrack.monitor.config import RequestLogConfig
from ragline.mltrack.monitor.request_log import RequestLog, RequestRecord
from ragline.serving.cli.app import app

Invoke = Callable[..., tuple[int, str]]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / ".ragline"
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(folder))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    return folder


def invoke(config: dict[str, Any] | None, folder: Path, *args: str) -> tuple[int, str]:
    argv: list[str] = []
    if config is not None:
        path = folder / "monitor.yaml"
        path.write_text(yaml.safe_dump(config))
        argv = ["--config", str(path)]
    result = CliRunner().invoke(app, [*argv, "monitor", *args])
    return result.exit_code, result.output


def traffic(data_dir: Path, hours_ago: float, n: int, latency_ms: float, errors: int = 0) -> None:
    """`n` requests spread over the hour that ended `hours_ago` hours ago."""
    rng = np.random.default_rng(int(hours_ago * 10))
    end = time.time() - hours_ago * 3600
    with RequestLog(RequestLogConfig(), data_dir) as log:
        for i, latency in enumerate(rng.gamma(4.0, latency_ms / 4.0, n)):
            status = 500 if i < errors else 200
            log.record(RequestRecord(end - 3590 + i * 3500 / n, f"r{hours_ago}-{i}", "/v1/query",
                                     "POST", status, float(latency)))  # fmt: skip


def spend(data_dir: Path, hours_ago: float, usd: str) -> None:
    with Ledger(LedgerConfig(), data_dir) as ledger:
        ts = time.time() - hours_ago * 3600 - 60
        ledger.record(
            CostEvent("llm", "openai:gpt-4o-mini", 100, 10, 0, 110, Decimal(usd), "x", ts)
        )


@pytest.mark.integration
def test_steady_traffic_is_green(data_dir: Path, tmp_path: Path) -> None:
    traffic(data_dir, 1, 200, 40.0)
    traffic(data_dir, 0, 200, 40.0)
    code, output = invoke(None, tmp_path, "check", "--window", "1h")
    assert code == 0, output
    assert "200 requests" in output and "latency_p95_ms" in output and "critical" not in output


@pytest.mark.integration
def test_slow_and_failing_traffic_is_critical(data_dir: Path, tmp_path: Path) -> None:
    traffic(data_dir, 1, 200, 40.0)
    traffic(data_dir, 0, 200, 120.0, errors=20)
    spend(data_dir, 1, "0.10")
    spend(data_dir, 0, "0.50")
    code, output = invoke(None, tmp_path, "check", "--window", "1h", "--json")
    assert code == 1, output
    body = json.loads(output)
    by_name = {m["name"]: m for m in body["metrics"]}
    assert body["severity"] == "critical"
    assert by_name["latency_p95_ms"]["severity"] == "critical"
    assert by_name["error_rate"]["current"] == pytest.approx(0.1)
    assert by_name["cost_usd_per_hour"]["current"] == pytest.approx(0.5)
    assert by_name["cost_usd_per_hour"]["severity"] == "critical"  # 5x the reference burn


@pytest.mark.integration
def test_empty_log_is_insufficient_data(data_dir: Path, tmp_path: Path) -> None:
    code, output = invoke(None, tmp_path, "check")
    assert code == 0, output
    assert "0 requests" in output and output.rstrip().endswith("insufficient_data")
    code, output = invoke(None, tmp_path, "check", "--json")
    body = json.loads(output)
    assert body["severity"] == "insufficient_data"
    reasons = {m["name"]: m["reason"] for m in body["metrics"]}
    assert reasons["latency_p95_ms"] == "0 current requests < min_requests 30"


@pytest.mark.integration
@pytest.mark.parametrize("args", [["--window", "1y"], ["--reference", "soon"]])
def test_bad_window_exits_2_with_the_fix(data_dir: Path, tmp_path: Path, args: list[str]) -> None:
    code, output = invoke(None, tmp_path, "check", *args)
    assert code == 2 and "unit m, h, d or w" in output


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hook_url() -> Iterator[str]:
    Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.mark.integration
def test_alert_rule_fires_its_webhook_once(data_dir: Path, tmp_path: Path, hook_url: str) -> None:
    traffic(data_dir, 1, 200, 40.0)
    traffic(data_dir, 0, 200, 80.0)
    rule = {"name": "p95-slow", "metric": "latency_p95_ms_ratio", "op": ">", "threshold": 1.5,
            "severity": "critical", "actions": [{"kind": "webhook", "url": hook_url}]}  # fmt: skip
    config = {"monitor": {"alerts": [rule]}}
    code, output = invoke(config, tmp_path, "check", "--window", "1h")
    assert code == 1, output
    assert "alert p95-slow (critical): latency_p95_ms_ratio=" in output and "webhook ok" in output
    code, output = invoke(config, tmp_path, "check", "--window", "1h")
    assert code == 1 and "alert p95-slow" not in output  # in breach, cooling down: not again
    assert len(Hook.received) == 1
    assert Hook.received[0]["rule"] == "p95-slow" and Hook.received[0]["value"] > 1.5
    code, output = invoke(config, tmp_path, "check", "--window", "1h", "--no-alerts")
    assert code == 1 and len(Hook.received) == 1


@pytest.mark.integration
def test_run_makes_the_passes_it_was_asked_for(data_dir: Path, tmp_path: Path) -> None:
    traffic(data_dir, 0, 50, 40.0)
    code, output = invoke(None, tmp_path, "run", "--every", "1m", "--iterations", "1")
    assert code == 0, output
    assert "pass 1 at" in output and "pass 2" not in output and "50 requests" in output


@pytest.mark.integration
def test_retrain_without_a_policy_says_what_to_add(data_dir: Path, tmp_path: Path) -> None:
    code, output = invoke(None, tmp_path, "retrain")
    assert code == 2 and "add one to monitor.retrain" in output


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # mlflow's SQLAlchemy use
def test_performance_trigger_retrains_a_gated_candidate(data_dir: Path, tmp_path: Path) -> None:
    from ragline.mltrack.config import MltrackConfig
    from ragline.mltrack.data.datasets import load_adult
    from ragline.mltrack.monitor.retrain import RetrainLog
    from tests.mltrack.adult_config import adult_config

    data = tmp_path / "adult.csv"
    load_adult().sample(n=5000, random_state=0).to_csv(data, index=False)
    weak, strong = tmp_path / "weak.yaml", tmp_path / "strong.yaml"
    experiment = "{hypothesis: monitor retrain, register_as: adult-mon}"
    weak.write_text(adult_config(data, experiment, "sklearn-logreg", "age"))
    strong.write_text(adult_config(data, experiment, "lightgbm"))
    runner = CliRunner()
    for args in (["train", str(weak), "--out", str(tmp_path / "r1")],
                 ["promote", "adult-mon", "1", "--to", "staging"],
                 ["promote", "adult-mon", "1", "--to", "production"]):  # fmt: skip
        result = runner.invoke(app, ["ml", *args])
        assert result.exit_code == 0, result.output
    policy = {"model": "adult-mon", "config": str(strong), "metric": "roc_auc",
              "min_primary": 0.85, "eval_data": str(data)}  # fmt: skip
    config = {"monitor": {"retrain": [policy]}}

    code, output = invoke(config, tmp_path, "retrain", "--dry-run")
    assert code == 0, output
    assert "production roc_auc on" in output and "trigger performance" in output
    log = RetrainLog(MltrackConfig(), data_dir)
    assert log.entries("adult-mon") == ()

    code, output = invoke(config, tmp_path, "retrain")
    assert code == 0, output
    assert "-> version 2 in staging" in output
    assert [(e.trigger, e.outcome, e.version) for e in log.entries("adult-mon")] == [
        ("performance", "started", None), ("performance", "staged", 2),
    ]  # fmt: skip
    log.close()
