"""Where and how documents are embedded: device, precision, batch size, tokenizing ahead.

    plan = plan_documents(EmbeddingConfig(device="auto"), cuda_devices=1, cpus=16)
    plan.device, plan.precision, plan.batch_size     # ("cuda", "fp16", 256)
    plan.tokenizer_threads                           # 8: tokenizing keeps up with the GPU
    plan_documents(EmbeddingConfig(), cuda_devices=0, cpus=2).precision   # "fp32" on CPU

Pure functions over the config and what torch reports (`cuda_devices`: how many CUDA devices it
sees), so every rule is tested without a GPU; `visible_cuda_devices` is the one call into torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from ragline.rag.config import EmbeddingConfig, check_device

Precision = Literal["fp32", "fp16"]


class DeviceUnavailable(ValueError):
    """The configured device does not exist here; the message names the setting to change."""


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """How document batches run: resolved device, weights' precision, texts per forward pass,
    and how many worker threads tokenize the next batches while the device runs (0: none)."""

    device: str
    precision: Precision
    batch_size: int
    tokenizer_threads: int

    @property
    def on_gpu(self) -> bool:
        return self.device.split(":")[0] != "cpu"


def resolve_device(setting: str, cuda_devices: int) -> str:
    """The torch device for `setting` when torch sees `cuda_devices` CUDA devices.

    auto: "cuda" when there is one, else "cpu". An explicit CUDA device that does not exist
    raises `DeviceUnavailable` rather than silently running on the CPU.
    """
    check_device(setting)
    if setting == "auto":
        return "cuda" if cuda_devices > 0 else "cpu"
    if setting.startswith("cuda"):
        index = int(setting.partition(":")[2] or 0)
        if index >= cuda_devices:
            seen = f"{cuda_devices} CUDA device(s)" if cuda_devices else "no CUDA device"
            raise DeviceUnavailable(
                f"embedding.device {setting!r}: torch sees {seen} here; set embedding.device "
                "to auto or cpu (or install a CUDA build of torch)"
            )
    return setting


def resolve_precision(setting: str, device: str) -> Precision:
    """fp16 on CUDA and fp32 elsewhere for "auto"; an explicit fp16 off CUDA is refused (CPU
    kernels for half precision are slow or missing, and the vectors would differ for nothing)."""
    on_cuda = device.split(":")[0] == "cuda"
    if setting == "auto":
        return "fp16" if on_cuda else "fp32"
    if setting == "fp16" and not on_cuda:
        raise DeviceUnavailable(
            f"embedding.precision fp16 needs a CUDA device, but documents run on {device!r}; "
            "set embedding.precision to auto or fp32"
        )
    if setting not in ("fp32", "fp16"):
        raise ValueError(f"embedding.precision {setting!r} is not auto, fp32 or fp16")
    return "fp16" if setting == "fp16" else "fp32"


# Tokenizer threads on a GPU machine: one Rust tokenizer thread gives ~4,000 MiniLM passages/s
# (~170 word-pieces) on this 2-core VM, half the GPU target (8,000/s); the GIL is released
# while it encodes, so threads add up. Capped: more would starve the thread feeding the GPU.
MAX_TOKENIZER_THREADS = 8


def tokenizer_threads(device: str, cpus: int) -> int:
    """Worker threads that tokenize the next batches while the device runs this one.

    On a GPU the forward pass leaves the CPU idle: up to `MAX_TOKENIZER_THREADS`, one core
    left for the thread that feeds the device. On CPU none: tokenizing is under 1% of a
    batch's time there (~4,000 passages/s vs ~10-50 embedded), and a worker only competes
    with torch for the cores (measured on 2 shared cores: no gain beyond the noise).
    """
    if device.split(":")[0] == "cpu":
        return 0
    return max(1, min(MAX_TOKENIZER_THREADS, cpus - 1))


def plan_documents(config: EmbeddingConfig, cuda_devices: int, cpus: int) -> DevicePlan:
    """The `DevicePlan` for `config` when torch sees `cuda_devices` CUDA devices and the
    process may use `cpus` cores."""
    device = resolve_device(config.device, cuda_devices)
    on_gpu = device.split(":")[0] != "cpu"
    return DevicePlan(
        device=device,
        precision=resolve_precision(config.precision, device),
        batch_size=config.gpu_batch_size if on_gpu else config.batch_size,
        tokenizer_threads=tokenizer_threads(device, cpus),
    )


def usable_cpus() -> int:
    """The cores this process may run on (its affinity where the OS tells it)."""

    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def visible_cuda_devices() -> int:
    """How many CUDA devices torch sees (0 without a CUDA build); imports torch."""
    import torch

    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
