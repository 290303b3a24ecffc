"""Router overhead and cache-hit latency, against the bare OpenAI SDK and LiteLLM, same run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/router_overhead.py [--calls 2000] [--llama-calls 200]
        [--litellm /path/to/venv/bin/python]

Two OpenAI-compatible servers on 127.0.0.1: the stub (bench/openai_stub.py, a fixed answer in
well under a millisecond, so client overhead dominates) and llama.cpp's server with the
packaged SmolLM2 (max_tokens 1). On each, the same chat request goes through (a) the bare
`openai` SDK client (max_retries 0) and (b) `Router.complete` with caches off (the `vllm`
provider: the same SDK underneath, plus policy, breaker, budgets, retry wrapper, per-call
timeout thread, pricing and a cost event), alternating call by call so that drift hits both
alike; (c) LiteLLM's `completion()` runs in its own venv (`--litellm`, optional: it pins
other versions of the SDKs), in a block between two bare-SDK blocks. Added latency = router
(or LiteLLM) p50/p99 minus bare p50/p99. Then cache hits: `Router.complete` served by the
exact SQLite cache, and `SemanticCache.lookup` on a paraphrase including the MiniLM query
embedding.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import ROOT, describe, figure, log
from openai_stub import StubServer

sys.path.insert(0, str(ROOT))  # tests.llm_router.llama_server

MESSAGES = [{"role": "user", "content": "Say hello."}]
_LITELLM_SCRIPT = """
import json, sys, time, litellm
url, model, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
msgs = [{"role": "user", "content": "Say hello."}]
def call():
    litellm.completion(model="openai/" + model, api_base=url, api_key="x", messages=msgs,
                       max_tokens=1, temperature=0, num_retries=0)
for _ in range(20):
    call()
out = []
for _ in range(calls):
    t = time.perf_counter(); call(); out.append((time.perf_counter() - t) * 1000)
