"""Query embeddings through ONNX Runtime: the same transformer, exported once, ~3x faster per query.

    encoder = OnnxQueryEncoder.create(embedder.model, name="all-MiniLM-L6-v2")
    if encoder is not None:                      # None: this pipeline stays on torch
        vectors = encoder.encode(["how do I reset my password?"])   # float32 (1, 384)

Short queries are dominated by per-call overhead in torch; a single-threaded ONNX Runtime session
answers them in about a third of the time. Only pipelines whose output we reproduce exactly are
served: Transformer -> Pooling (mean or cls) -> optional Normalize, on CPU. `load` raises
`OnnxUnsupported` with the reason for anything else (other modules, onnxruntime missing, a failed
export, or an ONNX output that does not match torch on probe sentences); `create` returns None.

The export is cached as `<cache>/<model>-<key>.onnx`, where the key hashes the weights files'
path, size and mtime with the transformers/torch versions, so a changed model re-exports.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.errors import EmbeddingError
from rag.types import FloatMatrix

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


class OnnxUnsupported(EmbeddingError):
    """Why queries cannot go through ONNX for this model; the embedder keeps torch."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the ONNX path must reproduce of the SentenceTransformer pipeline."""

    pooling: Literal["mean", "cls"]
    normalize: bool
    inputs: tuple[str, ...]
    max_length: int


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/ragline/onnx, or ~/.cache/ragline/onnx."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    return root / "ragline" / "onnx"


class OnnxQueryEncoder:
    """A SentenceTransformer's query embeddings from an ONNX Runtime session (CPU, 1 thread).

        encoder = OnnxQueryEncoder.load(model, cache_dir=tmp)   # raises OnnxUnsupported
        encoder.encode(["a query"]).shape == (1, 384)
        encoder.exported                                       # False when the cache was reused

    `encode` returns what `model.encode(texts)` returns (no extra normalisation): callers apply
    their own prefix, normalisation and truncation exactly as on the torch path.
    """

    def __init__(self, session: Any, tokenizer: Any, plan: _Plan, path: Path, exported: bool):
        self._session = session
        self._tokenizer = tokenizer
        self._plan = plan
        self.path = path
        self.exported = exported

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
        cls, model: Any, cache_dir: Path | None = None, name: str | None = None
    ) -> OnnxQueryEncoder:
        """Export (once) and load `model`'s transformer; verify it against torch on probes."""
        plan = _plan(model)
        ort = _onnxruntime()
        path = _cache_path(model, cache_dir or default_cache_dir(), name, plan)
        if path.exists():
            session = _session(ort, path)
            if session is not None:
                encoder = cls(session, model.tokenizer, plan, path, exported=False)
                if encoder.agreement(model) >= MIN_COSINE:
                    return encoder
        # Missing, corrupt or stale: (re-)export, then the new file must pass the same check.
        _export(model, plan, path)
        session = _session(ort, path)
        if session is None:
            raise OnnxUnsupported(f"onnxruntime cannot load the exported {path}")
        encoder = cls(session, model.tokenizer, plan, path, exported=True)
        cosine = encoder.agreement(model)
        if cosine < MIN_COSINE:
            raise OnnxUnsupported(
                f"ONNX and torch embeddings differ (cosine {cosine:.6f} < {MIN_COSINE}); "
                "set embedding.query_backend: torch to silence this check"
            )
        return encoder

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
        """The pipeline's sentence embeddings for `texts`, float32 (n, dim)."""
        plan = self._plan
        batch = self._tokenizer(
            list(texts),
            padding=True,
            truncation="longest_first",
            max_length=plan.max_length,
            return_tensors="np",
        )
        feed = {key: np.asarray(batch[key], dtype=np.int64) for key in plan.inputs}
        hidden = np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
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


def _plan(model: Any) -> _Plan:
    """The pipeline as a `_Plan`, or OnnxUnsupported naming what ONNX would not reproduce."""
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
    return _Plan(pooling_mode, bool(kinds[2:]), inputs, int(max_length))


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


def _cache_path(model: Any, cache_dir: Path, name: str | None, plan: _Plan) -> Path:
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
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name or folder.name).strip("._") or "model"
    return cache_dir / f"{slug}-{key}.onnx"


def _session(ort: Any, path: Path) -> Any | None:
    """An ONNX Runtime session on `path`, or None when the file cannot be loaded (corrupt)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a query is small: threads cost more than they save
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    state = importlib.import_module("onnxruntime.capi.onnxruntime_pybind11_state")
    load_errors = tuple(getattr(state, name) for name in _LOAD_ERRORS if hasattr(state, name))
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except load_errors:
        return None


def _export(model: Any, plan: _Plan, path: Path) -> None:
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
