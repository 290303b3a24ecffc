"""`ragline serve` (uvicorn) and `ragline hash-key`.

    ragline serve                                   # 127.0.0.1:8080 from serve.host/port
    ragline -c prod.yaml serve --host 0.0.0.0 --workers 4
    ragline hash-key --name alice < key.txt         # prints the serve.api_keys line
    ragline hash-key --name bob --new               # makes a strong key, shows it once

The server runs uvicorn's factory mode, `ragline.serving.api.app:app_from_env`, in every worker: a
worker is a fresh process that rebuilds the app from $RAGLINE_CONFIG (set here from --config)
and the RAGLINE_* environment, the same sources this command read. Without serve.api_keys
only a loopback host is allowed: a public bind without keys is refused (exit 2). On SIGTERM
uvicorn stops accepting connections and lets in-flight requests finish for up to
serve.shutdown_grace_s seconds. With `--workers N`, rate limits and /metrics are per worker
unless llm.state is "redis" (limits; metrics aggregation is a follow-up).
"""

from __future__ import annotations

import getpass
import ipaddress
import logging
import math
import os
import secrets
from pathlib import Path
from typing import Annotated, TextIO

import typer

from ragline.serving.errors import ConfigError
from ragline.serving.logs import log_config
from ragline.serving.serve_config import ApiKey, key_digest
from ragline.serving.settings import Settings

APP_FACTORY = "ragline.serving.api.app:app_from_env"
MIN_KEY_CHARS = 20
log = logging.getLogger("ragline.serve")


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1; False for every other address or name."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another host name may resolve to a public address


def check_bind(host: str, settings: Settings) -> None:
    """Refuses a non-loopback `host` when no API key is configured."""
    if settings.serve.api_keys or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to bind {host!r} without API keys: anyone who can reach it could use the "
        "server. Add keys to serve.api_keys (make one with: ragline hash-key --name NAME --new), "
        "or bind a loopback address (--host 127.0.0.1)"
    )


def run_server(
    settings: Settings, host: str, port: int, workers: int, config_file: Path | None
) -> None:
    """Checks the bind, then runs uvicorn until it is stopped (SIGINT / SIGTERM)."""
    import uvicorn

    from ragline.serving.nodelay import NoDelayHTTPProtocol

    check_bind(host, settings)
    # MLflow's own logging writes plain-text lines to stderr; left to propagate, they reach the
    # JSON handler every other line goes through (workers inherit the variable)
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    if config_file is not None:
        # Workers rebuild the settings from the environment (see the module docstring).
        os.environ["RAGLINE_CONFIG"] = str(config_file.resolve())
    if workers > 1 and settings.llm.state != "redis" and _limited(settings):
        log.warning(
            "with --workers %d each worker limits rates on its own; set llm.state: "
            "redis to share serve.rate_limit between them",
            workers,
        )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=math.ceil(settings.serve.shutdown_grace_s),
        log_config=log_config(),
        access_log=False,  # the app writes its own access lines (ragline.serving.logs)
        server_header=False,
        http=NoDelayHTTPProtocol,
    )


def _limited(settings: Settings) -> bool:
    limit = settings.serve.rate_limit
    return limit.requests_per_minute is not None or limit.tokens_per_minute is not None


def new_key() -> str:
    """A fresh API key with 256 random bits."""
    return "rgl-" + secrets.token_urlsafe(32)


def api_key_line(name: str, key: str) -> str:
    """The YAML list item for serve.api_keys: the key's name and SHA-256, never the key."""
    key = key.strip()
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(
            f"the key has {len(key)} characters; use at least {MIN_KEY_CHARS} random ones, "
            "or let ragline make one: ragline hash-key --new"
        )
    entry = ApiKey(name=name, sha256=key_digest(key))
    return f'- {{name: {entry.name}, sha256: "{entry.sha256}"}}'


def hash_key(name: str, new: bool, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """`ragline hash-key`: the serve.api_keys line on `out`; a new key on `err`, shown once."""
    from pydantic import ValidationError

    if new:
        key = new_key()
    elif stdin.isatty():
        key = getpass.getpass("API key (not echoed): ")
    else:
        key = stdin.read()
    try:
        line = api_key_line(name, key)
    except ValidationError:
        err.write(f"bad --name {name!r}: use 1-64 letters, digits or . _ @ -\n")
        return 2
    except ConfigError as exc:
        err.write(f"{exc}\n")
        return 2
    if new:
        err.write(f"new API key for {name} (shown once, store it now): {key}\n")
    out.write(f"{line}\n")
    return 0


def serve_command(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="address to bind (default: serve.host)")] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="default: serve.port; 0 picks a free one")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="processes (default: serve.workers)")
    ] = None,
) -> None:
    """Run the HTTP API: /v1 chat, query, search, ingest; /health, /ready, /metrics."""
    from ragline.serving.cli.common import fail, settings_from

    settings = settings_from(ctx)
    bind = settings.serve
    config = ctx.obj if isinstance(ctx.obj, Path) else None
    try:
        run_server(
            settings,
            host or bind.host,
            bind.port if port is None else port,
            workers or bind.workers,
            config,
        )
    except ConfigError as exc:
        raise fail(f"refused: {exc}") from None


def hash_key_command(
    name: Annotated[str, typer.Option(help="the key's name (logs, limits, A/B)")] = "client",
    new: Annotated[bool, typer.Option("--new", help="make a strong key and show it once")] = False,
) -> None:
    """Print the serve.api_keys line for a key read from stdin (or a new one, with --new)."""
    import sys

    raise typer.Exit(hash_key(name, new, sys.stdin, sys.stdout, sys.stderr))
