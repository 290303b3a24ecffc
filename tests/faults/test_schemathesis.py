"""schemathesis against a real `ragline serve` (issue 20): one minute of generated requests on
every operation of the served OpenAPI document, over a small ingested collection.

The app is the real one: `ragline ingest` fills the collection "docs" (the default collection,
so /v1/query and /v1/search reach retrieval and the extractive answerer), then `ragline serve`
runs on 127.0.0.1 and the `schemathesis run` CLI fuzzes it for `BUDGET_S` seconds (one worker:
the machine is shared) with two checks: no 5xx (`not_a_server_error`) and every answer matches
its documented schema (`response_schema_conformance`). The NDJSON report is then counted:

    server errors: 0, contract failures: 0, cases: 7418      # printed; the contract is 0 and 0
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.rag.ingest_helpers import write_corpus
from tests.serving.api.conftest import LiveServer, _wait_for_health, serve_command, server_env

pytestmark = [pytest.mark.faults, pytest.mark.integration]

BUDGET_S = 60
SEED = 7
CHECKS = {"not_a_server_error": "server", "response_schema_conformance": "contract"}


@dataclass
class Findings:
    """What one schemathesis run saw, read from its NDJSON report."""

    cases: set[str] = field(default_factory=set)
    failures: dict[str, list[str]] = field(default_factory=lambda: {"server": [], "contract": []})
    errors: list[str] = field(default_factory=list)  # schemathesis' own (not the API's) errors

    def read(self, report: Path) -> Findings:
        for line in report.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if "ScenarioFinished" in event:
                self._scenario(event["ScenarioFinished"]["recorder"])
            elif "NonFatalError" in event:
                self.errors.append(json.dumps(event)[:300])
        return self

    def _scenario(self, recorder: dict[str, Any]) -> None:
        self.cases.update(recorder.get("cases", {}))
        interactions = recorder.get("interactions", {})
        for case_id, checks in recorder.get("checks", {}).items():
            for check in checks:
                kind = CHECKS.get(check["name"])
                if kind is not None and check["status"] == "failure":
                    self.failures[kind].append(_describe(interactions.get(case_id)))


def _describe(interaction: dict[str, Any] | None) -> str:
    if interaction is None:
        return "(no interaction recorded)"
    request, response = interaction["request"], interaction.get("response") or {}
    body = base64.b64decode((request.get("body") or {}).get("$base64", "")).decode(errors="replace")
    answer = base64.b64decode((response.get("content") or {}).get("$base64", ""))
    status = response.get("status_code")
    return f"{request['method']} {request['uri']} {body[:200]} -> {status} {answer[:300]!r}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`ragline serve` over the collection "docs" (three small documents, ingested by the CLI)."""
    folder = tmp_path_factory.mktemp("schemathesis")
    config = {
        "data_dir": str(folder / "data"),
        "embedding": {"onnx_cache": str(folder / "onnx")},
        "llm": {"provider": "extractive", "fallbacks": []},
        "chunking": {"chunk_size": 48, "chunk_overlap": 8},
        "store": {"collection": "docs"},
        "serve": {"shutdown_grace_s": 5},
    }
    config_path = folder / "settings.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    corpus = write_corpus(folder / "corpus")
    cli = [sys.executable, "-m", "ragline.serving.cli.app", "--config", str(config_path)]
    ingest = subprocess.run(
        [*cli, "ingest", str(corpus)],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    log_path = folder / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            serve_command(config_path, "--host", "127.0.0.1", "--port", "0"),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=server_env(),
        )
    live = LiveServer("", process, config_path, log_path)
    try:
        live.url = _wait_for_health(live)
        live.wait_ready()
        yield live
    finally:
        live.stop()


def test_a_minute_of_schemathesis_finds_no_server_error_and_no_contract_break(
    server: LiveServer, tmp_path: Path
) -> None:
    report = tmp_path / "events.ndjson"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-time",
        str(BUDGET_S),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "40",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=BUDGET_S + 90, check=False, cwd=tmp_path
    )
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    found = Findings().read(report)
    server_errors, contract = found.failures["server"], found.failures["contract"]
    print(
        f"\nserver errors: {len(server_errors)}, contract failures: {len(contract)}, "
        f"cases: {len(found.cases)} (schemathesis errors: {len(found.errors)})"
    )
    assert len(found.cases) > 200, run.stdout[-3000:]  # a run that reached the API
    logged = [line for line in server.stderr().splitlines() if '"level": "ERROR"' in line]
    assert server_errors == [], "\n".join(server_errors[:10] + logged[-10:])
    assert contract == [], "\n".join(contract[:10])
