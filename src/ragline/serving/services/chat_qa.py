"""RAG through a conversation: the last user turn, made standalone, answered from a collection.

    asked = answer_conversation(messages, retriever, model, settings.answer, reranker, condenser)
    asked.question           # what was retrieved for: "How are point ids computed for exchanges?"
    asked.answer.citations

`rag:<collection>` chat models (POST /v1/chat/completions) and `ragline ask --session` call
this: the conversation before the last user message is condensed with it (`condense`), then
`ask` retrieves and answers with verified citations, or abstains.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragline.core.chat import ChatModel, Message
from ragline.core.filters import Filter
from ragline.llm_router.router import Router
from ragline.rag.answer import AnswerConfig
from ragline.rag.rerank import Reranker
from ragline.rag.retrieve import Retriever
from ragline.serving.services.condense import condense
from ragline.serving.services.query import Asked, ask

RAG_MODEL = "rag"  # the chat model id of the default collection; "rag:<collection>" for others


def rag_collection(model: str, default: str) -> str | None:
    """The collection a chat `model` id names ("rag" -> `default`), or None for other models."""
    if model == RAG_MODEL:
        return default
    prefix = f"{RAG_MODEL}:"
    return model[len(prefix) :] if model.startswith(prefix) and len(model) > len(prefix) else None


def condenser_for(router: Router) -> Router | None:
    """The model that condenses follow-ups: the router, unless it holds only the extractive
    answerer (which cannot rewrite a question: the offline fallback does better)."""
    llm = router.config
    names = [llm.provider, *(d.model for d in llm.deployments)]
    return router if any(not name.startswith("extractive") for name in names) else None


def last_question(messages: Sequence[Message]) -> tuple[tuple[Message, ...], str]:
    """The turns before the last user message, and its text; ValueError when there is none."""
    for at in range(len(messages) - 1, -1, -1):
        if messages[at].role == "user" and messages[at].content.strip():
            return tuple(messages[:at]), messages[at].content
    raise ValueError("the conversation has no user message to answer; end it with one")


def answer_conversation(
    messages: Sequence[Message],
    retriever: Retriever,
    model: ChatModel,
    config: AnswerConfig,
    reranker: Reranker | None = None,
    condenser: ChatModel | None = None,
    where: Filter | None = None,
) -> Asked:
    """Condense the conversation's last question (with `condenser` and the template
    `config.condense_prompt`, else offline), retrieve, answer. `Asked.question` is the
    standalone question."""
    history, question = last_question(messages)
    standalone = condense(history, question, condenser, config.condense_prompt)
    return ask(standalone, retriever, model, config, where, reranker=reranker)
