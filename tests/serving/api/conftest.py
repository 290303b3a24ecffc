"""A real `ragline serve` process on 127.0.0.1 for end-to-end tests.

    def test_x(live_server):                       # or in a module-scoped fixture of your own
        server = live_server({"serve": {"api_keys": [...]}}, name="secure")
        httpx.get(f"{server.url}/health")
        server.logs()                              # the server's JSON log lines, parsed

`live_server(config)` writes a settings YAML (a temporary data_dir, the extractive provider,
`config` layered on top), runs `python -m ragline.serving.cli.app --config FILE serve --port 0` (so
every start goes through the real command, bind check and uvicorn settings included), reads the port
uvicorn picked from its log, and waits for /health (and, with `ready=True`, for /ready). Servers
live until the end of the module that started them. Starting one loads the embedding model in the
server process (seconds): start few, share them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import APIRouter, FastAPI

from ragline.serving.settings import deep_merge

START_TIMEOUT_S = 180.0
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@dataclass
class LiveServer:
    """One `ragline serve` process: its base URL, config file and captured stderr."""

    url: str
    process: subprocess.Popen[bytes]
    config_path: Path
    log_path: Path

    def stderr(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def logs(self) -> list[dict[str, Any]]:
        """Every complete JSON line the server wrote so far (a line that is not JSON fails)."""
        text = self.stderr()
        complete = text if text.endswith("\n") else text.rpartition("\n")[0]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def access_logs(self) -> list[dict[str, Any]]:
        return [line for line in self.logs() if line.get("logger") == "ragline.access"]

    def access_log(self, request_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
        """The access line of `request_id`, waiting for it: the server writes it just after
        the response, so the client can be faster."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [line for line in self.access_logs() if line["request_id"] == request_id]
            if found or time.monotonic() > deadline:
                assert len(found) == 1, f"{len(found)} access lines for {request_id!r}"
                return found[0]
            time.sleep(0.05)

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> list[int]:
        """Polls /ready until 200; returns the statuses seen on the way."""
        seen: list[int] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            seen.append(httpx.get(f"{self.url}/ready", timeout=30).status_code)
            if seen[-1] == 200:
                return seen
            time.sleep(0.1)
        raise AssertionError(f"/ready never became 200 ({seen[-5:]}); server log:\n{self.tail()}")

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then SIGKILL if the process has not ended within `timeout_s`."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.stderr().splitlines()[-lines:])

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(
                f"server exited with {self.process.returncode}; its log:\n{self.tail()}"
            )


def server_env() -> dict[str, str]:
    """This environment without RAGLINE_* settings (they would override the test's YAML)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    if "RAGLINE_REQUIRE_SERVICES" in os.environ:
        env["RAGLINE_REQUIRE_SERVICES"] = os.environ["RAGLINE_REQUIRE_SERVICES"]
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def serve_command(config_path: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ragline.serving.cli.app",
        "--config",
        str(config_path),
        "serve",
        *args,
    ]


@pytest.fixture(scope="session")
def serve_onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export of the query model for every test server of the session."""
    return tmp_path_factory.mktemp("serve-onnx")


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, serve_onnx_cache: Path
) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(
        config: Mapping[str, Any] | None = None,
        *,
        name: str = "server",
        args: Sequence[str] = (),
        ready: bool = False,
    ) -> LiveServer:
        folder = tmp_path_factory.mktemp(name)
        base = {
            "data_dir": str(folder / "data"),
            "embedding": {"onnx_cache": str(serve_onnx_cache)},
            "llm": {"provider": "extractive", "fallbacks": []},
            "serve": {"shutdown_grace_s": 20},
        }
        config_path = folder / "settings.yaml"
        config_path.write_text(yaml.safe_dump(deep_merge(base, config or {})), encoding="utf-8")
        log_path = folder / "server.log"
        with log_path.open("wb") as log_file:
            command = serve_command(config_path, "--host", "127.0.0.1", "--port", "0", *args)
            process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, env=server_env()
            )
        server = LiveServer("", process, config_path, log_path)
        started.append(server)
        server.url = _wait_for_health(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


def _wait_for_health(server: LiveServer) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    url = ""
    while time.monotonic() < deadline:
        server._check_alive()
        if not url and (found := _RUNNING.search(server.stderr())):
            url = f"http://127.0.0.1:{found.group(1)}"
        if url:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    server.stop()
    raise AssertionError(f"server did not answer /health in time; its log:\n{server.tail()}")


@dataclass
class FakeStats:
    exact_hits: int = 0
    semantic_hits: int = 0
    calls: int = 0
    breakers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeServices:
    """Stands in for `Services` in in-process app tests: a warm-up that waits for `gate` (when
    given) and may fail, a settable readiness, fixed stats; records `close()`."""

    gate: threading.Event | None = None
    fail: Exception | None = None
    is_ready: bool = True
    parts: dict[str, str] = field(default_factory=lambda: {"store": "ok"})
    stats_value: FakeStats = field(default_factory=FakeStats)
    closed: bool = False

    def warm_up(self) -> None:
        if self.gate is not None:
            self.gate.wait(30)
        if self.fail is not None:
            raise self.fail

    def ready(self) -> tuple[bool, dict[str, str]]:
        return self.is_ready, dict(self.parts)

    def stats(self) -> FakeStats:
        return self.stats_value

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., FastAPI]:
    """`make_app(config, services=FakeServices(), routers=[...])`: the real `create_app` over
    settings from `config` (layered like a YAML file) and fake services, with extra routers."""
    from ragline.serving.api.app import create_app
    from ragline.serving.settings import Settings

    def make(
        config: Mapping[str, Any] | None = None,
        services: FakeServices | None = None,
        routers: Sequence[APIRouter] = (),
    ) -> FastAPI:
        base = {"data_dir": str(tmp_path / "data"), "llm": {"provider": "extractive"}}
        settings = Settings.model_validate(deep_merge(base, config or {}))
        app = create_app(settings, services or FakeServices())  # type: ignore[arg-type]
        for router in routers:
            app.include_router(router)
        return app

    return make
