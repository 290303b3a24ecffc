"""Real services on this machine (Redis, PostgreSQL) for tests that need them.

    def test_shared_state(redis_url: str) -> None: ...      # fixture from tests/conftest.py

A missing service skips the test on a laptop, and fails it where RAGLINE_REQUIRE_SERVICES=1
(CI): a suite that silently skipped its Redis tests would pass without testing them.
"""

from __future__ import annotations

import os
import socket

import pytest

REDIS_URL = os.environ.get("RAGLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "RAGLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def require(name: str, host: str, port: int) -> None:
    """Skip (or, with RAGLINE_REQUIRE_SERVICES=1, fail) unless host:port accepts connections."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return
    except OSError as exc:
        message = f"{name} is not reachable at {host}:{port} ({exc}); start it to run this test"
    if os.environ.get("RAGLINE_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)
