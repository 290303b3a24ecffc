"""Documents through an int8 copy of the ONNX export: dynamic quantization, ~2x fp32's rate.

    fp32 = OnnxQueryEncoder.load(model, cache_dir)          # the checked fp32 export
    int8 = int8_encoder(fp32, reference=fp32.encode)         # OnnxUnsupported if it drifts
    vectors = int8.encode_many(chunks)

`embedding.document_backend: onnx-int8` embeds documents (never queries) this way on a CPU.
ONNX Runtime's `quantize_dynamic` stores the MatMul weights as int8, one scale per output
channel (`per_channel`: per-tensor scales gave MiniLM a mean cosine of 0.95 to fp32 on the man
page set, per-channel 0.995), and quantizes activations on the fly. The copy is cached beside
the fp32 export as `<export stem>.int8.onnx` and rebuilt when the export is newer. Like the
fp32 export it is checked at every load, against torch when torch is loaded, else against the
fp32 export (itself checked against torch), with a looser bound: `MIN_COSINE_INT8`.
What it costs in retrieval quality, and gains in speed, is measured by bench/onnx_int8.py.
"""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ragline.core.types import FloatMatrix
from ragline.rag.embed.onnx_query import (
    _PROBES,
    OnnxQueryEncoder,
    OnnxUnsupported,
    _onnxruntime,
    _session,
)

# Lowest cosine to the reference on the probes: int8 weights move a MiniLM vector by ~0.005
# on average (0.96-0.99 with per-tensor scales, which this bound refuses).
MIN_COSINE_INT8 = 0.98

Reference = Callable[[Sequence[str]], FloatMatrix]


def int8_path(export: Path) -> Path:
    """`<cache>/<model>-<key>.onnx` -> `<cache>/<model>-<key>.int8.onnx`."""
    return export.with_name(export.stem + ".int8.onnx")


def int8_encoder(fp32: OnnxQueryEncoder, reference: Reference) -> OnnxQueryEncoder:
    """An encoder on the int8 copy of `fp32`'s export (quantized once, then cached), checked
    against `reference` (texts -> vectors: torch's `model.encode`, or `fp32.encode`).

    Raises `OnnxUnsupported` when the copy cannot be made or loaded, or drifts past
    `MIN_COSINE_INT8`; the caller then keeps the fp32 export.
    """
    path = int8_path(fp32.path)
    ort = _onnxruntime()
    fresh = not _current(path, fp32.path)
    if fresh:
        quantize(fp32.path, path)
    session = _session(ort, path)
    if session is None and not fresh:  # a damaged cached copy: make it again, once
        quantize(fp32.path, path)
        fresh, session = True, _session(ort, path)
    if session is None:
        raise OnnxUnsupported(f"onnxruntime cannot load the quantized {path}")
    encoder = OnnxQueryEncoder(
        session, fp32.tokenizer, fp32.plan, path, exported=fresh, dims=fp32.dims
    )
    cosine = agreement(encoder, reference)
    if cosine < MIN_COSINE_INT8:
        raise OnnxUnsupported(
            f"int8 ONNX and fp32 embeddings differ (cosine {cosine:.4f} < {MIN_COSINE_INT8}); "
            "set embedding.document_backend: onnx"
        )
    return encoder


def agreement(encoder: OnnxQueryEncoder, reference: Reference) -> float:
    """The lowest cosine between `encoder`'s and `reference`'s probe embeddings."""
    ours = encoder.encode(_PROBES)
    theirs = np.asarray(reference(list(_PROBES)), dtype=np.float32)
    if ours.shape != theirs.shape:
        return -1.0
    dots = (ours * theirs).sum(axis=1)
    norms = np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
    return float(np.min(dots / np.maximum(norms, 1e-12)))


def quantize(export: Path, path: Path) -> None:
    """Write the int8 copy of `export` at `path`, via a temp file (no half file on a crash)."""
    try:
        quantization = importlib.import_module("onnxruntime.quantization")
    except ImportError as exc:  # onnx, which the quantizer needs, is missing
        raise OnnxUnsupported(f"onnxruntime.quantization is unavailable: {exc}") from exc
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    root = logging.getLogger()
    root.addFilter(_no_preprocess_hint)
    try:
        # The quantizer warns about opset details; the agreement check judges the result.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantization.quantize_dynamic(
                str(export), tmp, weight_type=quantization.QuantType.QInt8, per_channel=True
            )
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    except (RuntimeError, ValueError, OSError) as exc:
        raise OnnxUnsupported(f"int8 quantization failed: {type(exc).__name__}: {exc}") from exc
    finally:
        root.removeFilter(_no_preprocess_hint)
        Path(tmp).unlink(missing_ok=True)


def _no_preprocess_hint(record: logging.LogRecord) -> bool:
    """Drop the quantizer's root-logger hint to pre-process the model first (shape inference
    for static quantization; dynamic quantization of a transformer gains nothing from it)."""
    return not str(record.msg).startswith("Please consider to run pre-processing")


def _current(path: Path, export: Path) -> bool:
    """Whether the cached copy exists and is not older than the export it was made from."""
    try:
        return path.stat().st_mtime_ns >= export.stat().st_mtime_ns
    except OSError:
        return False
