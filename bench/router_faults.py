"""Router under faults: a primary failing half its calls, then dead; a healthy fallback.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/router_faults.py [--calls 1000] [--rate 100]

Two stub OpenAI-compatible servers on 127.0.0.1 (bench/openai_stub.py, separate processes):
the primary (`openai:stub`) and the fallback (`vllm:stub`). Phase 1, the first half of the
calls: the primary fails every other request, alternating a 500 and a hang longer than the
provider timeout (0.25 s), so the router sees ServerError and Timeout. Phase 2: the primary
answers 503 to everything. Calls are paced at `--rate` per second so that the breaker's
cooldown (2 s here) passes several times and half-open probes happen. Settings: retry 2
attempts (backoff 10-20 ms), breaker 5 failures in 30 s. Counted: calls that raised (lost),
requests that reached the primary (the stub's own counter), and in phase 2, the share of calls
after the circuit first opened that still reached the dead primary.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import describe, figure, log
from openai_stub import StubServer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second")
    args = parser.parse_args()
    describe(__doc__.split("\n\n")[1])
    from ragline.core.chat import ChatRequest, Message
    from ragline.llm_router.build import build_router
    from ragline.llm_router.config import LlmConfig
    from ragline.llm_router.errors import ProviderError

    os.environ["BENCH_PRIMARY_KEY"] = "x"
    with (
        tempfile.TemporaryDirectory() as tmp,
        StubServer(mode="flaky", hang_s=1.0) as primary,
        StubServer() as fallback,
    ):
        config = LlmConfig.model_validate(
            {
                "provider": "openai:stub",
                "fallbacks": ["vllm:stub"],
                "unpriced": "free",
                "cache": {"enabled": False},
                "retry": {"attempts": 2, "base_s": 0.01, "max_s": 0.02},
                "breaker": {"failures": 5, "window_s": 30, "cooldown_s": 2},
                "openai": {
                    "base_url": primary.url,
                    "api_key_env": "BENCH_PRIMARY_KEY",
                    "timeout_s": 0.25,
                },
                "vllm": {"base_url": fallback.url},
            }
        )
        router = build_router(config, data_dir=Path(tmp))
        request = ChatRequest(messages=(Message("user", "Say hello."),), max_tokens=4)
        lost = 0
        answered: dict[str, int] = {}
        phase_calls = args.calls // 2
        reached_after_open = calls_after_open = 0
        started = time.perf_counter()
        for i in range(args.calls):
            if i == phase_calls:
                primary.control("dead")
                phase1 = primary.stats()["requests"]
                log(f"phase 1 done: primary reached {phase1} times; now dead")
            before = primary.stats()["requests"] if i >= phase_calls else 0
            opened = router.parts.breaker.state("openai:stub") == "open"
            try:
                done = router.complete(request)
                answered[done.model] = answered.get(done.model, 0) + 1
            except ProviderError as exc:
                lost += 1
                log(f"lost call {i}: {type(exc).__name__}: {exc}")
            if i >= phase_calls and (opened or calls_after_open):
                calls_after_open += 1
                reached_after_open += primary.stats()["requests"] > before
            time.sleep(max(0.0, (i + 1) / args.rate - (time.perf_counter() - started)))
        seconds = time.perf_counter() - started
        total_primary = primary.stats()["requests"]
        router.close()

    share = reached_after_open / max(1, calls_after_open)
    print(f"{args.calls} calls in {seconds:.1f} s; lost {lost}; answered by {answered}")
    print(
        f"primary reached {total_primary} times ({phase1} in phase 1, "
        f"{total_primary - phase1} in phase 2)"
    )
    print(
        f"phase 2, after the circuit opened: {reached_after_open} of {calls_after_open} calls "
        f"reached the dead primary ({share:.2%})"
    )
    figure("fault_calls_lost", lost, target="0", baseline=f"calls={args.calls}", ratio=lost / 1)
    figure(
        "fault_dead_primary_share",
        share,
        target="<=0.05",
        baseline=f"calls_after_open={calls_after_open}",
        ratio=share / 0.05,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
