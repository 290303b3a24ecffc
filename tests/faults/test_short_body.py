"""A request body shorter than its Content-Length, against a real `ragline serve` (issue 20).

A raw socket sends the headers of POST /v1/search with Content-Length 400, 40 bytes of body,
then waits with the connection open. The server used to wait for the rest until the search
timeout and answer 504 (a 5xx for the monitors and the canary); now the body's idle timeout
(5 s) answers 408, closes the connection, and logs a 4xx:

    short body: 408 in 5.0 s (search timeout 10 s)        # printed; the contract is 408 < 7 s
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable

import pytest

from tests.serving.api.conftest import LiveServer, live_server, serve_onnx_cache

pytestmark = [pytest.mark.faults, pytest.mark.integration]
__all__ = ["live_server", "serve_onnx_cache"]  # fixtures, imported to be shared

DECLARED = 400
SENT = b'{"query": "where do deltas form", "k": 3'  # 40 bytes, no closing brace


@pytest.fixture(scope="module")
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server({"serve": {"timeouts": {"search": 10}}}, name="short-body")


def raw_request(server: LiveServer, rid: str) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=20)
    head = (
        f"POST /v1/search HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {DECLARED}\r\nX-Request-ID: {rid}\r\n\r\n"
    )
    sock.sendall(head.encode() + SENT)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 20 s pass)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_body_shorter_than_its_content_length_is_a_quick_408(server: LiveServer) -> None:
    rid = uuid.uuid4().hex
    started = time.monotonic()
    with raw_request(server, rid) as sock:
        answer = read_until_closed(sock)  # ends: the server closes the connection after the 408
    seconds = time.monotonic() - started
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    print(f"\nshort body: {status} in {seconds:.1f} s (search timeout 10 s)")
    assert status == 408, answer[:500]
    assert seconds < 7.0
    assert b"request body incomplete: 40 bytes of the 400 declared" in answer
    assert server.access_log(rid)["status"] == 408  # a 4xx for the metrics and monitors


def test_a_client_that_hangs_up_mid_body_is_not_a_server_error(server: LiveServer) -> None:
    rid = uuid.uuid4().hex
    with raw_request(server, rid) as sock:
        sock.shutdown(socket.SHUT_WR)  # the rest of the body never comes
        read_until_closed(sock)
    status = server.access_log(rid)["status"]
    print(f"\nhung up mid-body: logged {status}")
    assert 400 <= status < 500
