"""`ragline eval SUITE.yaml` and `ragline synthesize`: run an evaluation suite; draft golden
questions for review.

    ragline eval configs/evals/manpages.yaml [--baseline RUN_DIR] [--out DIR]
    ragline eval configs/evals/manpages.yaml --engine ray --actors 4 [--address auto]
    ragline eval configs/evals/manpages-qa.yaml --without rerank   # what reranking adds
    ragline eval configs/evals/manpages-qa.yaml --batch        # batch APIs: half the price
    ragline synthesize --collection docs --n 50 --out golden.jsonl --model openai:gpt-4o-mini

The work is `ragline.serving.services.evals.run.run_eval` and
`ragline.serving.services.synth.run_synthesize`. Exit codes: eval 0 every gate passed, 1 a gate
failed; synthesize 0 done, 1 written but some chunks failed or nothing kept; 2 bad usage.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ragline.serving.cli.common import err, fail, out, settings_from

if TYPE_CHECKING:
    from ragline.evals.report import RunReport
    from ragline.serving.services.evals.run import EvalRun
    from ragline.serving.services.synth import Drafted

SHOWN_ERRORS = 5


def eval_command(
    ctx: typer.Context,
    suite: Annotated[Path, typer.Argument(help="suite file, e.g. configs/evals/manpages.yaml")],
    baseline: Annotated[
        Path | None, typer.Option(help="an earlier run folder (its report.json) to compare with")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="report folder (default data_dir/eval_runs/RUN)")
    ] = None,
    track: Annotated[
        bool, typer.Option("--track/--no-track", help="record the run as an mltrack experiment")
    ] = True,
    engine: Annotated[
        str, typer.Option(help="local (this process) | ray (ingest, queries, answers, judges)")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster: auto | ray://host:10001 (default: start a local one)"),
    ] = None,
    actors: Annotated[int, typer.Option(help="Ray actors (each builds the pipeline once)")] = 2,
    num_cpus: Annotated[
        float | None, typer.Option(help="CPUs per Ray actor (default: shared out)")
    ] = None,
    without: Annotated[
        str | None,
        typer.Option(
            help="rerank: run the suite without it too and report what it adds (paired CIs)"
        ),
    ] = None,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="answers and judge calls through the OpenAI/Anthropic batch APIs: half the "
            "price, hours not seconds; a rerun resumes the submitted batches",
        ),
    ] = False,
) -> None:
    """Run an evaluation suite: metrics with 95% CIs, gates, report.md and report.json."""
    from ragline.rag.errors import IngestError
    from ragline.rag.ingest.ray_engine import RayOptions
    from ragline.serving.services.evals.measure import EvalUsageError
    from ragline.serving.services.evals.run import run_eval, run_without

    settings = settings_from(ctx)
    if engine not in ("local", "ray"):
        raise fail(f"--engine must be local or ray, got {engine!r}")
    try:
        ray = RayOptions(address, actors, num_cpus) if engine == "ray" else None
    except IngestError as exc:
        raise fail(str(exc)) from None
    if without is not None and baseline is not None:
        raise fail("--without compares with the suite's own run without the part; drop --baseline")
    if batch and (engine == "ray" or without is not None):
        raise fail("--batch runs in this process, one suite at a time; drop --engine ray/--without")
    overrides = {"llm": {"batch": {"enabled": True}}} if batch else None
    try:
        if without is not None:
            options = {"out_dir": out_dir, "track": track, "engine": ray}
            _, run = run_without(without, suite, settings, err, **options)
            out.print(f"baseline: the same suite without {without}", markup=False)
        else:
            run = run_eval(
                suite,
                settings,
                err,
                baseline_dir=baseline,
                out_dir=out_dir,
                track=track,
                engine=ray,
                overrides=overrides,
            )
    except EvalUsageError as exc:
        raise fail(f"eval refused: {exc}") from None
    print_eval_summary(run, out)
    raise typer.Exit(eval_exit_code(run.report))


def synthesize_command(
    ctx: typer.Context,
    out_path: Annotated[Path, typer.Option("--out", help="golden JSONL file to write")],
    collection: Annotated[
        str | None, typer.Option("--collection", help="collection name (default: store.collection)")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="questions to ask for")] = 50,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="provider:model, e.g. openai:gpt-4o-mini (default: llm)"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="which chunks are sampled")] = 0,
    workers: Annotated[int, typer.Option(min=1, max=64, help="model calls in flight")] = 1,
    force: Annotated[bool, typer.Option("--force", help="replace an existing --out")] = False,
    batch: Annotated[
        bool,
        typer.Option("--batch", help="one batch through the OpenAI/Anthropic batch API"),
    ] = False,
) -> None:
    """Draft golden questions from a collection's chunks (marked synthetic: review them)."""
    from ragline.core.costs import cost_scope
    from ragline.serving.services.synth import SynthOptions, SynthUsageError, run_synthesize
    from ragline.serving.wiring import Accounting

    settings = settings_from(ctx)
    options = SynthOptions(out_path, collection, n, model, seed, workers, force, batch)
    try:
        with Accounting(settings) as costs, cost_scope():
            drafted = run_synthesize(settings, costs, options, err)
    except SynthUsageError as exc:
        raise fail(f"synthesize refused: {exc}") from None
    print_drafted(drafted, out)
    for line in drafted.run.errors[:SHOWN_ERRORS]:
        err.print(f"  failed {line}", markup=False)
    raise typer.Exit(0 if drafted.run.items and not drafted.run.failed else 1)


