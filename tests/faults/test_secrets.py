"""Planted secrets never reach what a run writes: real `ragline chat` processes and a real
`ragline serve` meet an upstream that answers 401 echoing the key it was sent, a Redis URL and
a PostgreSQL ledger URL with passwords (both on closed ports); then stdout, stderr, the HTTP
answers and every file under the data dir (logs, SQLite files as bytes, spilled JSONL) are
grepped for the secrets.

    secrets found: 0          # printed; the contract is 0
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.llm_router.llama_server import free_port
from tests.serving.api.conftest import LiveServer, _wait_for_health, serve_command, server_env

pytestmark = [pytest.mark.faults, pytest.mark.integration]

OPENAI_KEY = "sk-proj-PlantedOpenAIKey0123456789"
VLLM_KEY = "planted-vllm-key-7f3a9c"  # no known key shape: only the configured-key path hides it
REDIS_PASSWORD = "plantedRedisPw4711"
PG_PASSWORD = "plantedPgPw0815"
SECRETS = (OPENAI_KEY, VLLM_KEY, REDIS_PASSWORD, PG_PASSWORD)
COMMAND_TIMEOUT_S = 60


@dataclass
class EchoingUpstream:
    """An OpenAI-format server on 127.0.0.1 that refuses every request with 401 and, as some
    gateways do, echoes the key in the error body; `keys` holds the keys it was sent."""

    keys: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> EchoingUpstream:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(upstream: EchoingUpstream) -> type[BaseHTTPRequestHandler]:
    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            auth = self.headers.get("authorization", "")
            key = auth.removeprefix("Bearer ")
            upstream.keys.add(key)
            error = {
                "message": f"Incorrect API key provided: {key}.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "received": {"authorization": auth},
            }
            body = json.dumps({"error": error}).encode()
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    return Refuse


def hits(where: str, data: bytes | str) -> list[str]:
    """`where: secret` for each planted secret found in `data`."""
    raw = data.encode() if isinstance(data, str) else data
    return [f"{where}: {secret}" for secret in SECRETS if secret.encode() in raw]


def files_under(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(root)), path.read_bytes()


def report(found: Iterable[str], written: int) -> None:
    found = list(found)
    print(f"\nsecrets found: {len(found)} (in {written} outputs and files grepped)")
    assert found == [], "\n".join(found)


@pytest.fixture
def upstream() -> Iterator[EchoingUpstream]:
    with EchoingUpstream() as server:
        yield server


def test_cli_runs_write_no_planted_secret(upstream: EchoingUpstream, tmp_path: Path) -> None:
    data_dir, closed = tmp_path / "data", free_port()
    env = server_env() | {
        "RAGLINE_DATA_DIR": str(data_dir),
        "OPENAI_API_KEY": OPENAI_KEY,
        "VLLM_API_KEY": VLLM_KEY,
        "RAGLINE_LLM__OPENAI__BASE_URL": upstream.url,
        "RAGLINE_LLM__VLLM__BASE_URL": upstream.url,
    }
    runs: list[tuple[str, list[str], dict[str, str], int, str]] = [
        ("openai 401", ["--model", "openai:gpt-4o-mini"], {}, 2, "refused the key"),
        ("vllm 401", ["--model", "vllm:m1"], {}, 2, "set VLLM_API_KEY"),
        ("fallback", [], {"RAGLINE_LLM__PROVIDER": "openai:gpt-4o-mini"}, 0, "AuthError"),
        (
            "redis",
            ["--model", "openai:gpt-4o-mini"],
            {
                "RAGLINE_LLM__STATE": "redis",
                "RAGLINE_LLM__REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{closed}/0",
            },
            2,
            "redis://:***@",
        ),
        (
            "ledger",
            ["--model", "extractive"],
            {
                "RAGLINE_COSTS__LEDGER__URL": f"postgresql://ragline:{PG_PASSWORD}@127.0.0.1:{closed}/test"
            },
            0,
            "ragline:***@",
        ),
    ]
    found: list[str] = []
    unexpected: list[str] = []
    for name, args, extra, code, expected in runs:
        command = [sys.executable, "-m", "ragline.serving.cli.app", "chat", "Say hi.", *args]
        done = subprocess.run(
            command, env=env | extra, capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
        found += hits(f"{name} stdout", done.stdout) + hits(f"{name} stderr", done.stderr)
        said = done.stdout.decode() + done.stderr.decode()
        if done.returncode != code or expected not in said:  # the message must still say where
            unexpected.append(f"{name} (exit {done.returncode}): {said}")
    written = list(files_under(data_dir))
    for name, data in written:
        found += hits(name, data)
    report(found, 2 * len(runs) + len(written))
    assert unexpected == [], "\n".join(unexpected)
    assert upstream.keys >= {OPENAI_KEY, VLLM_KEY}  # the keys were really sent and echoed
    assert any(name.endswith(".jsonl") for name, _ in written)  # the ledger's spill was written


def test_a_served_request_writes_no_planted_secret(
    upstream: EchoingUpstream, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    ledger = f"postgresql://ragline:{PG_PASSWORD}@127.0.0.1:{free_port()}/test"
    config = {
        "data_dir": str(data_dir),
        "embedding": {"onnx_cache": str(tmp_path / "onnx")},
        "llm": {
            "provider": "openai:gpt-4o-mini",
            "fallbacks": [],
            "openai": {"base_url": upstream.url},
        },
        "costs": {"ledger": {"url": ledger}},
        "serve": {"shutdown_grace_s": 5},
    }
    config_path = tmp_path / "settings.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            serve_command(config_path, "--host", "127.0.0.1", "--port", "0"),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=server_env() | {"OPENAI_API_KEY": OPENAI_KEY},
        )
    server = LiveServer("", process, config_path, log_path)
    try:
        server.url = _wait_for_health(server)
        request = {"model": "openai:gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        answers = [
            httpx.post(f"{server.url}/v1/chat/completions", json=request, timeout=30),
            httpx.post(
                f"{server.url}/v1/chat/completions", json=request | {"stream": True}, timeout=30
            ),
        ]
    finally:
        server.stop()
    assert answers[0].status_code == 502, answers[0].text
    assert OPENAI_KEY in upstream.keys and "provider error" in server.stderr()
    found = hits("server log", server.stderr())
    for number, answer in enumerate(answers):
        found += hits(f"answer {number}", answer.content)
    written = list(files_under(data_dir))
    for name, data in written:
        found += hits(name, data)
    report(found, 1 + len(answers) + len(written))