print(json.dumps(out))
"""


def pct(ms: list[float], q: float) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


# The wider request model of issue 17: sampling options, bookkeeping fields and a tool, sent
# the same way by both clients (the router maps them to the same wire fields).
WIDE = {
    "seed": 7,
    "top_p": 0.9,
    "frequency_penalty": 0.1,
    "presence_penalty": 0.1,
    "user": "bench-user",
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather of a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
    "tool_choice": "auto",
}


def compare(url: str, model: str, calls: int, data: Path) -> dict[str, list[float]]:
    """Bare SDK and router latencies (ms), interleaved call by call: a plain request, and the
    same request with the wider options (`WIDE`)."""
    from openai import OpenAI

    from ragline.core.chat import ChatRequest, Message, Sampling, Tool
    from ragline.llm_router.build import build_router
    from ragline.llm_router.config import LlmConfig

    bare_client = OpenAI(base_url=url, api_key="x", max_retries=0)
    config = LlmConfig.model_validate(
        {
            "provider": f"vllm:{model}",
            "fallbacks": [],
            "cache": {"enabled": False},
            "vllm": {"base_url": url},
        }
    )
    router = build_router(config, data_dir=data)
    request = ChatRequest(messages=(Message("user", "Say hello."),), max_tokens=1, temperature=0)
    function = WIDE["tools"][0]["function"]  # type: ignore[index]
    wide = ChatRequest(
        messages=request.messages,
        max_tokens=1,
        temperature=0,
        sampling=Sampling(
            seed=7, top_p=0.9, frequency_penalty=0.1, presence_penalty=0.1, user="bench-user"
        ),
        tools=(Tool(function["name"], function["description"], function["parameters"]),),
        tool_choice="auto",
    )

    def bare(**extra: object) -> object:
        return bare_client.chat.completions.create(
            model=model,
            messages=MESSAGES,
            max_tokens=1,
            temperature=0,
            **extra,  # type: ignore[arg-type]
        )

    for _ in range(20):
        bare(), router.complete(request), bare(**WIDE), router.complete(wide)
    out: dict[str, list[float]] = {"bare": [], "router": [], "bare-wide": [], "router-wide": []}
    for _ in range(calls):
        out["bare"].append(timed(bare))
        out["router"].append(timed(lambda: router.complete(request)))
        out["bare-wide"].append(timed(lambda: bare(**WIDE)))
        out["router-wide"].append(timed(lambda: router.complete(wide)))
    router.close()
    return out


def litellm_block(python: str, url: str, model: str, calls: int) -> list[float]:
    done = subprocess.run(
        [python, "-c", _LITELLM_SCRIPT, url, model, str(calls)],
        capture_output=True,
        text=True,
        check=True,
    )
    latencies: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
    return latencies


def report(name: str, runs: dict[str, list[float]]) -> None:
    for label, ms in runs.items():
        bare = runs["bare-wide" if label.endswith("-wide") else "bare"]
        p50, p99 = pct(ms, 0.5) - pct(bare, 0.5), pct(ms, 0.99) - pct(bare, 0.99)
        added = "" if label.startswith("bare") else f"  added p50 {p50:+.3f}  p99 {p99:+.3f}"
        print(
            f"{name:6} {label:14} n={len(ms):5}  p50 {pct(ms, 0.5):8.3f}  p95 {pct(ms, 0.95):8.3f}"
            f"  p99 {pct(ms, 0.99):8.3f} ms{added}",
            flush=True,
        )


def cache_hits(data: Path) -> tuple[float, float]:
    """p50 (ms) of a Router exact-cache hit and of a semantic-cache hit with its embedding."""
    from ragline.core.chat import ChatRequest, Completion, Message, Usage
    from ragline.llm_router.build import build_router
    from ragline.llm_router.caches.semantic import SemanticCache, SemanticCacheConfig
    from ragline.llm_router.config import LlmConfig
    from ragline.rag.config import EmbeddingConfig
    from ragline.rag.embed.sentence_transformers import SentenceTransformerEmbedder
    from ragline.serving.settings import Settings
    from ragline.serving.wiring import build_semantic_index

    router = build_router(LlmConfig(), data_dir=data)
    request = ChatRequest(messages=(Message("user", "hello " * 50),), max_tokens=64)
    router.complete(request)
    exact = [timed(lambda: router.complete(request)) for _ in range(2000)]
    assert router.stats.exact_hits == 2000
    router.close()

    embedder = SentenceTransformerEmbedder(EmbeddingConfig())
    embedder.warm_up()
    config = SemanticCacheConfig(enabled=True, path=data / "sem")
    # the entries in an Edge collection on disk, as `ragline serve` keeps them
    settings = Settings.model_validate({"data_dir": data, "llm": {"semantic_cache": config}})
    semantic = SemanticCache(embedder, build_semantic_index(settings), config)
    answer = Completion("Use the reset link.", "vllm:stub", Usage(10, 5), 100.0)
    for i in range(200):
        asked = ChatRequest(messages=(Message("user", f"Question number {i} about topic {i}?"),))
        semantic.store("vllm:stub", asked, answer)
    semantic.store("vllm:stub", _ask("How do I reset my password?"), answer)
    paraphrase = _ask("How can I reset my password?")
    assert semantic.lookup("vllm:stub", paraphrase) is not None
    hits = [timed(lambda: semantic.lookup("vllm:stub", paraphrase)) for _ in range(300)]
    semantic.close()
    return pct(exact, 0.5), pct(hits, 0.5)


def _ask(text: str) -> object:
    from ragline.core.chat import ChatRequest, Message

    return ChatRequest(messages=(Message("user", text),))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per client on the stub")
    parser.add_argument("--llama-calls", type=int, default=200, help="calls on llama.cpp")
    parser.add_argument("--litellm", help="python of a venv with litellm installed")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[1])
    from tests.llm_router.llama_server import MODEL_ALIAS, LlamaServer

    from ragline.llm_router.providers.local import packaged_model

    with tempfile.TemporaryDirectory() as tmp, StubServer() as stub:
        data = Path(tmp)
        servers = [("stub", stub.url, "stub", args.calls)]
        llama = LlamaServer(packaged_model())
        servers.append(("llama", llama.start(), MODEL_ALIAS, args.llama_calls))
        try:
            results = {}
            for name, url, model, calls in servers:
                log(f"{name}: {calls} calls each, bare SDK and router interleaved ...")
                runs = compare(url, model, calls, data)
                if args.litellm:
                    log(f"{name}: LiteLLM completion() block, then the bare SDK again ...")
                    runs["litellm"] = litellm_block(args.litellm, url, model, calls)
                    runs["bare (after)"] = compare(url, model, min(calls, 200), data)["bare"]
                results[name] = runs
                report(name, runs)
        finally:
            llama.stop()
        log("cache hits ...")
        exact_p50, semantic_p50 = cache_hits(data)
    print(f"exact-cache hit through Router.complete p50 {exact_p50:.3f} ms")
    print(f"semantic-cache hit (MiniLM query embedding included) p50 {semantic_p50:.3f} ms")
    stub_runs = results["stub"]
    for label in [k for k in ("router", "router-wide", "litellm") if k in stub_runs]:
        bare = stub_runs["bare-wide" if label.endswith("-wide") else "bare"]
        for q, target in ((0.5, 1.0), (0.99, 3.0)):
            added = pct(stub_runs[label], q) - pct(bare, q)
            figure(
                f"{label.replace('-', '_')}_added_p{int(q * 100)}_ms",
                added,
                target=f"<={target}" if label.startswith("router") else "report",
                baseline=f"bare_sdk_p{int(q * 100)}={pct(bare, q):.3f}ms",
                ratio=pct(stub_runs[label], q) / pct(bare, q),
                extra={"server": "stub"},
            )
    figure(
        "exact_cache_hit_p50_ms", exact_p50, target="<=0.5", baseline="none", ratio=exact_p50 / 0.5
    )
    figure(
        "semantic_cache_hit_p50_ms", semantic_p50, target="<=10", baseline="none",
        ratio=semantic_p50 / 10,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
