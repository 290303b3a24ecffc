"""`ragline ask "question"`: retrieve, answer with citations, print (or print one JSON object).

    ragline ask "How are point ids computed?" --collection docs
    ragline ask "..." --provider openai:gpt-4o-mini --json

The work is `ragline.serving.services.query.ask`, billed to one cost scope whose request id and
total are printed (or put in the JSON). With `--session NAME` the question continues a stored
conversation (the one `ragline chat --session NAME` keeps): it is condensed with the earlier
turns into a standalone question (`ragline.serving.services.chat_qa`), which is retrieved for and
answered, and the exchange is stored; stderr names the session, its turns and that question.
Exit codes: 0 answered or abstained; 2 missing collection, bad settings or no model could
answer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ragline.serving.cli.common import cost_line, err, fail, out, settings_from

if TYPE_CHECKING:
    from ragline.core.costs import CostScope
    from ragline.llm_router.router import Router
    from ragline.rag.answer import AnswerConfig
    from ragline.rag.rerank import Reranker
    from ragline.rag.retrieve import Retriever
    from ragline.serving.conversations.service import Session
    from ragline.serving.services.query import Asked

CollectionOption = Annotated[
    str | None, typer.Option("--collection", help="collection name (default: store.collection)")
]


def ask_command(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="the question to answer from the collection")],
    provider: Annotated[
        str | None,
        typer.Option(help="ask this model alone, e.g. extractive | local | openai:gpt-4o-mini"),
    ] = None,
    collection: CollectionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    session: Annotated[
        str | None,
        typer.Option(help="continue (or start) this named conversation; follow-ups keep context"),
    ] = None,
) -> None:
    """Answer a question from a collection, with verified citations (or abstain)."""
    from ragline.core.costs import cost_scope
    from ragline.llm_router.errors import ProviderError
    from ragline.rag.rerank import make_reranker
    from ragline.serving.cli.chat import open_session
    from ragline.serving.wiring import Accounting, build_chat_router, build_retriever, build_store

    settings = settings_from(ctx)
    if not question.strip():
        raise fail("the question is empty; ask something")
    with (
        open_session(settings, session) as kept,
        Accounting(settings) as costs,
        cost_scope() as scope,
    ):
        store = build_store(settings, collection, costs)
        if not store.exists():
            raise fail(
                f"collection {store.collection!r} does not exist; ingest into it first "
                f"(ragline ingest PATH --collection {store.collection})"
            )
        retriever = build_retriever(settings, settings.retrieval, store, costs)
        try:
            router = build_chat_router(settings, costs, provider)
            try:
                reranker = make_reranker(settings.rerank)
                asked = ask_in_session(kept, question, retriever, router, settings.answer, reranker)
            finally:
                router.close()
        except ProviderError as exc:
            raise fail(f"model error: {exc}") from None
        finally:
            store.close()
    print_asked(asked, scope, out, as_json=as_json)


def ask_in_session(
    session: Session | None,
    question: str,
    retriever: Retriever,
    router: Router,
    config: AnswerConfig,
    reranker: Reranker,
) -> Asked:
    """`ask` alone without a session; with one, the question after the session's turns
    (condensed by `router`, unless it is the extractive answerer), and the exchange stored."""
    from ragline.core.chat import Message
    from ragline.serving.conversations.history import turn_count
    from ragline.serving.services.chat_qa import answer_conversation, condenser_for
    from ragline.serving.services.query import ask

    if session is None:
        return ask(question, retriever, router, config, reranker=reranker)
    condenser = condenser_for(router)
    asked_now = Message("user", question)
    asked = answer_conversation(
        (*session.history(), asked_now), retriever, router, config, reranker, condenser
    )
    held = session.remember((asked_now,), Message("assistant", asked.answer.text))
    turns = turn_count(held)
    err.print(
        f"session {session.name}: {turns} turn{'s' if turns != 1 else ''} stored"
        + (f" · retrieved for: {asked.question}" if asked.question != question else ""),
        markup=False,
    )
    return asked


def print_asked(asked: Asked, scope: CostScope, console: Console, *, as_json: bool) -> None:
    """The answer, its citations, then model, latency, tokens and the request's whole cost."""
    result = asked.answer
    if len(result.attempts) > 1:
        tried = ", ".join(result.attempts[:-1])
        err.print(f"note: tried {tried}; answered with {result.model}", markup=False)
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False)
    if as_json:
        data = {
            "question": asked.question,
            **result.to_dict(),
            "retrieval_ms": round(asked.retrieval_ms, 3),
            "request_id": scope.request_id,
            "cost_usd": float(scope.total_usd()),
        }
        console.print(json.dumps(data, ensure_ascii=False), markup=False, highlight=False)
        return
    console.print(result.text, markup=False, highlight=False)
    if result.citations:
        console.print("\ncitations:")
    for i, cited in enumerate(result.citations, start=1):
        where = cited.document + (f", page {cited.page}" if cited.page is not None else "")
        section = f" · {cited.section}" if cited.section else ""
        flag = " (not cited in the text: top context block)" if cited.inferred else ""
        console.print(
            f"  [{i}] {where}{section}  chunk {cited.chunk_id}  score {cited.score:.3f}{flag}",
            markup=False,
            highlight=False,
        )
    console.print(
        f"\n{result.model} · retrieval {asked.retrieval_ms:.0f} ms · answer "
        f"{result.latency_ms:.0f} ms · tokens {result.usage.tokens_in} in / "
        f"{result.usage.tokens_out} out",
        markup=False,
        highlight=False,
    )
    console.print(cost_line(scope), markup=False, highlight=False)
