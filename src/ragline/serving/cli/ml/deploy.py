"""`ragline deploy plan`: measure a model, walk the deployment tree, write the serving config.

    ragline deploy plan --model adult-income                     # its production version
    ragline deploy plan --model adult-income --version 3 --data adult.csv --latency-ms 20
    ragline deploy plan --dir out/model --batch --out configs/deploy/nightly.yaml
    ragline deploy plan --model adult-income --brief configs/briefs/adult-income.yaml
    ragline deploy plan --model-params 8B --quant int4 --context 8192 --batch-size 8   # GPUs
    ragline deploy plan --model-params 70B --purpose qlora --out configs/deploy/qlora-70b.yaml

The command measures the model's size (bytes of its folder) and latency (p50/p95/p99 of single-row
predictions, rows/s of a batch) on sample rows (--data, or rows built from the saved feature
pipeline); takes the consumer's needs from the flags or a problem brief's ``latency:`` section
(``mode: batch``, or ``online`` with ``p95_ms``; a flag wins); walks
`ragline.mltrack.method.deploy_plan.decide`; prints the path with the numbers; and writes the
matching config: for embedded serving a settings file that `ragline -c FILE serve` loads (checked
with the real settings loader before it is written), else a YAML plan. Exit codes: 0 written; 2 bad
input (no such model or version, unreadable data, settings, an existing --out), with a message that
says what to fix.

With --model-params (an LLM's size, e.g. 8B) the command sizes GPUs instead of measuring a saved
model: VRAM from the size, --quant, --context and --batch-size (sequences at once) for --purpose
serve|lora|qlora|full, then the cheapest GPU of the table in costs.gpus (configs/gpus.yaml) that
holds it, tensor-parallel groups when none does, each option's USD per hour and month; see
`ragline.mltrack.method.gpu_plan`. It prints the plan, and writes it as YAML only with --out.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ragline.serving.cli.common import err, fail, out, read_table, settings_from
from ragline.serving.errors import ConfigError
from ragline.serving.settings import Settings, load_settings

if TYPE_CHECKING:
    import pandas as pd

    from ragline.mltrack.method.deploy_plan import Measurement, Needs, Plan
    from ragline.mltrack.method.gpu_plan import GpuPlan, Purpose, Quant
    from ragline.mltrack.tracking.registry import Stage

deploy_app = typer.Typer(help="deployment: measure a model and choose how to serve it.")
_NAMES = {
    "embedded": "embedded FastAPI (ragline serve)",
    "model_server": "a model server",
    "batch_job": "a batch job",
    "async_queue": "an async queue",
}


def _rows(path: Path | None) -> pd.DataFrame | None:

    if path is None:
        return None
    frame = read_table(path, "--data")
    return frame.sample(n=min(len(frame), 1000), random_state=0)


def _measure(
    settings: Settings, ref: tuple[str, int | None, str], rows: pd.DataFrame | None, repeats: int
) -> Measurement:
    """Download the registered version into a temporary folder and measure it there."""
    from ragline.mltrack.method.deploy_plan import measure_folder
    from ragline.mltrack.tracking.registry import STAGES, ModelRegistry

    name, version, stage = ref
    stages: dict[str, Stage] = {s: s for s in STAGES}
    if stage not in stages:
        raise fail(f"--stage {stage!r}: use one of {', '.join(STAGES)}")
    registry = ModelRegistry(settings.ml, settings.data_dir)
    try:
        info = registry.version(name, version) if version else registry.current(name, stages[stage])
        if info is None:
            raise fail(f"{name} has no {stage} version; pass --version N or promote one")
        label = f"{name}:{info.version}"
        with tempfile.TemporaryDirectory(prefix="ragline-deploy-") as tmp:
            return registry.load_version(
                name,
                info.version,
                lambda f: measure_folder(f, rows, label=label, repeats=repeats),
                dst=Path(tmp),
            )
    finally:
        registry.close()


def _needs(path: Path | None, needs: Needs) -> Needs:
    """`needs` with the brief's latency section: batch mode, or an online p95 bound."""
    from ragline.mltrack.method.brief import BriefError, load_brief

    if path is None:
        return needs
    try:
        latency = load_brief(path).latency
    except BriefError as exc:
        raise fail(str(exc)) from None
    err.print(f"needs from {path}: latency {latency.mode}, p95 {latency.p95_ms} ms", markup=False)
    batch = needs.batch or latency.mode == "batch"
    return replace(needs, batch=batch, latency_ms=latency.p95_ms or needs.latency_ms)


