"""OpenAI clients against a real `ragline serve`, unchanged: LlamaIndex's `OpenAILike` with its
default settings (is_chat_model=False: legacy /v1/completions), its chat path, and a
`rag:<collection>` chat model answered with citations.

    .venv/bin/python bench/openai_clients.py          # starts `ragline serve` from .venv, then
                                                      # runs the clients in .venv-peers

LlamaIndex's OpenAI integration pins openai<3, which ragline's venv cannot hold, so its side
runs in .venv-peers (`make peers`); LangChain's ChatOpenAI and the openai SDK are covered by
the test suite (tests/serving/api/routes/test_chat_tools.py, test_chat_rag.py). Prints one line
per check and exits 1 if any failed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from common import ROOT, describe, log

PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
CLIENT = r"""
import json, sys
from llama_index.llms.openai_like import OpenAILike
from llama_index.core.llms import ChatMessage

url = sys.argv[1]
out = {}
llm = OpenAILike(api_base=url, api_key="unused", model="ragline", max_tokens=64)  # defaults
out["is_chat_model"] = llm.metadata.is_chat_model
out["complete"] = llm.complete("Where do deltas form?").text
pieces = llm.stream_complete("Where do deltas form?")
out["stream_complete"] = "".join(r.delta or "" for r in pieces)
rag = OpenAILike(api_base=url, api_key="unused", model="rag:docs", is_chat_model=True)
reply = rag.chat([ChatMessage(role="user", content="Where do deltas form?")])
out["rag_chat"] = reply.message.content
print(json.dumps(out))
"""
CORPUS = {
    "rivers.md": "# Rivers\n\nRivers carry water from mountains to the sea. Deltas form where "
    "rivers slow down and drop their sediment.",
    "baking.txt": "Bread needs flour, water, salt and yeast. Dough rises when yeast ferments.",
}


def serve(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    config = tmp / "serve.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp / "data")}), encoding="utf-8")
    corpus = tmp / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    ragline = str(ROOT / ".venv" / "bin" / "ragline")
    subprocess.run(
        [ragline, "--config", str(config), "ingest", str(corpus), "--collection", "docs"],
        check=True,
        capture_output=True,
    )
    log_file = (tmp / "serve.log").open("wb")
    process = subprocess.Popen(
        [ragline, "--config", str(config), "serve", "--port", "0"],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = re.search(
            rb"Uvicorn running on http://127\.0\.0\.1:(\d+)", (tmp / "serve.log").read_bytes()
        )
        if found:
            url = f"http://127.0.0.1:{int(found.group(1))}"
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return process, f"{url}/v1"
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"ragline serve did not start:\n{(tmp / 'serve.log').read_text()[-2000:]}")


def main() -> int:
    describe(__doc__.split("\n\n")[0])
    if not PEERS_PYTHON.exists():
        print(f"{PEERS_PYTHON} is missing: run `make peers` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        process, url = serve(Path(folder))
        try:
            log(f"ragline serve at {url}; LlamaIndex OpenAILike in .venv-peers ...")
            env = {**os.environ, "OPENAI_API_KEY": "unused"}
            done = subprocess.run(
                [str(PEERS_PYTHON), "-c", CLIENT, url], capture_output=True, text=True, env=env
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    got = json.loads(done.stdout.strip().splitlines()[-1])
    checks = {
        "OpenAILike default is_chat_model=False": got["is_chat_model"] is False,
        "complete() via /v1/completions answers": "Deltas form" in got["complete"]
        or "enough information" in got["complete"],
        "stream_complete() joins to text": bool(got["stream_complete"].strip()),
        "rag:docs chat cites rivers.md": "[Source: rivers.md]" in got["rag_chat"],
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(json.dumps(got, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
