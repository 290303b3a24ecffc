"""The model registry's PostgreSQL down (issue 20): a loopback tarpit (accepts, never answers)
is the tracking/registry URI of a real `ragline serve` and of a real `ragline ml list`.

Before the fix /v1/predict hung until the 30 s route timeout and `ml list` took 105 s (MLflow
retries a failing first connection ten times); now a connect times out in 2 s:

    predict: 503 in 3.4 s (cold), 0.0 s (queued), 2.1 s (after the retry window)
    ml list: exit 2 in 4.6 s
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.faults.loopback import Proxy
from tests.serving.api.conftest import LiveServer, live_server, serve_onnx_cache, server_env

pytestmark = [pytest.mark.faults, pytest.mark.integration]
__all__ = ["live_server", "serve_onnx_cache"]  # fixtures, imported to be shared

ROWS = {"rows": [{"tenure": 12, "plan": "pro"}]}


@pytest.fixture(scope="module")
def tarpit() -> Iterator[str]:
    """A PostgreSQL URL whose server accepts connections and never answers."""
    proxy = Proxy(("127.0.0.1", 5432))  # starts as a tarpit: nothing is forwarded
    yield f"postgresql://postgres@127.0.0.1:{proxy.port}/test"
    proxy.close()


def timed_predict(server: LiveServer) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(f"{server.url}/v1/predict/churn", json=ROWS, timeout=60)
    return response, time.monotonic() - started


def test_predict_answers_503_naming_the_registry_within_seconds(
    live_server: Callable[..., LiveServer], tarpit: str
) -> None:
    server = live_server({"ml": {"tracking_uri": tarpit}}, name="registry-down")
    cold, cold_s = timed_predict(server)  # imports MLflow, then one connect timeout
    with ThreadPoolExecutor(4) as pool:
        queued = list(pool.map(lambda _: timed_predict(server), range(4)))
    time.sleep(5.0)  # the predictor's refresh_s: the registry is tried again
    again, again_s = timed_predict(server)
    queued_s = max(seconds for _, seconds in queued)
    print(
        f"\npredict: {cold.status_code} in {cold_s:.1f} s (cold), {queued_s:.1f} s (queued), "
        f"{again_s:.1f} s (after the retry window)"
    )
    for response in (cold, again, *(r for r, _ in queued)):
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "registry_unavailable"
        assert "model registry is unavailable" in error["message"]
        assert f"127.0.0.1:{tarpit.rsplit(':', 1)[1]}" in error["message"]  # names the database
    assert cold_s < 5.0 and again_s < 3.5 and queued_s < 3.5


def test_ml_list_fails_with_a_clear_error_within_seconds(tmp_path: Path, tarpit: str) -> None:
    env = server_env() | {
        "RAGLINE_DATA_DIR": str(tmp_path / "data"),
        "RAGLINE_ML__TRACKING_URI": tarpit,
    }
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "ragline.serving.cli.app", "ml", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    seconds = time.monotonic() - started
    print(f"\nml list: exit {run.returncode} in {seconds:.1f} s")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "error:" in run.stderr and "reachable" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert seconds < 8.0  # Python and MLflow start-up included; the connect itself is 2 s
