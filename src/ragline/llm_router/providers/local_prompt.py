"""Exact prompt tokens of the `local` provider: the chat template llama.cpp applies, rendered
and tokenized the way `Llama.create_chat_completion` does it.

    template_tokens(llama, wire_messages(request.messages))      # None: the format is unknown

llama-cpp-python picks a chat format when it loads a GGUF: the GGUF's own template
(`tokenizer.chat_template`, rendered by its `Jinja2ChatFormatter`: the packaged SmolLM2), or a
built-in format when that template is exactly a known one (chatml, llama-3, mistral-instruct),
or llama-2 when the GGUF has no template. Rendering the same formatter and tokenizing with
`Llama.tokenize` gives the prompt tokens llama.cpp reports, to the token, also where it
reports none (streams). A custom `chat_handler` or another format gives None: the caller
estimates instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import ChatFormatterResponse

Formatter = Callable[..., "ChatFormatterResponse"]
GGUF_FORMAT = "chat_template.default"  # llama-cpp-python's name for the GGUF's own template
# The built-in formats llama-cpp-python chooses by itself, and the functions that render them.
_BUILTIN = {
    "chatml": "format_chatml",
    "llama-3": "format_llama3",
    "mistral-instruct": "format_mistral_instruct",
    "llama-2": "format_llama2",
}


def template_tokens(
    llama: Llama, messages: Sequence[object], tools: Sequence[object] | None = None
) -> int | None:
    """Tokens of the prompt `llama` builds from `messages` (OpenAI wire dicts) and `tools`,
    or None when its chat format is one this module does not know."""
    formatter = _formatter(llama)
    if formatter is None:
        return None
    rendered = formatter(messages=list(messages), tools=list(tools) if tools else None)
    tokens = llama.tokenize(
        rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
    )
    return len(tokens)


def text_tokens(llama: Llama, text: str) -> int:
    """Tokens of `text` in the model's own vocabulary (a generated answer, re-tokenized)."""
    return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0


def _formatter(llama: Llama) -> Formatter | None:
    from llama_cpp import llama_chat_format

    if llama.chat_handler is not None:
        return None  # a custom handler (multimodal, function calling): its prompt is its own
    if llama.chat_format == GGUF_FORMAT:
        template = llama.metadata.get("tokenizer.chat_template")
        if template is None:
            return None
        eos, bos = _token_text(llama, llama.token_eos()), _token_text(llama, llama.token_bos())
        return _jinja(template, eos, bos)
    name = _BUILTIN.get(llama.chat_format or "")
    found: Any = getattr(llama_chat_format, name, None) if name else None
    return found if callable(found) else None


@cache
def _jinja(template: str, eos: str, bos: str) -> Formatter:
    """The formatter llama-cpp-python builds from a GGUF template (compiled once per template)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)


def _token_text(llama: Llama, token: int) -> str:
    if token < 0:
        return ""
    return llama.detokenize([token], special=True).decode("utf-8", errors="replace")
