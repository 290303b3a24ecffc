"""ragline.mltrack.method.gpu_plan: the methodology's VRAM formulas, the cheapest-GPU rule with its
tensor-parallel groups, and the shipped GPU table."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ragline.mltrack.errors import DataError
from ragline.mltrack.method.gpu_plan import (
    BYTES_PER_PARAM,
    HOURS_PER_MONTH,
    LORA_EXTRA,
    MAX_GPUS_PER_NODE,
    TRAINABLE_BYTES,
    WEIGHTS_OVERHEAD,
    Gpu,
    GpuTable,
    Shape,
    Workload,
    choose_gpu,
    gpu_plan_document,
    gpus_for,
    kv_cache_gb,
    parse_params,
    shape_for,
    vram_needed,
)
from tests.paths import REPO

pytestmark = pytest.mark.unit
SHIPPED = REPO / "configs" / "gpus.yaml"


def gpu(name: str, vram: float, usd: str, throughput: float = 1.0) -> Gpu:
    return Gpu(name=name, vram_gb=vram, usd_per_hour=Decimal(usd), throughput=throughput)


@pytest.fixture(scope="module")
def table() -> GpuTable:
    return GpuTable.load(SHIPPED)


def by_name(table: GpuTable, name: str) -> Gpu:
    return next(g for g in table.gpus if g.name == name)


def test_the_methodologys_constants() -> None:
    assert BYTES_PER_PARAM == {"fp16": 2.0, "int8": 1.0, "int4": 0.5}
    assert (WEIGHTS_OVERHEAD, LORA_EXTRA, TRAINABLE_BYTES) == (1.2, 0.25, 16)
    assert 0.20 <= LORA_EXTRA <= 0.30 and 16 <= TRAINABLE_BYTES <= 18
    assert HOURS_PER_MONTH == 730


@pytest.mark.parametrize(
    ("text", "params"),
    [("8B", 8e9), ("70b", 70e9), ("0.5B", 5e8), ("135M", 1.35e8), ("7e9", 7e9), (" 1T ", 1e12)],
)
def test_sizes_parse(text: str, params: float) -> None:
    assert parse_params(text) == pytest.approx(params)


@pytest.mark.parametrize("text", ["8X", "", "B", "-8B", "1000", "nan"])
def test_a_bad_size_names_the_fix(text: str) -> None:
    with pytest.raises(DataError, match="like 8B, 70B"):
        parse_params(text)


@pytest.mark.parametrize(("quant", "gb"), [("fp16", 168.0), ("int8", 84.0), ("int4", 42.0)])
def test_weights_are_params_x_bytes_x_1_2(quant: str, gb: float) -> None:
    need = vram_needed(70e9, Workload(quant=quant, context=1, batch=1))  # type: ignore[arg-type]
    assert need.weights_gb == pytest.approx(gb)
    assert need.extra_gb == 0.0


def test_the_kv_cache_is_2_x_layers_x_hidden_x_bytes_x_context_x_batch() -> None:
    assert kv_cache_gb(Shape(32, 4096, 1.0), 8192, 8) == pytest.approx(
        2 * 32 * 4096 * 2 * 65536 / 1e9
    )
    assert kv_cache_gb(Shape(32, 4096, 0.25), 8192, 8) == pytest.approx(8.589934592)
    # twice the context or the batch, twice the cache
    assert kv_cache_gb(Shape(80, 8192, 0.125), 8192, 1) == pytest.approx(
        2 * kv_cache_gb(Shape(80, 8192, 0.125), 4096, 1)
    )
    assert shape_for(8e9) == Shape(32, 4096, 0.25)
    assert shape_for(65e9) == Shape(80, 8192, 0.125)  # the nearest reference: Llama-3 70B


def test_training_needs_follow_the_methodology() -> None:
    serve = vram_needed(8e9, Workload(context=2048, batch=4))
    lora = vram_needed(8e9, Workload(context=2048, batch=4, purpose="lora"))
    assert lora.total_gb == pytest.approx(serve.total_gb * 1.25)
    qlora = vram_needed(8e9, Workload(quant="fp16", purpose="qlora"))
    assert qlora.weights_gb == pytest.approx(8 * 0.5 * 1.2)  # int4 whatever --quant says
    assert qlora.extra_gb == pytest.approx(8e9 * 0.005 * 16 / 1e9)
    full = vram_needed(8e9, Workload(context=1, batch=1, purpose="full"))
    assert full.extra_gb == pytest.approx(128.0) and full.weights_gb == 0.0


def test_an_8b_int4_model_fits_an_l4_and_the_cheapest_fitting_gpu_wins(table: GpuTable) -> None:
    need = vram_needed(8e9, Workload(quant="int4", context=8192, batch=8))
    assert need.total_gb == pytest.approx(4.8 + 8.589934592)
    assert need.total_gb <= by_name(table, "L4 24GB").vram_gb
    assert choose_gpu(need, table).choice.gpu.name == "T4 16GB"  # 13.4 GB: the T4 is cheaper
    bigger = choose_gpu(vram_needed(8e9, Workload(quant="int4", context=8192, batch=16)), table)
    assert 16 < bigger.need.total_gb <= 24
    assert (bigger.choice.gpu.name, bigger.choice.count) == ("L4 24GB", 1)
    assert bigger.choice.usd_per_month == Decimal("0.80") * 730


def test_a_70b_int8_model_needs_2_h100_or_one_h200(table: GpuTable) -> None:
    need = vram_needed(70e9, Workload(quant="int8"))
    assert 80 < need.total_gb < 141
    assert gpus_for(need.total_gb, by_name(table, "H100 80GB")) == 2
    plan = choose_gpu(need, table)
    assert (plan.choice.gpu.name, plan.choice.count) == ("H200 141GB", 1)  # one fits: no group
    h100_only = choose_gpu(need, [by_name(table, "H100 80GB")])
    assert (h100_only.choice.count, h100_only.choice.usd_per_hour) == (2, Decimal("13.80"))
    assert "tensor parallelism (160 GB)" in h100_only.why


def test_a_70b_fp16_model_overflows_2_h100_so_the_group_rounds_to_a_power_of_two(
    table: GpuTable,
) -> None:
    need = vram_needed(70e9, Workload(quant="fp16"))
    assert need.weights_gb == pytest.approx(168.0)  # > 2 x 80 GB, by the 1.2 overhead alone
    assert gpus_for(need.total_gb, by_name(table, "H100 80GB")) == 4  # ceil = 3 -> 4
    assert gpus_for(need.total_gb, by_name(table, "H200 141GB")) == 2
    plan = choose_gpu(need, [by_name(table, "H100 80GB"), by_name(table, "H200 141GB")])
    assert (plan.choice.gpu.name, plan.choice.count) == ("H200 141GB", 2)  # $15.80 < $27.60
    assert [o.usd_per_hour for o in plan.options] == [Decimal("15.80"), Decimal("27.60")]


def test_counts_round_up_to_powers_of_two() -> None:
    g = gpu("G", 10, "1")
    assert [gpus_for(n, g) for n in (0.1, 10, 10.01, 20, 25, 40, 41, 80.5)] == [
        1,
        1,
        2,
        2,
        4,
        4,
        8,
        16,
    ]


def test_a_group_only_when_no_single_gpu_fits_and_within_one_machine_first() -> None:
    small, big = gpu("small 24", 24, "0.80", 0.15), gpu("big 141", 141, "7.90", 2.35)
    need = vram_needed(8e9, Workload(context=1, batch=1, purpose="full"))  # 128 GB
    plan = choose_gpu(need, [small, big])
    # 8 x small costs $6.40/h, less than one big: one GPU still wins while one holds it
    assert (plan.choice.gpu.name, plan.choice.count) == ("big 141", 1)
    tiny = gpu("tiny 16", 16, "0.10", 0.16)
    plan = choose_gpu(vram_needed(70e9, Workload()), [tiny, big])  # 16 x tiny: two machines
    assert (plan.options[-1].count, plan.choice.gpu.name) == (16, "big 141")
    assert plan.options[-1].count > MAX_GPUS_PER_NODE
    assert "sharding" in choose_gpu(vram_needed(70e9, Workload(purpose="full")), [big]).why


def test_the_value_option_is_the_most_throughput_per_dollar_among_alike_options(
    table: GpuTable,
) -> None:
    plan = choose_gpu(vram_needed(70e9, Workload(purpose="qlora")), table)
    assert plan.choice.gpu.name == "A100 80GB"
    assert (plan.value.gpu.name, plan.value.count) == ("H200 141GB", 1)


def test_the_shipped_table_has_exact_prices_and_the_named_gpus(table: GpuTable) -> None:
    names = [g.name for g in table.gpus]
    for name in ("T4 16GB", "L4 24GB", "A10G 24GB", "A100 40GB", "A100 80GB", "H100 80GB"):
        assert name in names
    assert by_name(table, "T4 16GB").usd_per_hour == Decimal("0.53")
    assert by_name(table, "H200 141GB").vram_gb == 141
    text = SHIPPED.read_text(encoding="utf-8")
    assert text.count("2026 list-price estimate") >= len(table.gpus)


def test_a_bad_or_missing_table_says_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"fix costs\.gpus"):
        GpuTable.load(tmp_path / "none.yaml")
    bad = tmp_path / "g.yaml"
    bad.write_text("gpus: [{name: X, vram_gb: 0, usd_per_hour: 1, throughput: 1}]\n")
    with pytest.raises(DataError, match="name, vram_gb, usd_per_hour, throughput"):
        GpuTable.load(bad)
    bad.write_text("gpus: []\n")
    with pytest.raises(DataError, match="invalid GPU table"):
        GpuTable.load(bad)


def test_the_plan_document_carries_the_numbers_and_the_vllm_command(table: GpuTable) -> None:
    plan = choose_gpu(vram_needed(70e9, Workload(quant="int8", context=8192, batch=4)), table)
    doc = gpu_plan_document(plan)
    assert doc["choice"] == {
        "gpu": "H200 141GB",
        "count": 1,
        "vram_gb": 141.0,
        "usd_per_hour": "7.90",
        "usd_per_month": "5767.00",
        "throughput": 2.35,
        "why": plan.why,
    }
    assert doc["command"] == (
        "vllm serve MODEL_DIR --tensor-parallel-size 1 --max-model-len 8192 --max-num-seqs 4"
    )
    lora = gpu_plan_document(choose_gpu(vram_needed(8e9, Workload(purpose="lora")), table))
    assert "command" not in lora
