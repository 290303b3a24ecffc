"""Reply caps by purpose: the ``max_tokens`` a request gets when its caller names none.

    caps = {"grounded-answer": 512, "judge": 256, "condense": 96, "default": 384}
    purpose_of("judge-faithfulness@1")                  # 'judge-faithfulness'
    cap_for(caps, "judge-faithfulness@1")                # 256: the "judge" family
    with_default_cap(request, caps)                      # the router does this per call

A request's purpose is the name of the prompt template it was rendered from
(`ChatRequest.prompt`, "grounded-answer@2" -> "grounded-answer"; `ragline.core.prompts`). A
cap is looked up by that exact name, then by its families ("judge-context-recall" ->
"judge-context" -> "judge"), then ``default``. It applies only to a request that left
``max_tokens`` at `ChatRequest`'s own default (512: "the caller gave none"); a caller's explicit
value wins. Why per purpose: a judge's verdict needs a few dozen tokens and a synthesized
answer several hundred, so one global cap either truncates one or overpays the other;
``ragline costs report --truncated`` measures both from the ledger so the caps are set from data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ragline.core.chat import ChatRequest

__all__ = ["NO_PURPOSE", "REQUEST_DEFAULT", "cap_for", "purpose_of", "with_default_cap"]

NO_PURPOSE = "-"  # requests built without a prompt template
REQUEST_DEFAULT: int = ChatRequest.__dataclass_fields__["max_tokens"].default


def purpose_of(prompt: str | None) -> str:
    """The purpose of a request rendered from template `prompt` (its name without the version).

    Example:
        >>> purpose_of("grounded-answer@2"), purpose_of(None)
        ('grounded-answer', '-')
    """
    return prompt.partition("@")[0] if prompt else NO_PURPOSE


def cap_for(caps: Mapping[str, int], prompt: str | None) -> int | None:
    """The cap for template `prompt`: its name, then its families, then ``default``; None if
    none is configured.

    Example:
        >>> cap_for({"judge": 256, "default": 384}, "judge-faithfulness@1")
        256
        >>> cap_for({"judge": 256}, None) is None
        True
    """
    name = purpose_of(prompt)
    while name and name != NO_PURPOSE:
        if name in caps:
            return caps[name]
        name = name.rpartition("-")[0]
    return caps.get("default")


def with_default_cap(request: ChatRequest, caps: Mapping[str, int]) -> ChatRequest:
    """`request` with its purpose's cap, when the caller left ``max_tokens`` at the default.

    Example:
        >>> from ragline.core.chat import Message
        >>> asked = ChatRequest(messages=(Message("user", "hi"),), prompt="condense@1")
        >>> with_default_cap(asked, {"condense": 96}).max_tokens
        96
    """
    if request.max_tokens != REQUEST_DEFAULT or not caps:
        return request
    cap = cap_for(caps, request.prompt)
    return request if cap is None else dataclasses.replace(request, max_tokens=cap)
