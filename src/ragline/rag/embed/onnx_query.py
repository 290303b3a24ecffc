"""Query embeddings through ONNX Runtime: the same transformer, exported once, ~3x faster per query.

    encoder = OnnxQueryEncoder.create(embedder.model, name="all-MiniLM-L6-v2")
    if encoder is not None:                      # None: this pipeline stays on torch
        vectors = encoder.encode(["how do I reset my password?"])   # float32 (1, 384)

    # a later process, with no torch: None unless a current sidecar exists (see onnx_sidecar)
    fast = OnnxQueryEncoder.from_sidecar("all-MiniLM-L6-v2", model_folder)

Short queries are dominated by per-call overhead in torch; a single-threaded ONNX Runtime session
answers them in about a third of the time. Only pipelines whose output we reproduce exactly are
served: Transformer -> Pooling (mean or cls) -> optional Normalize, on CPU. `load` raises
`OnnxUnsupported` with the reason for anything else (other modules, onnxruntime missing, a failed
export, or an ONNX output that does not match torch on probe sentences); `create` returns None.

The export is cached as `<cache>/<model>-<key>.onnx`, where the key hashes the weights files' path,
size and mtime with the transformers/torch versions, so a changed model re-exports. When `load` is
told the folder the model came from (`source`), a checked export also gets a sidecar
(`ragline.rag.embed.onnx_sidecar`), from which `from_sidecar` starts with onnxruntime and tokenizers
only: no torch, transformers or sentence-transformers import, no model load.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ragline.core.types import FloatMatrix
from ragline.rag.embed.onnx_sidecar import (
    PlainTokenizer,
    Plan,
    Tokenize,
    cache_slug,
    find_sidecar,
    hf_tokenize,
    record_sidecar,
)
from ragline.rag.errors import EmbeddingError

OPSET = 17
MIN_COSINE = 0.9999
_EXPORT_VERSION = 1  # bump when the wrapper or the export arguments change: old files re-export
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# What onnxruntime raises for an unreadable file (garbage: InvalidProtobuf; empty: InvalidArgument).
_LOAD_ERRORS = (
    "InvalidProtobuf",
    "InvalidArgument",
    "InvalidGraph",
    "NoModel",
    "NoSuchFile",
    "Fail",
)
_WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "config.json")
# Probes differ in length (padding) and in batch size from the export's sample, so a trace that
# baked in a shape fails the check. Short: the check runs at every start-up.
_PROBES = (
    "ragline checks that ONNX Runtime and torch give the same embedding.",
    "short probe",
    "Does the exported graph handle a third, medium-length sentence?",
)
_EXPORT_SAMPLE = ("export sample", "a second, longer export sample sentence")
# Sub-batch of `encode_many`. 931 short queries on 2 cores, quiet: 4-8 ~1.9 s, 16 2.2 s, 64 4.6 s
# (torch, batches of 64: 3.7 s); busy: 8 4.3-6.1 s, 32 9-12 s (torch 21-40 s). Sorted by length,
# small batches hardly pad, and each fits the caches.
MANY_BATCH = 8


class OnnxUnsupported(EmbeddingError):
    """Why queries cannot go through ONNX for this model; the embedder keeps torch."""


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/ragline/onnx, or ~/.cache/ragline/onnx."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    return root / "ragline" / "onnx"


class OnnxQueryEncoder:
    """A SentenceTransformer's query embeddings from an ONNX Runtime session (CPU, 1 thread).

        encoder = OnnxQueryEncoder.load(model, cache_dir=tmp)   # raises OnnxUnsupported
        encoder.encode(["a query"]).shape == (1, 384)
        encoder.encode_many(queries)                           # big batches: every core
        encoder.exported                                       # False when the cache was reused

    `encode` returns what `model.encode(texts)` returns (no extra normalisation): callers apply
    their own prefix, normalisation and truncation exactly as on the torch path.
    """

    def __init__(
        self, session: Any, tokenize: Tokenize, plan: Plan, path: Path, *, exported: bool, dims: int
    ) -> None:
        self._session = session
        self._tokenize = tokenize
        self._plan = plan
        self.path = path
        self.exported = exported
        self.dims = dims
        self._wide: Any = None  # the session with a thread per core, made on first need
        self._lock = threading.Lock()

    @property
    def plan(self) -> Plan:
        """The pipeline this encoder reproduces (pooling, normalisation, inputs, window)."""
        return self._plan

    @property
    def tokenizer(self) -> Tokenize:
        """What `encode` tokenizes with (a `PlainTokenizer` when started from a sidecar)."""
        return self._tokenize

    @classmethod
    def create(
        cls, model: Any, cache_dir: Path | None = None, name: str | None = None
    ) -> OnnxQueryEncoder | None:
        """The encoder, or None where `load` would raise `OnnxUnsupported`."""
        try:
            return cls.load(model, cache_dir, name)
        except OnnxUnsupported:
            return None

    @classmethod
    def load(
        cls,
        model: Any,
        cache_dir: Path | None = None,
        name: str | None = None,
        *,
        source: Path | None = None,
    ) -> OnnxQueryEncoder:
        """Export (once) and load `model`'s transformer; verify it against torch on probes.

        `source`: the folder `model` was loaded from; a checked export then gets a sidecar for
        `from_sidecar`. Without it (a pipeline built in memory) no sidecar is written.
        """
        plan = _plan(model)
        ort = _onnxruntime()
        path = _cache_path(model, cache_dir or default_cache_dir(), name, plan)
        tokenize = hf_tokenize(model.tokenizer, plan.max_length)
        dims = _model_dims(model)
        encoder = None
        if path.exists():
            session = _session(ort, path)
            if session is not None:
                cached = cls(session, tokenize, plan, path, exported=False, dims=dims)
                encoder = cached if cached.agreement(model) >= MIN_COSINE else None
        if encoder is None:  # missing, corrupt or stale: (re-)export, then check the new file
            _export(model, plan, path)
            session = _session(ort, path)
            if session is None:
                raise OnnxUnsupported(f"onnxruntime cannot load the exported {path}")
            encoder = cls(session, tokenize, plan, path, exported=True, dims=dims)
            cosine = encoder.agreement(model)
            if cosine < MIN_COSINE:
                raise OnnxUnsupported(
                    f"ONNX and torch embeddings differ (cosine {cosine:.6f} < {MIN_COSINE}); "
                    "set embedding.query_backend: torch to silence this check"
                )
        if source is not None:
            record_sidecar(encoder.path, plan, dims, model.tokenizer, (name or source.name, source))
        return encoder

    @classmethod
    def from_sidecar(
        cls, name: str, source: Path, cache_dir: Path | None = None
    ) -> OnnxQueryEncoder | None:
        """The encoder of model `name` (loaded from folder `source`) from its sidecar, without
        importing torch, transformers or sentence-transformers; None when there is no current
        sidecar (missing, corrupt, or the model files or package versions changed)."""
        folder = cache_dir or default_cache_dir()
        sidecar = find_sidecar(folder, name, source)
        if sidecar is None:
            return None
        try:
            ort = _onnxruntime()
            tokenizer = PlainTokenizer.load(sidecar, folder)
        except (OnnxUnsupported, OSError, ValueError):
            return None
        except Exception:  # noqa: BLE001 - tokenizers raises a bare Exception for a bad file
            return None  # the caller falls back to the torch path, which rewrites the sidecar
        path = folder / sidecar.export[0]
        session = _session(ort, path)
        if session is None:
            return None
        return cls(session, tokenizer, sidecar.plan, path, exported=False, dims=sidecar.dims)

    def agreement(self, model: Any) -> float:
        """The lowest cosine between this encoder's and `model.encode`'s probe embeddings."""
        ours = self.encode(_PROBES)
        theirs = np.asarray(
            model.encode(list(_PROBES), convert_to_numpy=True, show_progress_bar=False),
            dtype=np.float32,
        )
        if ours.shape != theirs.shape:
            return -1.0
        dots = (ours * theirs).sum(axis=1)
        norms = np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
        return float(np.min(dots / np.maximum(norms, 1e-12)))

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        """The pipeline's sentence embeddings for `texts`, float32 (n, dim), on one thread."""
        return self._run(self._session, texts)

    def encode_many(self, texts: Sequence[str], batch_size: int = MANY_BATCH) -> FloatMatrix:
        """`encode` for a large batch: shortest texts first in sub-batches of `batch_size` (little
        padding), on a session with a thread per core; rows come back in the order given."""
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        session = self._wide_session()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = [
            self._run(session, [texts[i] for i in order[start : start + batch_size]])
            for start in range(0, len(order), batch_size)
        ]
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        out[order] = np.concatenate(parts)
        return out

    def _wide_session(self) -> Any:
        threads = os.cpu_count() or 1
        with self._lock:
            if self._wide is None:
                wide = _session(_onnxruntime(), self.path, threads) if threads > 1 else None
                self._wide = wide or self._session  # a file gone since: the 1-thread session
            return self._wide

    def _run(self, session: Any, texts: Sequence[str]) -> FloatMatrix:
        plan = self._plan
        batch = self._tokenize(list(texts))
        feed = {key: np.asarray(batch[key], dtype=np.int64) for key in plan.inputs}
        hidden = np.asarray(session.run(None, feed)[0], dtype=np.float32)
        mask = feed["attention_mask"].astype(np.float32)
        if plan.pooling == "cls":
            # The first attended position, as Pooling does (left padding puts [CLS] later).
            out = hidden[np.arange(hidden.shape[0]), mask.argmax(axis=1)]
        else:
            summed = (hidden * mask[..., None]).sum(axis=1)
            out = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        if plan.normalize:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(out, dtype=np.float32)


