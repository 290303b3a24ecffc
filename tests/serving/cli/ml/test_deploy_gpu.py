"""`ragline deploy plan --model-params`: GPU selection through ragline's real root app, for
serving and fine-tuning, printed and written as YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ragline.serving.cli.app import app

pytestmark = pytest.mark.integration


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / ".ragline"))
    return CliRunner()


def plan(runner: CliRunner, *args: object) -> tuple[int, str]:
    result = runner.invoke(app, ["deploy", "plan", *map(str, args)])
    return result.exit_code, result.stdout + result.stderr


def test_an_8b_int4_model_gets_one_small_gpu_with_every_option_priced(runner: CliRunner) -> None:
    code, text = plan(runner, "--model-params", "8B", "--quant", "int4", "--context", 8192,
                      "--batch-size", 16)  # fmt: skip
    assert code == 0, text
    assert "22.0 GB = weights 4.8 + tokens 17.2" in text
    assert "-> 1 x L4 24GB: 22.0 GB fits one L4 24GB (24 GB)" in text
    for price in ("$0.80", "$584.00", "$1.01", "$5,767.00"):  # L4, its month, A10G, H200 month
        assert price in text


def test_a_70b_fp16_model_gets_a_tensor_parallel_group(runner: CliRunner) -> None:
    code, text = plan(runner, "--model-params", "70B")
    assert code == 0, text
    assert "169.3 GB fits no single GPU" in text and "tensor parallelism" in text
    assert "most throughput per $" in text


def test_qlora_plan_is_written_only_with_out_and_never_overwritten(
    runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "qlora.yaml"
    code, text = plan(runner, "--model-params", "70B", "--purpose", "qlora", "--out", target)
    assert code == 0, text
    doc = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert doc["workload"]["purpose"] == "qlora"
    assert doc["choice"]["gpu"] == "A100 80GB" and doc["choice"]["usd_per_month"] == "3650.00"
    assert len(doc["options"]) == 7 and "command" not in doc
    code, text = plan(runner, "--model-params", "70B", "--out", target)
    assert code == 2 and "--force" in text
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["workload"]["purpose"] == "qlora"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model-params", "8X"], "give the size like 8B"),
        (["--model-params", "8B", "--quant", "int3"], "--quant one of fp16|int8|int4"),
        (["--model-params", "8B", "--purpose", "rlhf"], "serve|lora|qlora|full"),
        (["--model-params", "8B", "--model", "m"], "drop --model/--dir"),
    ],
)
def test_bad_gpu_input_exits_2_with_the_fix(
    runner: CliRunner, args: list[str], message: str
) -> None:
    code, text = plan(runner, *args)
    assert code == 2 and message in text, text
