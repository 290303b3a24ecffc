"""Device, precision and batch-size rules of the document path: pure, no GPU needed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragline.rag.config import EmbeddingConfig
from ragline.rag.embed.device import (
    DevicePlan,
    DeviceUnavailable,
    plan_documents,
    resolve_device,
    resolve_precision,
    tokenizer_threads,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("setting", "cuda_devices", "device"),
    [
        ("auto", 0, "cpu"),
        ("auto", 2, "cuda"),
        ("cpu", 4, "cpu"),
        ("cuda", 1, "cuda"),
        ("cuda:1", 2, "cuda:1"),
        ("mps", 0, "mps"),
    ],
)
def test_resolve_device(setting: str, cuda_devices: int, device: str) -> None:
    assert resolve_device(setting, cuda_devices) == device


@pytest.mark.parametrize(("setting", "cuda_devices"), [("cuda", 0), ("cuda:1", 1), ("cuda:0", 0)])
def test_a_missing_cuda_device_is_an_error_not_a_silent_cpu(
    setting: str, cuda_devices: int
) -> None:
    with pytest.raises(DeviceUnavailable, match=r"embedding\.device .*auto or cpu"):
        resolve_device(setting, cuda_devices)


@pytest.mark.parametrize(
    ("setting", "device", "precision"),
    [
        ("auto", "cuda", "fp16"),
        ("auto", "cuda:3", "fp16"),
        ("auto", "cpu", "fp32"),
        ("auto", "mps", "fp32"),
        ("fp32", "cuda", "fp32"),
        ("fp16", "cuda:0", "fp16"),
        ("fp32", "cpu", "fp32"),
    ],
)
def test_resolve_precision(setting: str, device: str, precision: str) -> None:
    assert resolve_precision(setting, device) == precision


@pytest.mark.parametrize("device", ["cpu", "mps"])
def test_fp16_off_cuda_is_refused(device: str) -> None:
    with pytest.raises(DeviceUnavailable, match=r"embedding\.precision"):
        resolve_precision("fp16", device)


@pytest.mark.parametrize(
    ("device", "cpus", "threads"),
    [("cpu", 16, 0), ("cpu", 1, 0), ("cuda", 16, 8), ("cuda:1", 4, 3), ("cuda", 1, 1)],
)
def test_tokenizer_threads_only_where_the_cpu_is_free_meanwhile(
    device: str, cpus: int, threads: int
) -> None:
    assert tokenizer_threads(device, cpus) == threads


def test_plan_takes_the_batch_size_of_its_device() -> None:
    config = EmbeddingConfig(device="auto", batch_size=32, gpu_batch_size=512)
    assert plan_documents(config, cuda_devices=1, cpus=16) == DevicePlan("cuda", "fp16", 512, 8)
    assert plan_documents(config, cuda_devices=0, cpus=16) == DevicePlan("cpu", "fp32", 32, 0)
    assert not plan_documents(config, cuda_devices=0, cpus=2).on_gpu


def test_explicit_fp32_on_gpu_is_kept() -> None:
    config = EmbeddingConfig(device="cuda:1", precision="fp32")
    assert plan_documents(config, cuda_devices=2, cpus=2) == DevicePlan("cuda:1", "fp32", 256, 1)


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CPU", "cuda:0,1", ""])
def test_config_names_the_setting_for_a_bad_device(device: str) -> None:
    with pytest.raises(ValidationError, match=r"embedding\.device .* auto, cpu, cuda, cuda:N"):
        EmbeddingConfig(device=device)


def test_config_refuses_fp16_on_cpu() -> None:
    with pytest.raises(ValidationError, match=r"embedding\.precision fp16 needs a CUDA device"):
        EmbeddingConfig(device="cpu", precision="fp16")
    assert EmbeddingConfig(device="auto", precision="fp16").precision == "fp16"
