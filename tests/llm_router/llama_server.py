"""A real OpenAI-compatible server for tests: `llama_cpp.server` with the packaged SmolLM2 GGUF.

    with LlamaServer(packaged_model()) as server:
        OpenAIChatModel(OpenAIConfig(base_url=server.url), MODEL_ALIAS).complete(request)

It runs as a subprocess on a free loopback port, one thread, a 2048-token window; `start`
returns once GET /v1/models answers, and fails with the server's stderr if it dies first.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx2

MODEL_ALIAS = "smollm2-135m"  # the model id the server lists and answers as
N_CTX = 2048


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LlamaServer:
    """`python -m llama_cpp.server` as a child process, started and stopped by the caller."""

    def __init__(self, model: Path, *, startup_timeout_s: float = 60.0) -> None:
        self.model = model
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._timeout_s = startup_timeout_s
        # a file, not a pipe: a pipe nobody drains blocks the server once full; it lives as
        # long as the server, so no `with`
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Start the server and wait until it lists its model; its base URL ("…/v1")."""
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            *("--model", str(self.model), "--model_alias", MODEL_ALIAS),
            *("--host", "127.0.0.1", "--port", str(self.port)),
            *("--n_ctx", str(N_CTX), "--n_threads", "1", "--n_threads_batch", "1"),
        ]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self._stderr, env=env
        )
        self._wait_until_ready()
        return self.url

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self._stderr.close()

    def __enter__(self) -> LlamaServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._timeout_s
        with httpx2.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                code = self._process.poll()
                if code is not None:
                    raise RuntimeError(
                        f"llama_cpp.server exited with code {code} before it was ready:\n"
                        f"{self._stderr_text()}"
                    )
                try:
                    if client.get(f"{self.url}/models").status_code == 200:
                        return
                except httpx2.TransportError:
                    pass  # not listening yet
                time.sleep(0.2)
        self._kill()
        raise RuntimeError(
            f"llama_cpp.server did not answer {self.url}/models within {self._timeout_s:g} s:\n"
            f"{self._stderr_text()}"
        )

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def _stderr_text(self, limit: int = 4000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-limit:]