def _model_dims(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None)  # newer name, same meaning
    return int(getter() if getter else model.get_sentence_embedding_dimension())


def _plan(model: Any) -> Plan:
    """The pipeline as a `Plan`, or OnnxUnsupported naming what ONNX would not reproduce."""
    modules = list(model)
    kinds = [type(m).__name__ for m in modules]
    shape_ok = kinds[:2] == ["Transformer", "Pooling"] and kinds[2:] in ([], ["Normalize"])
    if not shape_ok:
        raise OnnxUnsupported(
            f"pipeline {' -> '.join(kinds)} is not Transformer -> Pooling [-> Normalize]"
        )
    transformer, pooling = modules[0], modules[1]
    mode = getattr(pooling, "pooling_mode", None)
    if not isinstance(mode, str):  # sentence-transformers < 6: boolean flags
        mode = pooling.get_pooling_mode_str()
    if mode not in ("mean", "cls"):
        raise OnnxUnsupported(f"pooling {mode!r} is not mean or cls")
    if str(getattr(model, "device", "cpu")).split(":")[0] != "cpu":
        raise OnnxUnsupported(f"model runs on {model.device}; the ONNX path is CPU only")
    _check_transformer(model, transformer)
    tokenizer = model.tokenizer
    probe = tokenizer(["probe"], return_tensors="np")
    accepted = set(_forward_params(transformer.auto_model))
    inputs = tuple(k for k in _INPUTS if k in probe and k in accepted)
    if inputs[:2] != ("input_ids", "attention_mask"):
        raise OnnxUnsupported(
            f"tokenizer gives {sorted(probe)}, expected input_ids, attention_mask"
        )
    max_length = model.max_seq_length or tokenizer.model_max_length
    pooling_mode: Literal["mean", "cls"] = "cls" if mode == "cls" else "mean"
    return Plan(pooling_mode, bool(kinds[2:]), inputs, int(max_length))


