"""The router as ragas' judge: one place that wires `RouterChatModel` for
`ragline.evals.judges.ragas`.

    llm = ragas_llm(router)
    name = ragas_judge_name(router)                    # e.g. "openai:gpt-4o-mini"
    run = ragas_judge_all(items, "faithfulness", llm, embedder, judge_model=name)
    run.cost_usd, llm.usage().cache_hits

The chat model asks for temperature 0 under the "eval-judge" key (the same key as
`RouterJudge`), so ragas' prompts are cached, retried, budgeted and costed by the router and a
rerun of a suite is answered from the exact cache.
"""

from __future__ import annotations

from ragline.llm_router.langchain_chat import RouterChatModel
from ragline.llm_router.router import Router

JUDGE_KEY = "eval-judge"
DEFAULT_MAX_TOKENS = 1024  # ragas' statement lists and verdicts with reasons need room


def ragas_llm(router: Router, *, max_tokens: int | None = None) -> RouterChatModel:
    """A temperature-0 LangChain chat model over `router`; `max_tokens` None: 1024."""
    return RouterChatModel(
        router=router,
        temperature=0.0,
        max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
        key=JUDGE_KEY,
    )


def ragas_judge_name(router: Router) -> str:
    """The model that grades, as "provider:model": the first deployment for the judge's key."""
    return router.deployments(JUDGE_KEY)[0].model
