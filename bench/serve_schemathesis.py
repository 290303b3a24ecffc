"""schemathesis against the OpenAPI that `ragline serve` serves: server errors, schema violations.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/serve_schemathesis.py [--max-time 180]

The server: `ragline serve` (1 worker, embedded defaults, extractive answers, an API key
configured) over the repo's docs ingested first. schemathesis 4 generates requests for every
operation in /openapi.json, valid and invalid ones, and runs the checks
`not_a_server_error` (no 5xx), `response_schema_conformance` and `status_code_conformance`
(answers match the documented schemas and statuses), `content_type_conformance` and
`negative_data_rejection` (invalid input is refused with a 4xx; 413, a body over
serve.max_body_bytes, counts as refused). POST /v1/predict/{model}
answers 501 until mltrack's registry exists and is left out of the OpenAPI document.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, describe, figure, ingest, log, workdir
from serve_load import start_server

CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance,negative_data_rejection"
)
KEY = "bench-schemathesis-key-0123456789"


def _config(tmp: Path) -> Path:
    """schemathesis.toml: a body over serve.max_body_bytes is refused with 413 before any
    validation, a rejection like 400/422 (the size limit is no part of the schema)."""
    path = tmp / "schemathesis.toml"
    statuses = ", ".join(
        f'"{s}"' for s in (400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429)
    )
    path.write_text(f"[checks.negative_data_rejection]\nexpected-statuses = [{statuses}]\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=180, help="seconds of fuzzing")
    parser.add_argument("--port", type=int, default=8182)
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[1])
    from ragline.serving.settings import load_settings

    digest = hashlib.sha256(KEY.encode()).hexdigest()
    with workdir("schemathesis", keep=False) as tmp:
        data = tmp / "data"
        config = tmp / "serve.yaml"
        config.write_text(
            f"data_dir: {data}\nstore:\n  collection: docs\n"
            f"serve:\n  api_keys: [{{name: fuzz, sha256: '{digest}'}}]\n",
            encoding="utf-8",
        )
        settings = load_settings(config)
        report = ingest(settings, [ROOT / "docs"])
        log(f"ingested {report.chunks_written} chunks; starting the server ...")
        server = start_server(config, args.port, tmp, workers=1)
        try:
            done = subprocess.run(
                [
                    str(ROOT / ".venv" / "bin" / "schemathesis"),
                    "--config-file",
                    str(_config(tmp)),
                    "run",
                    f"http://127.0.0.1:{args.port}/openapi.json",
                    "--checks",
                    CHECKS,
                    "--max-time",
                    str(args.max_time),
                    "-H",
                    f"Authorization: Bearer {KEY}",
                    "--continue-on-failure",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    output = done.stdout + done.stderr
    full = Path(tempfile.gettempdir()) / "ragline-schemathesis.log"
    full.write_text(output, encoding="utf-8")
    print(output[-6000:])
    log(f"the whole schemathesis output: {full}")
    server_errors = len(re.findall(r"Server error", output))
    failures = len(re.findall(r"^\s*\d+\.\s", output, flags=re.M))
    log(f"schemathesis exit code {done.returncode}")
    figure(
        "schemathesis_failures",
        failures if done.returncode else 0,
        target="0",
        baseline=f"server_errors={server_errors}",
        ratio=float(done.returncode),
        extra={"exit_code": str(done.returncode)},
    )
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
