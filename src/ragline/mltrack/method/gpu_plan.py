"""GPU selection for LLM serving and fine-tuning: the VRAM a model needs, the cheapest GPU for it.

    table = GpuTable.load(Path("configs/gpus.yaml"))
    need = vram_needed(parse_params("8B"), Workload(quant="int4", context=8192, batch=8))
    plan = choose_gpu(need, table)
    plan.choice.gpu.name, plan.choice.count, plan.choice.usd_per_month

Why a model needs what it needs (the methodology's rules; GB = 10^9 bytes):

    weights  = params x bytes/param (fp16 2, int8 1, int4 0.5) x 1.2   (CUDA context, activations,
                                                                        fragmentation)
    tokens   = 2 (K and V) x layers x hidden x kv_share x 2 bytes (fp16 cache) x context x batch
               kv_share = KV heads / attention heads (grouped-query attention; 1.0 for plain
               multi-head). layers, hidden and kv_share come from the nearest reference shape
               (`REFERENCE_SHAPES`, Llama-3 family) unless the caller gives them.
    serve    = weights + tokens (the KV cache)
    lora     = serve x 1.25    LoRA ~ inference + 20-30%; in training the token term stands for the
                               activations (with gradient checkpointing they are of its order)
    qlora    = int4 weights + adapters (0.5% of the params trainable, 16 bytes each) + tokens
    full     = params x 16 bytes (fp16 weights 2, grads 2, fp32 master 4, Adam m and v 8) + tokens

Choice: the cheapest single GPU whose VRAM holds the need. Only when none does, n GPUs with tensor
parallelism: n = ceil(need / VRAM), rounded up to a power of two, because tensor parallelism
splits the attention heads evenly and every common model has a power-of-two head count (vLLM
refuses 64 heads over 3 GPUs). The cheapest n x $/h wins; groups larger than one machine's 8
GPUs only when nothing else fits. For training, the group shards the weights and optimizer
states (FSDP, ZeRO-3) rather than splitting heads; the count rule is the same. Prices and
throughputs are a table the user owns (configs/gpus.yaml, `costs.gpus`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from ragline.core.strict import Strict
from ragline.mltrack.errors import DataError

Quant = Literal["fp16", "int8", "int4"]
Purpose = Literal["serve", "lora", "qlora", "full"]
GB = 1e9
# methodology: bytes per parameter of the weights at each quantisation (bf16 counts as fp16)
BYTES_PER_PARAM: dict[str, float] = {"fp16": 2.0, "int8": 1.0, "int4": 0.5}
WEIGHTS_OVERHEAD = 1.2  # methodology: x1.2 over the raw weights at inference
KV_BYTES = 2  # the KV cache stays fp16 whatever the weights' quantisation (vLLM's default)
LORA_EXTRA = 0.25  # methodology: LoRA ~ inference + 20-30%; the middle of the range
ADAPTER_SHARE = 0.005  # QLoRA: trainable adapter params, ~0.5% of the model at rank 16
TRAINABLE_BYTES = 16  # methodology: full fine-tuning ~ params x 16-18 bytes; the lower end, since
# the token term below adds the activations separately
MAX_GPUS_PER_NODE = 8  # tensor parallelism across machines is slow: bigger groups come last
HOURS_PER_MONTH = Decimal(730)  # 365 x 24 / 12: a GPU held all month
# (params, layers, hidden, kv_share) of the Llama-3 family: 8 KV heads in every size.
REFERENCE_SHAPES: tuple[tuple[float, int, int, float], ...] = (
    (1.2e9, 16, 2048, 8 / 32),
    (3.2e9, 28, 3072, 8 / 24),
    (8e9, 32, 4096, 8 / 32),
    (14e9, 48, 5120, 8 / 40),  # Qwen2.5-14B, between Llama sizes
    (32e9, 64, 5120, 8 / 40),  # Qwen2.5-32B
    (70e9, 80, 8192, 8 / 64),
    (405e9, 126, 16384, 8 / 128),
)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmbt]?)\s*$", re.IGNORECASE)
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def parse_params(text: str) -> float:
    """Parameter count from "8B", "0.5b", "135M", "70e9"-style text.

    Example:
        >>> parse_params("8B"), parse_params("135M")
        (8000000000.0, 135000000.0)
    """
    match = _SIZE.match(text)
    try:
        value = float(match.group(1)) * _SCALE[match.group(2).lower()] if match else float(text)
    except ValueError:
        value = 0.0
    if not math.isfinite(value) or value < 1e6:
        raise DataError(f"--model-params {text!r}: give the size like 8B, 70B or 135M")
    return value


@dataclass(frozen=True, slots=True)
class Shape:
    """What the KV cache depends on: layers, hidden size, KV heads / attention heads.

    Example:
        >>> shape_for(8e9)
        Shape(layers=32, hidden=4096, kv_share=0.25)
    """

    layers: int
    hidden: int
    kv_share: float = 1.0


def shape_for(params: float) -> Shape:
    """The reference shape nearest to `params` (on a log scale)."""
    ref = min(REFERENCE_SHAPES, key=lambda r: abs(math.log(params / r[0])))
    return Shape(ref[1], ref[2], ref[3])


@dataclass(frozen=True, slots=True)
class Workload:
    """How the model is used: quantisation of the weights, tokens per sequence, sequences at once.

    Example:
        >>> Workload(quant="int4", context=8192, batch=8).purpose
        'serve'
    """

    quant: Quant = "fp16"
    context: int = 4096
    batch: int = 1
    purpose: Purpose = "serve"


@dataclass(frozen=True, slots=True)
class Vram:
    """VRAM needed, in GB, by part: weights (with overhead), tokens (KV cache or activations),
    extra (LoRA's share, adapters, or optimizer states).

    Example:
        >>> round(vram_needed(70e9, Workload(context=4096)).weights_gb)
        168
    """

    params: float
    workload: Workload
    shape: Shape
    weights_gb: float
    tokens_gb: float
    extra_gb: float
    formula: str

    @property
    def total_gb(self) -> float:
        """Everything that must sit in GPU memory at once."""
        return self.weights_gb + self.tokens_gb + self.extra_gb


def kv_cache_gb(shape: Shape, context: int, batch: int) -> float:
    """2 x layers x hidden x kv_share x 2 bytes x context x batch, in GB.

    Example:
        >>> round(kv_cache_gb(Shape(32, 4096, 0.25), 8192, 8), 2)
        8.59
    """
    per_token = 2 * shape.layers * shape.hidden * shape.kv_share * KV_BYTES
    return per_token * context * batch / GB


def vram_needed(params: float, workload: Workload, shape: Shape | None = None) -> Vram:
    """The VRAM `workload` needs for a `params`-parameter model (module docstring's formulas)."""
    shape = shape or shape_for(params)
    tokens = kv_cache_gb(shape, workload.context, workload.batch)
    quant = "int4" if workload.purpose == "qlora" else workload.quant
    weights = params * BYTES_PER_PARAM[quant] * WEIGHTS_OVERHEAD / GB
    raw = f"{params / 1e9:g}B x {BYTES_PER_PARAM[quant]:g} B ({quant}) x {WEIGHTS_OVERHEAD:g}"
    if workload.purpose == "serve":
        return Vram(params, workload, shape, weights, tokens, 0.0, f"{raw} + KV cache")
    if workload.purpose == "lora":
        extra = (weights + tokens) * LORA_EXTRA
        formula = f"({raw} + KV cache) x {1 + LORA_EXTRA:g}"
        return Vram(params, workload, shape, weights, tokens, extra, formula)
    if workload.purpose == "qlora":
        extra = params * ADAPTER_SHARE * TRAINABLE_BYTES / GB
        formula = f"{raw} + adapters ({ADAPTER_SHARE:.1%} of params x {TRAINABLE_BYTES} B)"
        return Vram(params, workload, shape, weights, tokens, extra, formula + " + activations")
    states = params * TRAINABLE_BYTES / GB
    formula = f"{params / 1e9:g}B x {TRAINABLE_BYTES} B (weights, grads, Adam) + activations"
    return Vram(params, workload, shape, 0.0, tokens, states, formula)


class Gpu(Strict):
    """One row of the GPU table: memory, on-demand price, decode throughput relative to an
    A100 80GB (= 1.0; decoding is memory-bandwidth bound, so the bandwidth ratio).

    Example:
        >>> Gpu(name="L4 24GB", vram_gb=24, usd_per_hour=Decimal("0.80"), throughput=0.15).vram_gb
        24.0
    """

    name: str = Field(min_length=1)
    vram_gb: float = Field(gt=0, allow_inf_nan=False)
    usd_per_hour: Decimal = Field(ge=0, allow_inf_nan=False)
    throughput: float = Field(gt=0, allow_inf_nan=False)

    @field_validator("usd_per_hour", mode="before")
    @classmethod
    def _exact(cls, value: object) -> object:
        # YAML reads 0.53 as a binary float; its shortest repr is the price the user wrote.
        return repr(value) if isinstance(value, float) else value


class _GpuFile(Strict):
    gpus: tuple[Gpu, ...] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class GpuTable:
    """The GPUs to choose from (configs/gpus.yaml, `costs.gpus`).

    Example:
        >>> table = GpuTable((Gpu(name="T4", vram_gb=16, usd_per_hour=Decimal("0.53"),
        ...                       throughput=0.16),))
        >>> [g.name for g in table.gpus]
        ['T4']
    """

    gpus: tuple[Gpu, ...]
    source: Path | None = None

    @classmethod
    def load(cls, path: Path) -> GpuTable:
        """Read {"gpus": [{name, vram_gb, usd_per_hour, throughput}, ...]}; DataError if bad."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls(_GpuFile.model_validate(raw).gpus, source=path)
        except FileNotFoundError:
            raise DataError(
                f"GPU table {path} not found; fix costs.gpus or copy configs/gpus.yaml there"
            ) from None
        except (yaml.YAMLError, ValidationError) as exc:
            raise DataError(
                f"invalid GPU table {path}: {exc}\n(each entry: name, vram_gb, usd_per_hour, "
                "throughput)"
            ) from None


@dataclass(frozen=True, slots=True)
class GpuOption:
    """`count` x `gpu` for one need: cost per hour and month, summed throughput.

    Example:
        >>> gpu = Gpu(name="H100 80GB", vram_gb=80, usd_per_hour=Decimal("6.90"), throughput=1.64)
        >>> option_for(100.0, gpu).count, option_for(100.0, gpu).usd_per_hour
        (2, Decimal('13.80'))
    """

    gpu: Gpu
    count: int

    @property
    def usd_per_hour(self) -> Decimal:
        """All `count` GPUs for an hour."""
        return self.gpu.usd_per_hour * self.count

    @property
    def usd_per_month(self) -> Decimal:
        """Held all month (`HOURS_PER_MONTH`)."""
        return self.usd_per_hour * HOURS_PER_MONTH

    @property
    def throughput(self) -> float:
        """Relative decode throughput of all the GPUs (an upper bound: tensor parallelism
        does not scale perfectly)."""
        return self.gpu.throughput * self.count


def gpus_for(need_gb: float, gpu: Gpu) -> int:
    """GPUs of this kind that hold `need_gb`: ceil(need / VRAM), rounded up to a power of two.

    Example:
        >>> h100 = Gpu(name="H100 80GB", vram_gb=80, usd_per_hour=Decimal(7), throughput=1.6)
        >>> gpus_for(79.0, h100), gpus_for(84.0, h100), gpus_for(170.0, h100)
        (1, 2, 4)
    """
    count = max(1, math.ceil(need_gb / gpu.vram_gb))
    return 1 << (count - 1).bit_length()


def option_for(need_gb: float, gpu: Gpu) -> GpuOption:
    """The smallest tensor-parallel group of `gpu` that holds `need_gb`."""
    return GpuOption(gpu, gpus_for(need_gb, gpu))


@dataclass(frozen=True, slots=True)
class GpuPlan:
    """Every GPU's option for one need, cheapest first, and the choice.

    Example:
        >>> plan = choose_gpu(vram_needed(8e9, Workload(quant="int4")), table)  # doctest: +SKIP
        >>> plan.choice.gpu.name                                               # doctest: +SKIP
        'T4 16GB'
    """

    need: Vram
    options: tuple[GpuOption, ...]
    choice: GpuOption
    why: str

    @property
    def value(self) -> GpuOption:
        """The option with the most throughput per dollar, among single GPUs when the choice is
        one (else groups of one machine); the choice on ties. What to rent when the load, not
        the memory, decides."""
        single = self.choice.count == 1
        alike = [
            o for o in self.options if (o.count == 1) == single and o.count <= MAX_GPUS_PER_NODE
        ]
        return max(alike or [self.choice], key=lambda o: (_per_dollar(o), o is self.choice))


def _per_dollar(option: GpuOption) -> float:
    usd = float(option.usd_per_hour)
    return option.throughput / usd if usd > 0 else math.inf


def choose_gpu(need: Vram, table: GpuTable | Sequence[Gpu]) -> GpuPlan:
    """The cheapest single GPU that holds `need`; only when none does, the cheapest group."""
    gpus = table.gpus if isinstance(table, GpuTable) else tuple(table)
    if not gpus:
        raise DataError("the GPU table is empty; list at least one GPU under gpus:")
    options = sorted(
        (option_for(need.total_gb, g) for g in gpus),
        key=lambda o: (
            o.count > MAX_GPUS_PER_NODE,
            o.count > 1,
            o.usd_per_hour,
            -o.throughput,
            o.gpu.name,
        ),
    )
    choice = options[0]
    total = f"{need.total_gb:,.1f} GB"
    if choice.count == 1:
        gpu = f"{choice.gpu.name} ({choice.gpu.vram_gb:g} GB)"
        why = f"{total} fits one {gpu}: the cheapest GPU that does"
    else:
        split = "tensor parallelism" if need.workload.purpose == "serve" else "sharding"
        why = (
            f"{total} fits no single GPU: {choice.count} x {choice.gpu.name} with {split} "
            f"({choice.count * choice.gpu.vram_gb:g} GB) is the cheapest group"
        )
    return GpuPlan(need, tuple(options), choice, why)


def vllm_command(plan: GpuPlan) -> str:
    """The `vllm serve` line for a serving plan (tensor parallelism, context, sequences). For
    int8/int4, MODEL_DIR is a checkpoint quantized that way (GPTQ, AWQ, W8A8): vLLM reads the
    method from its config, so no flag names it.

    Example:
        >>> vllm_command(plan)                                    # doctest: +SKIP
        'vllm serve MODEL_DIR --tensor-parallel-size 2 --max-model-len 4096 --max-num-seqs 1'
    """
    w = plan.need.workload
    return (
        f"vllm serve MODEL_DIR --tensor-parallel-size {plan.choice.count} "
        f"--max-model-len {w.context} --max-num-seqs {w.batch}"
    )


def gpu_plan_document(plan: GpuPlan) -> dict[str, object]:
    """The plan as plain data for a YAML file: the need by part, the choice, every option."""
    need, w = plan.need, plan.need.workload
    doc: dict[str, object] = {
        "model": {"params_b": round(need.params / 1e9, 3), "quant": w.quant},
        "workload": {"purpose": w.purpose, "context": w.context, "batch": w.batch},
        "vram_gb": {
            "weights": round(need.weights_gb, 2),
            "tokens": round(need.tokens_gb, 2),
            "extra": round(need.extra_gb, 2),
            "total": round(need.total_gb, 2),
            "formula": need.formula,
        },
        "choice": _option_row(plan.choice) | {"why": plan.why},
        "most_throughput_per_dollar": _option_row(plan.value),
        "options": [_option_row(o) for o in plan.options],
    }
    if w.purpose == "serve":
        doc["command"] = vllm_command(plan)
    return doc


def _option_row(o: GpuOption) -> dict[str, object]:
    return {
        "gpu": o.gpu.name,
        "count": o.count,
        "vram_gb": o.gpu.vram_gb * o.count,
        "usd_per_hour": str(o.usd_per_hour.quantize(Decimal("0.01"))),
        "usd_per_month": str(o.usd_per_month.quantize(Decimal("0.01"))),
        "throughput": round(o.throughput, 2),
    }
