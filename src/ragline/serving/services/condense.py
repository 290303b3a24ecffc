"""A follow-up question made standalone, so retrieval finds what the conversation is about.

    condense(history, "and for exchanges?", router)  # "How are point ids computed for exchanges?"
    condense(history, "and for exchanges?", None)    # "and for exchanges? point ids computed"

With a model (`router`, when `llm.provider` is not the extractive answerer) the conversation
and the question go through the condensing prompt template (configs/prompts/condense); its
reply is the question. Offline (no model, or the model failed or answered off the point) the
question keeps its words and gains the key terms of the previous user turns that it lacks
(stop words removed, at most `MAX_TERMS`), but only when it reads as a follow-up: short, or
pointing back ("it", "that", "and ...?"). A question that stands on its own is left alone.
A word the follow-up replaces is not carried: in "How are ids computed for queues?" then
"and for exchanges?", "queues" follows the same preposition as "exchanges", so the question
becomes "and for exchanges? ids computed".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragline.core.chat import ChatModel, ChatRequest, Message
from ragline.core.prompts import resolve_prompt
from ragline.llm_router.errors import ProviderError
from ragline.llm_router.providers.extractive import STOPWORDS

MAX_TERMS = 12
FOLLOW_UP_WORDS = 3  # a question with at most this many content words reads as a follow-up
_TURNS = 3  # previous user turns whose terms the offline fallback carries
_MAX_HISTORY_CHARS = 4000  # of the conversation shown to the model (most recent kept)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+#-]*[A-Za-z0-9+#]|[A-Za-z0-9]")
_POINTING = re.compile(
    r"^\s*(and|also|but|or|what about|how about|same)\b|\b(it|its|they|them|their|this|that|"
    r"these|those|there|he|she|one|ones)\b",
    re.IGNORECASE,
)
_PREP_WORD = re.compile(
    r"\b(for|in|of|on|with|about|to|from|at|by|under|into|over)\s+(?:the\s+|a\s+|an\s+)?"
    r"([A-Za-z0-9][A-Za-z0-9_.+#-]*)",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\s*(standalone question|question)\s*:\s*", re.IGNORECASE)
# the extractive answerer's stop words, and the verbs of asking that carry no topic
STOP_WORDS = STOPWORDS | frozenset(
    ["please", "tell", "explain", "show", "give", "know", "want", "like"]
)


def condense(
    history: Sequence[Message],
    question: str,
    model: ChatModel | None = None,
    prompt: str = "condense@1",
) -> str:
    """`question` rewritten to stand alone given the earlier turns `history` (see the module
    docstring); the question itself when there is no history."""
    turns = [m for m in history if m.role in ("user", "assistant") and m.content.strip()]
    if not turns:
        return question
    if model is not None:
        rewritten = _with_model(turns, question, model, prompt)
        if rewritten:
            return rewritten
    return carry_terms(turns, question)


def carry_terms(history: Sequence[Message], question: str) -> str:
    """The offline fallback: `question` plus the previous user turns' key terms it lacks."""
    own = set(content_words(question))
    if len(own) > FOLLOW_UP_WORDS and not _POINTING.search(question):
        return question
    carried: list[str] = []
    users = [m.content for m in history if m.role == "user"][-_TURNS:]
    slots = _slots(question)
    for text in reversed(users):  # the latest turn's terms first
        replaced = {w.lower() for prep, w in _PREP_WORD.findall(text) if prep.lower() in slots}
        for word in content_words(text):
            if word not in own and word not in carried and word not in replaced:
                carried.append(word)
    carried = carried[:MAX_TERMS]
    return f"{question.strip()} {' '.join(carried)}" if carried else question


def _slots(question: str) -> set[str]:
    """The prepositions the question fills ("and for exchanges?" -> {"for"})."""
    return {prep.lower() for prep, _ in _PREP_WORD.findall(question)}


def content_words(text: str) -> list[str]:
    """The words of `text` that carry meaning: lower-cased, stop words and 1-letter words out."""
    words = (w.lower() for w in _WORD.findall(text))
    return [w for w in words if len(w) > 1 and w not in STOP_WORDS]


def _with_model(history: Sequence[Message], question: str, model: ChatModel, prompt: str) -> str:
    lines = [f"{m.role.capitalize()}: {' '.join(m.content.split())}" for m in history]
    conversation = "\n".join(lines)[-_MAX_HISTORY_CHARS:]
    rendered = resolve_prompt(prompt).render(conversation=conversation, question=question)
    request = ChatRequest(
        messages=rendered.messages, max_tokens=96, temperature=0.0, prompt=rendered.prompt
    )
    try:
        reply = model.complete(request).text
    except ProviderError:
        return ""  # the fallback still retrieves; the answer step reports a real outage
    first = next((line for line in reply.splitlines() if line.strip()), "")
    rewritten = _LABEL.sub("", first).strip().strip("\"'").strip()
    # a reply that drops every word of the question, or rambles, is not a rewrite of it
    if not rewritten or len(rewritten) > 3 * len(question) + 200:
        return ""
    if not set(content_words(question)) & set(content_words(rewritten)):
        return ""
    return rewritten
