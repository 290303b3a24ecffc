"""`ragline serve` (bind check, factory, graceful shutdown of the real process) and
`ragline hash-key`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ragline.serving.api.app import app_from_env
from ragline.serving.cli.app import app as cli
from ragline.serving.cli.serve import check_bind, is_loopback
from ragline.serving.errors import ConfigError
from ragline.serving.serve_config import ApiKey
from ragline.serving.settings import Settings
from tests.serving.api.conftest import LiveServer, serve_command, server_env

pytestmark = pytest.mark.integration

KEY = "a-long-enough-client-key-0123456789"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_public_bind_needs_keys() -> None:
    keyless = Settings.model_validate({})
    check_bind("127.0.0.1", keyless)
    with pytest.raises(ConfigError, match=r"serve\.api_keys.*ragline hash-key"):
        check_bind("0.0.0.0", keyless)
    keyed = Settings.model_validate(
        {"serve": {"api_keys": [{"name": "a", "sha256": hashlib.sha256(b"k").hexdigest()}]}}
    )
    check_bind("0.0.0.0", keyed)


def test_serve_refuses_a_public_bind_without_keys_at_start_up(tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}), encoding="utf-8")
    done = subprocess.run(
        serve_command(config, "--host", "0.0.0.0", "--port", "0"),
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "serve.api_keys" in done.stderr
    assert "ragline hash-key" in done.stderr


def test_hash_key_prints_the_config_line_of_a_key_from_stdin() -> None:
    result = CliRunner().invoke(cli, ["hash-key", "--name", "alice"], input=KEY + "\n")
    assert result.exit_code == 0, result.output
    (entry,) = yaml.safe_load(result.stdout)
    assert ApiKey.model_validate(entry) == ApiKey(
        name="alice", sha256=hashlib.sha256(KEY.encode()).hexdigest()
    )
    assert KEY not in result.output


def test_hash_key_new_shows_a_strong_key_once() -> None:
    result = CliRunner().invoke(cli, ["hash-key", "--name", "bob", "--new"])
    assert result.exit_code == 0, result.output
    found = re.search(r"(rgl-[A-Za-z0-9_-]{40,})", result.stderr)
    assert found is not None
    key = found.group(1)
    assert key not in result.stdout
    (entry,) = yaml.safe_load(result.stdout)
    assert entry == {"name": "bob", "sha256": hashlib.sha256(key.encode()).hexdigest()}
    again = CliRunner().invoke(cli, ["hash-key", "--new"])
    assert again.stderr != result.stderr  # a new key every time


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["--name", "alice"], "short\n", "at least 20"),
        (["--name", "has space"], KEY, "bad --name"),
    ],
)
def test_hash_key_refuses_weak_keys_and_bad_names(args: list[str], stdin: str, says: str) -> None:
    result = CliRunner().invoke(cli, ["hash-key", *args], input=stdin)
    assert result.exit_code == 2
    assert says in result.stderr
    assert result.stdout == ""


def test_factory_reads_the_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "settings.yaml"
    serve = {"max_body_bytes": 1234, "cors_origins": ["https://a.example"]}
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path), "serve": serve}))
    for name in list(os.environ):
        if name.startswith("RAGLINE_") and name != "RAGLINE_REQUIRE_SERVICES":
            monkeypatch.delenv(name)  # a stray setting would override the file
    monkeypatch.setenv("RAGLINE_CONFIG", str(config))
    app = app_from_env()
    assert app.state.settings.serve.max_body_bytes == 1234
    assert app.state.settings.data_dir == tmp_path


@pytest.mark.slow
def test_sigterm_lets_an_in_flight_request_finish(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(name="graceful", ready=True)
    port = int(server.url.rsplit(":", 1)[1])
    chat = {"model": "ragline", "messages": [{"role": "user", "content": "What is yeast?"}]}
    body = json.dumps(chat).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\nX-Request-ID: graceful-1\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head.encode())
        # uvicorn answers 100 Continue when the app asks for the body: the request is in flight.
        assert conn.recv(64).startswith(b"HTTP/1.1 100")
        server.process.send_signal(signal.SIGTERM)
        _wait_for_log(server, "Waiting for connections to close")
        with pytest.raises(OSError):  # no new connections once shutdown began
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        conn.sendall(body)
        response = _read_until_closed(conn)
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 200"), response
    answer = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert answer["choices"][0]["message"]["content"]
    # uvicorn re-raises the signal it caught once shut down, so the status says "SIGTERM".
    assert server.process.wait(60) in (0, -signal.SIGTERM)
    assert "Finished server process" in server.stderr()
    assert "timeout graceful shutdown exceeded" not in server.stderr()
    assert server.access_log("graceful-1")["status"] == 200


def _wait_for_log(server: LiveServer, text: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in server.stderr():
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{server.tail()}"
        time.sleep(0.05)


def _read_until_closed(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data