def _check_transformer(model: Any, transformer: Any) -> None:
    """Refuse the Transformer features the plain tokenizer + forward pass would not reproduce."""
    expected = {"text": {"method": "forward", "method_output_name": "last_hidden_state"}}
    modality = getattr(transformer, "modality_config", expected)
    if {k: dict(v) for k, v in modality.items()} != expected:
        raise OnnxUnsupported(f"transformer modality config {modality} is not plain text")
    if getattr(transformer, "transformer_task", "feature-extraction") != "feature-extraction":
        raise OnnxUnsupported(f"transformer task {transformer.transformer_task!r}")
    if getattr(transformer, "can_flatten_inputs", False):
        raise OnnxUnsupported("transformer unpads its inputs (flash attention)")
    if (getattr(transformer, "processing_kwargs", None) or {}).get("text"):
        raise OnnxUnsupported("transformer has its own text processing_kwargs")
    if getattr(model, "truncate_dim", None) or getattr(model, "default_prompt_name", None):
        raise OnnxUnsupported("model sets truncate_dim or a default prompt itself")


def _forward_params(module: Any) -> list[str]:
    """The keyword names `module.forward` accepts."""
    return list(inspect.signature(module.forward).parameters)


def _onnxruntime() -> Any:
    try:
        return importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise OnnxUnsupported(
            f"onnxruntime is not installed ({exc}): pip install onnxruntime"
        ) from exc


