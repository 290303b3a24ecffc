"""The seams `evals` needs from the outside: an `Embedder` and a `JudgeModel`.

`evals` imports no other ragline package, so it names the two objects it calls here, as narrow
protocols. `serving` plugs real ones in: ragline's `SentenceTransformerEmbedder` satisfies
`Embedder` as it is, and a small adapter turns the `llm_router.Router` into a `JudgeModel`
(so judge calls are cached, retried, budgeted and costed by the router).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np
from numpy.typing import NDArray

EmbedKind: TypeAlias = Literal["query", "document"]
FloatMatrix: TypeAlias = NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Dense text embeddings: one float32 row per text, shape (len(texts), dim), L2-normalised.

    vectors = embedder.embed(["Paris is the capital.", "It is Paris."])   # (2, 384) float32
    float(vectors[0] @ vectors[1])                                        # cosine similarity
    """

    def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> FloatMatrix: ...


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

    Sampling settings (temperature 0 for reproducible, cacheable grades) are the
    implementation's business. Raising any `Exception` (timeout, rate limit, budget exceeded)
    is allowed: `evals.judge` records the item as unmeasured with the error and goes on.
    """

    @property
    def name(self) -> str:
        """The model that grades, e.g. "openai:gpt-4o-mini"; shown in reports."""
        ...

    def judge(self, system: str, prompt: str, max_tokens: int) -> JudgeReply: ...
