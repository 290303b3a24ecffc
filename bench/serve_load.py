"""`ragline serve` under load: requests/s and p50/p99 per endpoint, wrk on loopback, 2 workers.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/serve_load.py [--seconds 15] [--connections 8]
    (needs wrk: apt-get install wrk)

The server: `ragline serve --workers 2` on 127.0.0.1 with the embedded defaults (Qdrant Edge,
MiniLM with ONNX queries, extractive answers, SQLite exact cache), over the repo's docs plus 3
stdlib modules ingested first (not timed). wrk (2 threads, --connections open, --seconds per
endpoint, latency percentiles) drives, one endpoint after the other:
- GET /health: the baseline, the server's floor (routing, middleware, JSON);
- POST /v1/search: hybrid search, rotating over 60 questions (first lines of stdlib
  docstrings), so each is embedded and searched;
- POST /v1/query: retrieval + extractive answer with citations, the same 60 questions (each
  question's answer is cached by the router after its first time, the retrieval is not);
- POST /v1/chat/completions: one request repeated, an exact-cache hit after the first.
wrk and the server share this machine's 2 cores, so the figures are a floor for the server.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from common import ROOT, describe, figure, ingest, log, workdir, write_corpus
from search_latency import questions

ENDPOINTS = ("health", "search", "query", "chat")
_LUA = """
local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("%s", "%s", {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def lua(method: str, path: str, bodies: list[str]) -> str:
    quoted = ", ".join(json.dumps(b) for b in bodies) if bodies else '""'
    return _LUA % (quoted, method, path)


def wrk(url: str, script: Path, seconds: int, connections: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from wrk's --latency report; non-2xx answers fail."""
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors on {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rps, _pct(out, "50%"), _pct(out, "99%")


def _pct(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def start_server(config: Path, port: int, data: Path, workers: int = 2) -> subprocess.Popen[bytes]:
    """`ragline serve` in a child process, once /ready answers 200; its log in data/."""
    env = {**os.environ, "RAGLINE_CONFIG": str(config)}
    log_file = (data / "server.log").open("wb")
    command = [sys.executable, "-m", "ragline.serving.cli.app", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    server = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2).read()
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit((data / "server.log").read_text()[-3000:]) from None
            time.sleep(0.5)
    raise SystemExit("the server did not become ready in 5 minutes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per endpoint")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--port", type=int, default=8181)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    describe(__doc__.split("\n\n")[1])
    from ragline.serving.settings import load_settings

    with workdir("serve", keep=False) as tmp:
        data = tmp / "data"
        config = tmp / "serve.yaml"
        config.write_text(f"data_dir: {data}\nstore:\n  collection: docs\n", encoding="utf-8")
        settings = load_settings(config)
        report = ingest(settings, [ROOT / "docs", write_corpus(tmp / "corpus", 3)])
        log(f"ingested {report.chunks_written} chunks (not timed); starting 2 workers ...")
        qs = questions(60)
        chat = {"model": "ragline", "messages": [{"role": "user", "content": qs[0]}]}
        scripts = {
            "health": lua("GET", "/health", []),
            "search": lua("POST", "/v1/search", [json.dumps({"query": q}) for q in qs]),
            "query": lua("POST", "/v1/query", [json.dumps({"question": q}) for q in qs]),
            "chat": lua("POST", "/v1/chat/completions", [json.dumps(chat)]),
        }
        server = start_server(config, args.port, tmp)
        results = {}
        try:
            url = f"http://127.0.0.1:{args.port}"
            for name in ENDPOINTS:
                script = tmp / f"{name}.lua"
                script.write_text(scripts[name], encoding="utf-8")
                wrk(url, script, 3, args.connections)  # warm-up: caches, ONNX, first answers
                results[name] = wrk(url, script, args.seconds, args.connections)
                rps, p50, p99 = results[name]
                log(f"{name}: {rps:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)

    print()
    print(f"{'endpoint':<28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    paths = {"health": "GET /health", "search": "POST /v1/search", "query": "POST /v1/query"}
    paths["chat"] = "POST /v1/chat/completions (hit)"
    for name, (rps, p50, p99) in results.items():
        print(f"{paths[name]:<28} {rps:>9,.0f} {p50:>8.1f} {p99:>8.1f}")
    base = results["health"][0]
    for name in ("search", "query", "chat"):
        rps, p50, p99 = results[name]
        figure(
            f"serve_{name}_rps",
            rps,
            target="report",
            baseline=f"health_rps={base:.0f}",
            ratio=rps / base,
            extra={"p50_ms": f"{p50:.1f}", "p99_ms": f"{p99:.1f}", "workers": "2"},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