def _print(m: Measurement, plan: Plan) -> None:
    out.print(
        f"{m.label}: {m.format}, {m.size_bytes:,} bytes ({m.size_mb:,.2f} MB); one row p50 "
        f"{m.p50_ms:.2f} ms, p95 {m.p95_ms:.2f} ms, p99 {m.p99_ms:.2f} ms over "
        f"{m.single_samples} predictions; batch of {m.batch_rows:,}: {m.rows_per_s:,.0f} rows/s",
        markup=False,
    )
    for step in plan.path:
        out.print(f"  {step}", markup=False)
    server = f" ({plan.server})" if plan.server else ""
    out.print(f"-> {_NAMES[plan.target]}{server}: {plan.why}", markup=False)


def _serve_file(settings: Settings, m: Measurement, plan: Plan, name: str, out_path: Path) -> str:
    """A settings file for `ragline -c FILE serve`; the registry is the one measured from."""
    import yaml

    body: dict[str, object] = {"data_dir": str(settings.data_dir)}
    body["serve"] = {"workers": plan.workers}
    if settings.ml.tracking_uri:
        body["ml"] = {"tracking_uri": settings.ml.tracking_uri}
    head = [
        f"# serving config written by `ragline deploy plan` for {m.label}",
        *(f"#   {step}" for step in plan.path),
        f"# -> {_NAMES[plan.target]}: {plan.why}",
        f"# start: ragline -c {out_path} serve;  then POST /v1/predict/{name} with {{rows: [...]}}",
    ]
    return "\n".join(head) + "\n" + yaml.safe_dump(body, sort_keys=False)