def print_drafted(drafted: Drafted, console: Console) -> None:
    """What was read, asked, kept and dropped, what it cost, and that a person must review it."""
    run, chunks, total = drafted.run, drafted.chunks_read, drafted.chunks_total
    read = f"{chunks} chunks" if chunks == total else f"{chunks} of {total} chunks"
    failed = ", ".join(f"{k} {v}" for k, v in run.failures.items() if v) or "none"
    lines = [
        f"read {read} from {drafted.collection}; asked {run.generator_model} about {run.asked}",
        f"  kept {run.kept}, dropped {run.duplicates} near-duplicate, failed {run.failed} "
        f"({failed})",
        f"  tokens {run.tokens_in} in / {run.tokens_out} out · ${run.cost_usd:.6f} · "
        f"{run.cached} cached · {drafted.seconds:.1f} s",
        f"wrote {run.kept} items to {drafted.out}"
        if run.items
        else "nothing kept; no file written",
        "these items are marked synthetic: read and correct each one before using it as a "
        "golden set",
    ]
    for line in lines:
        console.print(line, markup=False)


def print_eval_summary(run: EvalRun, console: Console) -> None:
    """A short table of the headline metrics, the gates, where the reports are, the time taken."""
    report = run.report
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.dataset.items())
    console.print(f"{report.suite}: {counts}", markup=False)
    for agg in report.aggregates:
        value = "unmeasured" if agg.value is None else f"{agg.value:.4f}"
        ci = "" if agg.ci_low is None else f"  [{agg.ci_low:.4f}, {agg.ci_high:.4f}]"
        console.print(f"  {agg.name:<14} {value}{ci}", markup=False)
    for cmp in report.comparisons:
        if cmp.delta is not None:
            p = "" if cmp.p_value is None else f" p={cmp.p_value:.3f}"
            ci = "" if cmp.ci_low is None else f" [{cmp.ci_low:+.4f}, {cmp.ci_high:+.4f}]"
            line = f"  vs baseline {cmp.metric:<14} {cmp.delta:+.4f}{ci}{p}"
            console.print(line, markup=False)
    for gate in report.gates:
        verdict = "PASS" if gate.passed else f"FAIL: {gate.reason}"
        console.print(f"  gate {gate.metric}: {verdict}", markup=False)
    for note in report.notes:
        console.print(f"  note: {note}", markup=False)
    spent = [f"{k} ${v:.4f}" for k, v in report.costs.items() if k.endswith("_usd")]
    if spent:
        console.print(f"  cost: {', '.join(spent)}", markup=False)
    t = report.timings
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in t.items())
    plots = f" and {len(report.plots)} plots" if report.plots else ""
    console.print(
        f"reports: {run.out_dir / 'report.md'}, report.json{plots}; took "
        f"{sum(t.values()):.1f} s ({stages})",
        markup=False,
    )
    if run.experiment is not None:
        console.print(f"recorded as experiment {run.experiment}", markup=False)
    if run.tracking_error is not None:
        console.print(f"warning: not recorded in mltrack: {run.tracking_error}", markup=False)


def eval_exit_code(report: RunReport) -> int:
    """0 when every gate passed, 1 otherwise."""
    return 0 if report.passed else 1