def _cache_path(model: Any, cache_dir: Path, name: str | None, plan: Plan) -> Path:
    """`<cache>/<model name>-<12 hex of the weights' identity and the exporter's versions>.onnx`."""
    import torch
    import transformers

    folder = Path(str(model[0].auto_model.name_or_path)).expanduser()
    files = sorted({f for pattern in _WEIGHT_PATTERNS for f in folder.glob(pattern) if f.is_file()})
    if not any(f.name != "config.json" for f in files):
        raise OnnxUnsupported(f"no weights file in {folder} to key the ONNX cache on")
    identity = {
        "weights": [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files],
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "opset": OPSET,
        "export": _EXPORT_VERSION,
        "inputs": plan.inputs,
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return cache_dir / f"{cache_slug(name or folder.name)}-{key}.onnx"


def _session(ort: Any, path: Path, threads: int = 1) -> Any | None:
    """An ONNX Runtime session on `path`, or None when the file cannot be loaded (corrupt).

    One thread by default: a query is small, and threads cost it more than they save.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if threads > 1:
        # Spinning workers wait on peers the OS has descheduled: on a busy 2-core box 931
        # queries took 3.6-8.7 s spinning, 3.1-4.4 s not.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    state = importlib.import_module("onnxruntime.capi.onnxruntime_pybind11_state")
    load_errors = tuple(getattr(state, name) for name in _LOAD_ERRORS if hasattr(state, name))
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except load_errors:
        return None


def _export(model: Any, plan: Plan, path: Path) -> None:
    """Trace the transformer to ONNX at `path`, via a temp file so a crash leaves no half file."""
    import torch

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OnnxUnsupported(f"cannot write the ONNX cache {path.parent}: {exc}") from exc
    auto_model = model[0].auto_model
    batch = model.tokenizer(list(_EXPORT_SAMPLE), padding=True, return_tensors="pt")
    args = tuple(batch[k] for k in plan.inputs)
    axes = {k: {0: "batch", 1: "tokens"} for k in (*plan.inputs, "last_hidden_state")}
    training = auto_model.training
    try:
        auto_model.eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter; the probe check judges the result
            torch.onnx.export(
                _wrap(auto_model, plan.inputs),
                args,
                tmp,
                input_names=list(plan.inputs),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    except (RuntimeError, TypeError, ValueError, ImportError, OSError) as exc:
        raise OnnxUnsupported(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
    finally:
        auto_model.train(training)
        Path(tmp).unlink(missing_ok=True)


def _wrap(auto_model: Any, names: tuple[str, ...]) -> Any:
    """A module taking the inputs positionally and returning last_hidden_state only.

    HF forward()'s positional order changes between versions; keywords keep the trace right.
    """
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = auto_model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.inner(
                **dict(zip(names, tensors, strict=True))
            ).last_hidden_state
            return hidden

    return Wrapper()
