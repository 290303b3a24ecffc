"""A model `ragline ml` registers is an MLflow model: after train and promote (5,000 rows of UCI
Adult, a real MLflow store), MLflow's own ``mlflow.pyfunc.load_model("models:/NAME@production")``
and ``mlflow models serve`` predict exactly what ragline's ``POST /v1/predict`` predictor does."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

import ragline
from ragline.mltrack.data.datasets import load_adult
from ragline.mltrack.tabular.pyfunc import package_model  # noqa: F401  # imports mlflow.pyfunc quietly
from ragline.mltrack.tracking.mlflow_store import MlflowStore
from ragline.serving.api.predictor import Predictor
from ragline.serving.cli.app import app
from tests.mltrack.adult_config import adult_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # mlflow's SQLAlchemy use
]
NAME = "adult-income"
STARTUP_S = 120.0  # `mlflow models serve` imports mlflow, downloads the model, starts uvicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, pd.DataFrame]:
    """`ragline ml train` + promote to production, as a user runs them; the data dir and 100
    raw rows of the table (read from the CSV, as the user holds them)."""
    data_dir = tmp_path / ".ragline"
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(data_dir))
    csv = tmp_path / "adult.csv"
    load_adult().sample(n=5000, random_state=0).to_csv(csv, index=False)
    config = tmp_path / "adult.yaml"
    config.write_text(adult_config(csv, f"{{hypothesis: pyfunc, register_as: {NAME}}}"))
    runner, outputs = CliRunner(), []
    for args in (
        ["train", str(config), "--out", str(tmp_path / "run")],
        ["promote", NAME, "1", "--to", "staging"],
        ["promote", NAME, "1", "--to", "production"],
    ):
        result = runner.invoke(app, ["ml", *args])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert f"registered {NAME}:1 in development (MLflow model models:/{NAME}/1)" in outputs[0]
    uri = MlflowStore(ragline.load_settings().ml, data_dir).uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    return data_dir, pd.read_csv(csv).head(100)


def _ragline_predicts(rows: pd.DataFrame) -> tuple[list[float], list[object]]:
    settings = ragline.load_settings()
    predictor = Predictor(settings.ml, settings.data_dir)
    try:
        result = predictor.predict(NAME, rows.to_dict(orient="records"))
    finally:
        predictor.close()
    assert result.labels is not None and result.version == 1
    return result.scores, result.labels


def test_load_model_from_the_registry_predicts_what_ragline_predicts(
    production: tuple[Path, pd.DataFrame],
) -> None:
    _, rows = production
    scores, labels = _ragline_predicts(rows)

    got = mlflow.pyfunc.load_model(f"models:/{NAME}@production").predict(rows)

    assert got["score"].tolist() == scores  # exactly
    assert got["label"].tolist() == labels and set(labels) == {0, 1}


@contextmanager
def _serving(uri: str, log: IO[bytes]) -> Iterator[str]:
    """`mlflow models serve` on a free loopback port, in its own process group (it starts
    worker processes); every process of the group is killed on the way out, however it ends."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri]
    command += ["--env-manager", "local", "-p", str(port), "-h", "127.0.0.1", "-w", "1"]
    # it execs `uvicorn` by name: the venv's bin folder must be on PATH, as when activated
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true", "PATH": path}
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        yield _wait_for_ping(process, f"http://127.0.0.1:{port}", log)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, wait up to 15 s, then SIGKILL whatever is left
    (uvicorn's workers may outlive the parent)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


def _wait_for_ping(process: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> str:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(
                f"mlflow models serve exited {process.returncode}:\n{log.read().decode()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    log.seek(0)
    pytest.fail(
        f"mlflow models serve gave no /ping in {STARTUP_S} s:\n{log.read().decode()[-3000:]}"
    )


def test_mlflow_models_serve_answers_invocations(production: tuple[Path, pd.DataFrame]) -> None:
    _, rows = production
    rows = rows.head(3)
    scores, labels = _ragline_predicts(rows)
    body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))})

    with tempfile.TemporaryFile() as log, _serving(f"models:/{NAME}@production", log) as url:
        request = urllib.request.Request(
            f"{url}/invocations",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())

    assert [p["score"] for p in answer["predictions"]] == scores
    assert [p["label"] for p in answer["predictions"]] == labels
