"""`ragline chat "prompt"`: one request through the LLM router, printed with its cost.

    with cost_scope() as scope:
        code = run_chat(router, "Say hello", out, err, scope, max_tokens=256, stream=True)

Without `--stream` the answer is printed whole, then a line with the model that answered,
latency, tokens in/out, the request's cost (every cost event of its scope: the model call, and
the question's embedding when the semantic cache is on) and the cache that served it; with
`--stream` the pieces are printed as they arrive and the same line follows.
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ragline.core.chat import ChatRequest, Completion, Message, Usage
from ragline.core.costs import CostScope
from ragline.llm_router.errors import ProviderError
from ragline.llm_router.router import Router


def run_chat(
    router: Router,
    prompt: str,
    out: Console,
    err: Console,
    scope: CostScope,
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
    request_id = scope.request_id
    started = time.perf_counter()
    attempts: tuple[str, ...] = ()
    cache: str | None = None
    try:
        if stream and not as_json:
            model, usage = _stream(router, request, request_id, out)
        else:
            done = router.complete(request, request_id=request_id)
            model, usage, cache, attempts = done.model, done.usage, done.cache, done.attempts
            if as_json:
                out.print(_json(done, scope), markup=False, highlight=False)
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
        f"{usage.tokens_out} out ({usage.source}) · ${scope.total_usd():.6f}{served}{tried}",
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


def _json(done: Completion, scope: CostScope) -> str:
    return json.dumps(
        {
            "request_id": scope.request_id,
            "text": done.text,
            "model": done.model,
            "finish_reason": done.finish_reason,
            "tokens_in": done.usage.tokens_in,
            "tokens_out": done.usage.tokens_out,
            "usage_source": done.usage.source,
            "cost_usd": float(scope.total_usd()),
            "cache": done.cache,
            "attempts": list(done.attempts),
            "latency_ms": round(done.latency_ms, 3),
        },
        ensure_ascii=False,
    )


def chat_command(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="what to ask the model")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="provider:model, e.g. openai:gpt-4o-mini (default: llm)"
        ),
    ] = None,
    system: Annotated[str | None, typer.Option(help="a system prompt")] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="answer length limit")] = 512,
    stream: Annotated[bool, typer.Option("--stream", help="print the answer as it comes")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Send one prompt through the LLM router; prints the answer, tokens, cost and cache."""
    from ragline.core.costs import cost_scope
    from ragline.serving.cli.common import err as stderr
    from ragline.serving.cli.common import fail, settings_from
    from ragline.serving.cli.common import out as stdout
    from ragline.serving.wiring import Accounting, build_chat_router

    settings = settings_from(ctx)
    with Accounting(settings) as costs, cost_scope() as scope:
        try:
            router = build_chat_router(settings, costs, model)
        except ProviderError as exc:
            raise fail(f"model error: {exc}") from None
        try:
            code = run_chat(
                router,
                prompt,
                stdout,
                stderr,
                scope,
                system=system,
                max_tokens=max_tokens,
                stream=stream,
                as_json=as_json,
            )
        finally:
            router.close()
    raise typer.Exit(code)
