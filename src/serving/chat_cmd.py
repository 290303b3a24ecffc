"""`ragline chat "prompt"`: one request through the LLM router, printed with its cost.

    code = run_chat(router, "Say hello", out, err, system=None, max_tokens=256, stream=True)

Without `--stream` the answer is printed whole, then a line with the model that answered,
latency, tokens in/out, cost and the cache that served it; with `--stream` the pieces are
printed as they arrive and the same line follows.
"""

from __future__ import annotations

import json
import time
import uuid

from rich.console import Console
from rich.markup import escape

from llm_router.errors import ProviderError
from llm_router.router import Router
from llm_router.types import ChatRequest, Completion, Message, Usage


def run_chat(
    router: Router,
    prompt: str,
    out: Console,
    err: Console,
    *,
    system: str | None = None,
    max_tokens: int = 512,
    stream: bool = False,
    as_json: bool = False,
) -> int:
    """Send `prompt`, print the answer; exit code 0, or 2 when no model could answer."""
    if not prompt.strip():
        err.print("the prompt is empty; say something")
        return 2
    messages = ((Message("system", system),) if system else ()) + (Message("user", prompt),)
    request = ChatRequest(messages=messages, max_tokens=max_tokens)
    request_id = uuid.uuid4().hex
    started = time.perf_counter()
    attempts: tuple[str, ...] = ()
    cache: str | None = None
    try:
        if stream and not as_json:
            model, usage = _stream(router, request, request_id, out)
            cost = _last_cost(router, request_id)
        else:
            done = router.complete(request, request_id=request_id)
            model, usage, cost, cache, attempts = (
                done.model, done.usage, done.cost_usd, done.cache, done.attempts
            )  # fmt: skip
            if as_json:
                out.print(_json(done, request_id), markup=False, highlight=False)
                return 0
            out.print(done.text, markup=False, highlight=False)
    except ProviderError as exc:
        err.print(f"[bold red]model error:[/] {escape(str(exc))}")
        for note in getattr(exc, "__notes__", []):
            err.print(f"  {escape(note)}")
        return 2
    seconds = time.perf_counter() - started
    served = f" · cache {cache}" if cache else ""
    tried = f" · tried {', '.join(attempts[:-1])}" if len(attempts) > 1 else ""
    out.print(
        f"\n{model} · {seconds * 1000:.0f} ms · tokens {usage.tokens_in} in / "
        f"{usage.tokens_out} out ({usage.source}) · ${cost:.6f}{served}{tried}",
        markup=False,
        highlight=False,
    )
    return 0


def _stream(
    router: Router, request: ChatRequest, request_id: str, out: Console
) -> tuple[str, Usage]:
    model, usage = "", Usage(0, 0, source="counted")
    for chunk in router.stream(request, request_id=request_id):
        model = chunk.model
        if chunk.text:
            out.print(chunk.text, end="", markup=False, highlight=False)
        if chunk.usage is not None:
            usage = chunk.usage
    out.print()
    return model, usage


def _last_cost(router: Router, request_id: str) -> float:
    """The cost the router recorded for `request_id` (a stream has no Completion to carry it)."""
    return float(router.cost_of(request_id))


def _json(done: Completion, request_id: str) -> str:
    return json.dumps(
        {
            "request_id": request_id,
            "text": done.text,
            "model": done.model,
            "finish_reason": done.finish_reason,
            "tokens_in": done.usage.tokens_in,
            "tokens_out": done.usage.tokens_out,
            "usage_source": done.usage.source,
            "cost_usd": done.cost_usd,
            "cache": done.cache,
            "attempts": list(done.attempts),
            "latency_ms": round(done.latency_ms, 3),
        },
        ensure_ascii=False,
    )
