"""The judge seam `evals` needs from the outside: a `JudgeModel` (the `Embedder` it uses is
`ragline.core.embedding.Embedder`).

`evals` imports no other ragline package but core, so it names the object it calls here, as a
narrow protocol. `serving` plugs a real one in: a small adapter turns the
`ragline.llm_router.Router` into a `JudgeModel` (so judge calls are cached, retried, budgeted
and costed by the router).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class JudgeReply:
    """What a judge model answered, with what it cost.

    JudgeReply(text='{"score": 1, "reason": "on topic"}', tokens_in=120, tokens_out=14,
               cost_usd=0.00003, cached=False)

    `cached`: the reply came from a cache (the router's exact cache makes reruns free; its
    `cost_usd` is then 0).
    """

    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    cached: bool = False


@runtime_checkable
class JudgeModel(Protocol):
    """An LLM that grades: a system prompt and a user prompt in, a `JudgeReply` out.

    reply = judge.judge(system="You grade answers.", prompt="...", max_tokens=512)

    Sampling settings (temperature 0 for reproducible, cacheable grades) are the implementation's
    business. Raising any `Exception` (timeout, rate limit, budget exceeded) is allowed:
    `ragline.evals.judges.judge` records the item as unmeasured with the error and goes on.
    """

    @property
    def name(self) -> str:
        """The model that grades, e.g. "openai:gpt-4o-mini"; shown in reports."""
        ...

    def judge(self, system: str, prompt: str, max_tokens: int) -> JudgeReply: ...
