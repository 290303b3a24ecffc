"""The router as an `evals.JudgeModel`: judge and synthesis calls cached, retried and costed.

    judge = RouterJudge(build_chat_router(settings, "openai:gpt-4o-mini"),
                        prompt="judge-faithfulness@1")
    reply = judge.judge(system="You grade answers.", prompt="...", max_tokens=256)
    reply.cost_usd, reply.cached           # 0.0 and True on a rerun (the exact cache answered)

`prompt` (the template id the judge's prompts are rendered from) goes on every request, so the
cost events of judge calls name it; `for_prompt` gives the same judge for another template.

Every call asks for temperature 0, so a rerun of the same suite sends byte-identical requests
and the router's exact cache answers them for free. Router errors (rate limit, budget, timeout)
propagate: `ragline.evals.judges.judge` records the item as unmeasured and goes on.
"""

from __future__ import annotations

import copy

from ragline.core.chat import ChatRequest, Message
from ragline.core.costs import current_scope
from ragline.evals.judges.protocol import JudgeReply
from ragline.llm_router.router import Router


class RouterJudge:
    """`ragline.evals.judges.protocol.JudgeModel` over a `Router` (thread-safe as the router is).

    `name` is the first deployment the router would try, e.g. "openai:gpt-4o-mini".
    """

    def __init__(self, router: Router, key: str = "eval-judge", prompt: str | None = None) -> None:
        self._router = router
        self._key = key
        self.prompt = prompt
        # Judges run on worker threads, outside the caller's context: bill the scope open now.
        scope = current_scope()
        self._request_id = scope.request_id if scope is not None else None

    def for_prompt(self, prompt: str) -> RouterJudge:
        """This judge (same router, key and billed request) asking with template `prompt`."""
        other = copy.copy(self)
        other.prompt = prompt
        return other

    @property
    def name(self) -> str:
        """The model that grades, as "provider:model"."""
        return self._router.deployments(self._key)[0].model

    def judge(self, system: str, prompt: str, max_tokens: int) -> JudgeReply:
        """One temperature-0 completion; its text, tokens, cost and whether a cache answered."""
        request = ChatRequest(
            messages=(Message("system", system), Message("user", prompt)),
            max_tokens=max_tokens,
            temperature=0.0,
            prompt=self.prompt,
        )
        done = self._router.complete(request, key=self._key, request_id=self._request_id)
        return JudgeReply(
            text=done.text,
            tokens_in=done.usage.tokens_in,
            tokens_out=done.usage.tokens_out,
            cost_usd=done.cost_usd,
            cached=done.cache is not None,
        )
