"""Rerankers: score (query, chunk) pairs jointly and reorder retrieved hits.

    reranker = make_reranker(RerankConfig(model="path/to/cross-encoder", top_n=3))
    best = reranker.rerank("why does dough rise?", hits, top_n=3)

No cross-encoder ships offline, so `RerankConfig()` means no reranking (`NoReranker`).
`CrossEncoderReranker` takes a sentence-transformers CrossEncoder name or local path and
loads it on first use (or `warm_up()`); a model that cannot be loaded raises `RerankError`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ragline.core.index import Hit, rank
from ragline.rag.errors import RagError


class RerankError(RagError):
    """The rerank model could not be loaded or run."""


class RerankConfig(BaseModel):
    """The reranker: `model` None means none; else a CrossEncoder name or local path.

    RerankConfig(model="cross-encoder/ms-marco-MiniLM-L6-v2", top_n=3)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, description="CrossEncoder name or local path; null: none")
    top_n: int = Field(3, gt=0, le=1000, description="hits kept after reranking")
    batch_size: int = Field(32, gt=0)
    device: str = "cpu"
    max_length: int | None = Field(None, gt=0, description="tokens per (query, chunk) pair")


@runtime_checkable
class Reranker(Protocol):
    """Reorders hits for a query: the best `top_n`, scores replaced by the reranker's."""

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int) -> list[Hit]:
        """Best first, equal scores ordered by id."""
        ...


class NoReranker:
    """The `Reranker` that keeps the retrieval order and scores: the first `top_n` hits.

    NoReranker().rerank("q", hits, top_n=3) == list(hits[:3])
    """

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int) -> list[Hit]:
        _check_top_n(top_n)
        return list(hits[:top_n])


class CrossEncoderReranker:
    """`Reranker` over a sentence-transformers CrossEncoder, loaded on first use.

    reranker = CrossEncoderReranker(RerankConfig(model="models/my-cross-encoder"))
    reranker.warm_up()                       # optional: load now rather than on first query
    reranker.rerank("query", hits, top_n=3)  # scores are the model's (after its activation)
    """

    def __init__(self, config: RerankConfig) -> None:
        if not config.model:
            raise ValueError("CrossEncoderReranker needs rerank.model (a name or a local path)")
        self.config = config
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return str(self.config.model)

    def warm_up(self) -> None:
        """Load the model now (it is otherwise loaded by the first `rerank`)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()

    def _load(self) -> Any:
        try:
            from sentence_transformers import CrossEncoder
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            return CrossEncoder(
                _resolve(str(self.config.model)),
                device=self.config.device,
                max_length=self.config.max_length,
            )
        except (OSError, ValueError, RuntimeError) as exc:
            offline = os.environ.get("HF_HUB_OFFLINE") == "1"
            hint = " (HF_HUB_OFFLINE=1: give a local path)" if offline else ""
            raise RerankError(
                f"cannot load rerank model {self.config.model!r}{hint}: {exc}. Set rerank.model "
                "to a CrossEncoder name or local path, or to null for no reranking."
            ) from exc

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """The model's score of each (query, text) pair, in the order given."""
        if not texts:
            return []
        self.warm_up()
        scores = self._model.predict(
            [(query, text) for text in texts],
            batch_size=self.config.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return [float(s) for s in scores]

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int) -> list[Hit]:
        _check_top_n(top_n)
        scores = self.score(query, [str(h.payload.get("text", "")) for h in hits])
        rescored = [Hit(h.id, s, h.payload) for h, s in zip(hits, scores, strict=True)]
        return rank(rescored)[:top_n]


def make_reranker(config: RerankConfig) -> Reranker:
    """`NoReranker` when `config.model` is unset, else a (lazily loaded) CrossEncoder."""
    return CrossEncoderReranker(config) if config.model else NoReranker()


def _resolve(model: str) -> str:
    path = os.path.expanduser(model)
    return path if os.path.exists(path) else model


def _check_top_n(top_n: int) -> None:
    if top_n <= 0:
        raise ValueError(f"top_n must be a positive number of hits; got {top_n}")
