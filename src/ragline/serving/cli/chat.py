"""`ragline chat "prompt"`: one request through the LLM router, printed with its cost.

    with cost_scope() as scope:
        code = run_chat(router, "Say hello", out, err, scope, max_tokens=256, stream=True)

Without `--stream` the answer is printed whole, then a line with the model that answered,
latency, tokens in/out, the request's cost (every cost event of its scope: the model call, and
the question's embedding when the semantic cache is on) and the cache that served it; with
`--stream` the pieces are printed as they arrive and the same line follows.

With `--session NAME` the prompt goes after the session's stored turns (trimmed to
`conversations.history_tokens`) and the exchange is stored in the conversation store
(`conversations:` settings, shared with `ragline ask --session` and, on one store, across
machines); stderr says how many turns the session holds.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ragline.core.chat import ChatRequest, Completion, Message, Usage
from ragline.core.costs import CostScope
from ragline.core.errors import redact
from ragline.llm_router.errors import ProviderError
from ragline.llm_router.router import Router

if TYPE_CHECKING:
    from ragline.serving.conversations.service import Session
    from ragline.serving.settings import Settings


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
    session: Session | None = None,
    history_tokens: int = 3000,
    schema: Mapping[str, object] | None = None,
) -> int:
    """Send `prompt` (after `session`'s turns, trimmed to `history_tokens`), print the answer,
    store the exchange in `session`; exit code 0, or 2 when no model could answer. With a JSON
    `schema` the answer is validated (and repaired) against it and printed as indented JSON."""
    if not prompt.strip():
        err.print("the prompt is empty; say something")
        return 2
    new = ((Message("system", system),) if system else ()) + (Message("user", prompt),)
    messages = session.prompt(new, history_tokens) if session is not None else new
    request = ChatRequest(messages=messages, max_tokens=max_tokens)
    started = time.perf_counter()
    try:
        if schema is not None:
            structured = router.structured(request, schema, request_id=scope.request_id)
            value = json.dumps(structured.value, indent=2, ensure_ascii=False)
            done = dataclasses.replace(structured.completion, text=value)
        else:
            live = stream and not as_json
            done = _complete(router, request, scope.request_id, out, stream=live)
    except ProviderError as exc:
        err.print(f"[bold red]model error:[/] {escape(redact(str(exc)))}")
        for note in getattr(exc, "__notes__", []):
            err.print(f"  {escape(redact(note))}")
        return 2
    if (not stream or schema is not None) and not as_json:
        out.print(done.text, markup=False, highlight=False)
    turns = _remember(session, new, done, err)
    if as_json:
        extra = {} if session is None else {"session": session.name, "turns": turns}
        out.print(_json(done, scope, extra), markup=False, highlight=False)
        return 0
    seconds = time.perf_counter() - started
    served = f" · cache {done.cache}" if done.cache else ""
    tried = f" · tried {', '.join(done.attempts[:-1])}" if len(done.attempts) > 1 else ""
    usage = done.usage
    out.print(
        f"\n{done.model} · {seconds * 1000:.0f} ms · tokens {usage.tokens_in} in / "
        f"{usage.tokens_out} out ({usage.source}) · ${scope.total_usd():.6f}{served}{tried}",
        markup=False,
        highlight=False,
    )
    return 0


def _complete(
    router: Router, request: ChatRequest, request_id: str, out: Console, *, stream: bool
) -> Completion:
    """The whole answer; streamed, its pieces are printed as they come."""
    if not stream:
        return router.complete(request, request_id=request_id)
    started = time.perf_counter()
    model, usage, pieces = "", Usage(0, 0, source="counted"), []
    for chunk in router.stream(request, request_id=request_id):
        model = chunk.model
        if chunk.text:
            pieces.append(chunk.text)
            out.print(chunk.text, end="", markup=False, highlight=False)
        if chunk.usage is not None:
            usage = chunk.usage
    out.print()
    latency_ms = (time.perf_counter() - started) * 1000
    return Completion("".join(pieces), model, usage, latency_ms)


def _remember(
    session: Session | None, new: tuple[Message, ...], done: Completion, err: Console
) -> int | None:
    """Store the exchange in `session` and say how many turns it holds (None: no session)."""
    if session is None:
        return None
    from ragline.serving.conversations.history import turn_count
    from ragline.serving.conversations.service import answer_message

    turns = turn_count(session.remember(new, answer_message(done)))
    err.print(
        f"session {session.name}: {turns} turn{'s' if turns != 1 else ''} stored",
        markup=False,
        highlight=False,
    )
    return turns


def _json(done: Completion, scope: CostScope, extra: Mapping[str, object]) -> str:
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
            **extra,
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
    session: Annotated[
        str | None,
        typer.Option(help="continue (or start) this named conversation; the store keeps it"),
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option(help="a JSON schema file: the answer is validated JSON that follows it"),
    ] = None,
) -> None:
    """Send one prompt through the LLM router; prints the answer, tokens, cost and cache."""
    from ragline.core.costs import cost_scope
    from ragline.serving.cli.common import err as stderr
    from ragline.serving.cli.common import fail, settings_from
    from ragline.serving.cli.common import out as stdout
    from ragline.serving.wiring import Accounting, build_chat_router

    settings = settings_from(ctx)
    shape = read_schema(schema) if schema is not None else None
    with (
        open_session(settings, session) as kept,
        Accounting(settings) as costs,
        cost_scope() as scope,
    ):
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
                session=kept,
                history_tokens=settings.conversations.history_tokens,
                schema=shape,
            )
        finally:
            router.close()
    raise typer.Exit(code)


def read_schema(path: Path) -> dict[str, object]:
    """The JSON schema in `path`; exits 2 naming the problem when it is missing, not JSON, or
    not a valid JSON schema."""
    import jsonschema

    from ragline.serving.cli.common import fail

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except OSError as exc:
        raise fail(f"cannot read the schema file {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise fail(
            f"{path} is not JSON ({exc.msg}, line {exc.lineno}); give a JSON schema"
        ) from None
    except jsonschema.SchemaError as exc:
        raise fail(f"{path} is not a valid JSON schema: {exc.message}") from None
    if not isinstance(schema, dict):
        raise fail(f"{path} holds {type(schema).__name__}; a JSON schema is an object")
    return schema


@contextmanager
def open_session(settings: Settings, name: str | None) -> Iterator[Session | None]:
    """The session `name` of this user in the configured store (None without a name); a bad
    name, an unreachable store or an unreadable session exits 2 with what to fix."""
    if name is None:
        yield None
        return
    from ragline.serving.cli.common import fail
    from ragline.serving.conversations.protocol import ConversationError
    from ragline.serving.conversations.service import Session, local_owner
    from ragline.serving.errors import ConfigError
    from ragline.serving.wiring import build_conversations

    try:
        store = build_conversations(settings)
    except (ConfigError, ConversationError) as exc:
        raise fail(f"session {name!r}: {exc}") from None
    try:
        yield Session(store, name, local_owner())
    except ConversationError as exc:
        raise fail(f"session {name!r}: {exc}") from None
    finally:
        store.close()
