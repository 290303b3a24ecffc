"""`ragline eval SUITE --engine ray` against the serial run on the same golden suite: the same
per-item values, aggregates and costs, and the actors' cost events in the one ledger under the
run's id. The system is the real one (MiniLM, Edge, the extractive answerer, a local Ray
cluster the command starts); only the paid judge is an HTTP fake on 127.0.0.1."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.evals.report import RunReport, from_json
from ragline.mltrack.costs.config import LedgerConfig
from ragline.mltrack.costs.ledger import Ledger
from ragline.serving.cli.app import app
from tests.serving.cli.test_evals import write_beir
from tests.serving.cli.test_evals import write_suite as write_beir_suite
from tests.serving.services.evals.test_golden import JudgeServer, quality, write_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def evaluate(
    root: Path, server: JudgeServer, monkeypatch: pytest.MonkeyPatch, *engine: str
) -> tuple[RunReport, Counter[tuple[str, str | None, str]]]:
    """Run the suite in a fresh data dir; the report and the ledger's (kind, prompt, scope)."""
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(root / ".ragline"))
    suite = write_suite(root / "suite", server.url, "{metric: recall@3, min: 0.9}")
    result = CliRunner().invoke(
        app, ["eval", str(suite), "--out", str(root / "r"), "--no-track", *engine]
    )
    assert result.exit_code == 0, result.output
    assert ("in 2 Ray actor(s)" in result.output) == bool(engine), result.output
    report = from_json((root / "r" / "report.json").read_text())
    ledger = Ledger(LedgerConfig(), root / ".ragline")
    try:
        events = Counter((e.kind, e.prompt, e.request_id) for e in ledger.events())
    finally:
        ledger.close()
    return report, events


def test_ray_engine_gives_the_serial_metrics_and_costs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server = JudgeServer()
    try:
        serial, serial_events = evaluate(tmp_path / "serial", server, monkeypatch)
        asked = len(server.requests)
        ray, ray_events = evaluate(
            tmp_path / "ray", server, monkeypatch, "--engine", "ray", "--actors", "2"
        )
    finally:
        server.server.shutdown()
        server.server.server_close()

    assert asked == 4 and len(server.requests) == 8  # the same judge calls, none cached
    assert ray.query_ids == serial.query_ids
    assert quality(ray.per_query) == quality(serial.per_query)  # latency: measured anew
    assert quality({a.name: a for a in ray.aggregates}) == quality(
        {a.name: a for a in serial.aggregates}
    )
    assert set(ray.per_query) == set(serial.per_query)
    assert ray.costs == serial.costs and ray.costs["judge_usd"] > 0
    # the same events, each billed to its own run's id: the actors wrote into the one ledger
    scope = f"eval-{ray.run_id}"
    llm = Counter({(k, p): n for (k, p, r), n in ray_events.items() if k == "llm" and r == scope})
    assert llm == {("llm", "grounded-answer@1"): 3, ("llm", "judge-answer-relevancy@1"): 4}
    assert sorted(n for (_, _, r), n in ray_events.items() if r == scope) == sorted(
        n for (_, _, r), n in serial_events.items() if r == f"eval-{serial.run_id}"
    )


def test_a_beir_suite_on_ray_scores_as_the_serial_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = []
    for engine in ((), ("--engine", "ray", "--actors", "2")):
        root = tmp_path / ("ray" if engine else "serial")
        write_beir(root / "data" / "tiny")
        suite = write_beir_suite(root / "tiny.yaml", "[{metric: recall@3, min: 0.5}]")
        monkeypatch.setenv("RAGLINE_DATA_DIR", str(root / ".ragline"))
        result = CliRunner().invoke(
            app, ["eval", str(suite), "--out", str(root / "r"), "--no-track", *engine]
        )
        assert result.exit_code == 0, result.output
        reports.append(from_json((root / "r" / "report.json").read_text()))
    serial, ray = reports
    assert ray.query_ids == serial.query_ids and len(ray.query_ids) == 5
    assert ray.per_query == serial.per_query
    assert ray.aggregates == serial.aggregates