def _write_checked(text: str, out_path: Path, *, settings_file: bool) -> None:
    """Write `text`; a settings file is loaded by the real loader first, so serve accepts it."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    draft = out_path.with_name(f".{out_path.name}.draft")
    draft.write_text(text, encoding="utf-8")
    try:
        if settings_file:
            load_settings(draft)
        draft.replace(out_path)
    except ConfigError as exc:
        raise fail(f"the serving config would not load ({exc}); nothing written") from None
    finally:
        draft.unlink(missing_ok=True)


_QUANTS: tuple[Quant, ...] = ("fp16", "int8", "int4")
_PURPOSES: tuple[Purpose, ...] = ("serve", "lora", "qlora", "full")


def _print_gpus(plan: GpuPlan) -> None:
    from rich.table import Table

    need, w = plan.need, plan.need.workload
    out.print(
        f"{need.params / 1e9:g}B {w.quant}, {w.purpose}, context {w.context:,} x batch {w.batch}: "
        f"{need.total_gb:,.1f} GB = weights {need.weights_gb:,.1f} + tokens {need.tokens_gb:,.1f}"
        f" + extra {need.extra_gb:,.1f}  [{need.formula}]",
        markup=False,
    )
    table = Table("gpu", "count", "VRAM GB", "$/hour", "$/month", "throughput", "pick")
    for o in plan.options:
        pick = "choice" if o is plan.choice else "per $" if o is plan.value else ""
        table.add_row(
            o.gpu.name,
            str(o.count),
            f"{o.gpu.vram_gb * o.count:g}",
            f"${o.usd_per_hour:,.2f}",
            f"${o.usd_per_month:,.2f}",
            f"{o.throughput:.2f}",
            pick,
        )
    out.print(table)
    choice, value = plan.choice, plan.value
    out.print(f"-> {choice.count} x {choice.gpu.name}: {plan.why}", markup=False)
    if value is not choice:
        out.print(
            f"   most throughput per $: {value.count} x {value.gpu.name} "
            f"(${value.usd_per_hour:,.2f}/h, throughput {value.throughput:.2f} vs "
            f"{choice.throughput:.2f}): rent it when the load, not the memory, decides",
            markup=False,
        )


def _gpu_cmd(
    ctx: typer.Context, params: str, workload: tuple[str, int, int, str], out_path: Path | None
) -> None:
    """`deploy plan --model-params`: size the GPUs, print, write YAML only with --out."""
    import yaml

    from ragline.core.config_files import locate_config
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.method.gpu_plan import (
        GpuTable,
        Workload,
        choose_gpu,
        gpu_plan_document,
        parse_params,
        vram_needed,
    )

    quant, context, batch, purpose = workload
    q = next((x for x in _QUANTS if x == quant), None)
    p = next((x for x in _PURPOSES if x == purpose), None)
    if q is None or p is None:
        raise fail(f"--quant one of {'|'.join(_QUANTS)}, --purpose one of {'|'.join(_PURPOSES)}")
    settings = settings_from(ctx)
    try:
        table = GpuTable.load(locate_config(settings.costs.gpus))
        plan = choose_gpu(vram_needed(parse_params(params), Workload(q, context, batch, p)), table)
    except MltrackError as exc:
        raise fail(str(exc)) from None
    _print_gpus(plan)
    if out_path is not None:
        head = f"# GPU plan written by `ragline deploy plan --model-params {params}`\n"
        body = yaml.safe_dump(gpu_plan_document(plan), sort_keys=False, width=100)
        _write_checked(head + body, out_path, settings_file=False)
        out.print(f"wrote {out_path}", markup=False)


@deploy_app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="registered model name")] = None,
    version: Annotated[int | None, typer.Option(min=1, help="version (default: --stage)")] = None,
    stage: Annotated[str, typer.Option(help="stage used without --version")] = "production",
    model_dir: Annotated[Path | None, typer.Option("--dir", help="a saved model folder")] = None,
    data: Annotated[Path | None, typer.Option(help="sample input rows, CSV or Parquet")] = None,
    brief: Annotated[Path | None, typer.Option(help="problem brief: its latency: section")] = None,
    latency_ms: Annotated[
        float | None, typer.Option(min=0.001, help="budget per prediction (100; or the brief's)")
    ] = None,
    batch: Annotated[bool, typer.Option("--batch", help="consumers read in batches")] = False,
    rps: Annotated[float | None, typer.Option(min=0.001, help="expected requests/s")] = None,
    repeats: Annotated[int, typer.Option(min=10, help="single-row predictions timed")] = 200,
    out_path: Annotated[Path | None, typer.Option("--out", help="config to write")] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing --out")] = False,
    model_params: Annotated[
        str | None, typer.Option(help="LLM size (8B, 70B): size GPUs instead of measuring")
    ] = None,
    quant: Annotated[str, typer.Option(help="GPU sizing: fp16|int8|int4 weights")] = "fp16",
    context: Annotated[int, typer.Option(min=1, help="GPU sizing: tokens per sequence")] = 4096,
    batch_size: Annotated[int, typer.Option(min=1, help="GPU sizing: sequences at once")] = 1,
    purpose: Annotated[str, typer.Option(help="GPU sizing: serve|lora|qlora|full")] = "serve",
) -> None:
    """Measure size and latency, choose embedded / model server / batch / async, write config;
    with --model-params, choose GPUs for an LLM instead."""
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.method.deploy_plan import (
        LATENCY_MS,
        Needs,
        decide,
        measure_folder,
        plan_yaml,
    )

    if model_params is not None:
        if model is not None or model_dir is not None:
            raise fail("--model-params sizes GPUs for an LLM: drop --model/--dir, or drop it")
        if out_path is not None and out_path.exists() and not force:
            raise fail(f"{out_path} exists; pass --force to overwrite it, or choose another --out")
        return _gpu_cmd(ctx, model_params, (quant, context, batch_size, purpose), out_path)
    if (model is None) == (model_dir is None):
        raise fail("give exactly one of --model NAME (registry) or --dir FOLDER (saved model)")
    name = model or (model_dir.name if model_dir else "model")
    target_path = out_path or Path("configs/deploy") / f"{name}.yaml"
    if target_path.exists() and not force:
        raise fail(f"{target_path} exists; pass --force to overwrite it, or choose another --out")
    settings = settings_from(ctx)
    rows = _rows(data)
    needs = _needs(brief, Needs(latency_ms=latency_ms or LATENCY_MS, batch=batch, rps=rps))
    if latency_ms is not None:  # a flag overrides the brief
        needs = replace(needs, latency_ms=latency_ms)
    try:
        if model_dir is not None:
            m = measure_folder(model_dir, rows, label=str(model_dir), repeats=repeats)
        else:
            m = _measure(settings, (name, version, stage), rows, repeats)
    except (MltrackError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    plan = decide(m, needs, os.cpu_count())
    _print(m, plan)
    if plan.target == "embedded":
        text = _serve_file(settings, m, plan, name, target_path)
    else:
        text = plan_yaml(plan, m, needs, name)
    _write_checked(text, target_path, settings_file=plan.target == "embedded")
    out.print(f"wrote {target_path}", markup=False)
