"""`ragline llm suggest`: which model for a task, what it costs a month, whether to fine-tune.

    ragline llm suggest --task classification --volume 50000 --labelled 1200
    ragline llm suggest --task code --volume 2000 --tokens-in 3000 --tokens-out 1000
    ragline llm suggest --task summarization --volume 20000 --on-prem

The command is thin: it gathers the candidates (the configured deployments: llm.provider,
llm.deployments, llm.fallbacks, the embedding model; then every model priced in costs.pricing),
loads the GPU table (costs.gpus) to price a fine-tuned, self-hosted small model, calls
`ragline.mltrack.method.llm_choice.suggest_llm` and prints a table: option, model, tier, why,
USD per call and per month at --volume calls a day, then the fine-tuning and self-hosting verdicts
with their numbers. Exit codes: 0 printed; 2 bad input (an unknown task, unreadable price or GPU
table, no priced model for the task), with a message that says what to fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ragline.serving.cli.common import fail, out, settings_from

if TYPE_CHECKING:
    from ragline.mltrack.method.llm_choice import LlmAdvice
    from ragline.serving.settings import Settings

llm_app = typer.Typer(help="LLM selection advice: model, monthly cost, fine-tuning.")
_NOT_MODELS = frozenset({"extractive"})  # the extractive answerer calls no model


def configured_models(settings: Settings) -> list[str]:
    """The "provider:model" names llm and embedding settings route to (a bare provider
    resolved to its default model), each once, in settings order."""
    llm = settings.llm
    defaults = {
        "openai": llm.openai.model,
        "anthropic": llm.anthropic.model,
        "vllm": llm.vllm.model,
    }
    names = [llm.provider, *(d.model for d in llm.deployments), *llm.fallbacks]
    models: list[str] = []
    for name in names:
        provider, _, model = name.partition(":")
        if provider in _NOT_MODELS:
            continue
        model = model or defaults.get(provider) or ""
        full = f"{provider}:{model}" if model else provider
        if full not in models:
            models.append(full)
    models.append(f"local:{settings.embedding.model}")
    return models


def _money(value: object) -> str:
    return f"${value:,.2f}" if value is not None else "-"


def _print(advice: LlmAdvice, note: str) -> None:
    d = advice.demand
    out.print(
        f"{advice.task}: {d.calls_per_day:,} calls/day x ({d.tokens_in:,} in + {d.tokens_out:,} "
        f"out tokens) = {d.tokens_per_day:,} tokens/day; {d.labelled:,} labelled examples; "
        f"methodology: {advice.task} -> a {advice.best.tier} model",
        markup=False,
    )
    table = Table("option", "model", "why", "$/call", "$/month at volume")
    table.columns[1].overflow = table.columns[2].overflow = "fold"
    for o in (advice.best, advice.cost_effective):
        model = o.model + (" (configured)" if o.configured else "")
        table.add_row(o.role, model, o.why, f"${o.usd_per_call:.6f}", _money(o.usd_per_month))
    out.print(table)
    if advice.cascade_usd_month is not None:
        low, high = advice.cascade_usd_month
        out.print(
            f"cascade {advice.cost_effective.model} -> {advice.best.model}: "
            f"{_money(low)}-{_money(high)}/month (methodology: small -> large saves 40-70%)",
            markup=False,
        )
    verdict = advice.fine_tune
    out.print(f"fine-tune: {verdict.decision}: {verdict.reason}", markup=False)
    if note and verdict.priced:
        out.print(f"  (fine-tuned small model: {note})", markup=False)
    out.print(f"self-host: {advice.self_host}", markup=False)
    if advice.unranked:
        out.print(
            f"not ranked (no tier matches the name): {', '.join(advice.unranked)}", markup=False
        )


@llm_app.command("suggest")
def suggest_cmd(
    ctx: typer.Context,
    task: Annotated[
        str, typer.Option(help="classification|extraction|summarization|generation|code|embeddings")
    ],
    volume: Annotated[int, typer.Option(min=1, help="calls per day")] = 1_000,
    labelled: Annotated[int, typer.Option(min=0, help="labelled examples at hand")] = 0,
    tokens_in: Annotated[
        int | None, typer.Option(min=0, help="prompt tokens per call (default: typical)")
    ] = None,
    tokens_out: Annotated[
        int | None, typer.Option(min=0, help="output tokens per call (default: typical)")
    ] = None,
    on_prem: Annotated[bool, typer.Option("--on-prem", help="data must stay on-premises")] = False,
) -> None:
    """Print the best and the cost-effective model for --task, monthly costs, verdicts."""
    from dataclasses import replace

    from ragline.core.config_files import locate_config
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.method.gpu_plan import GpuTable
    from ragline.mltrack.method.llm_choice import (
        TASKS,
        Demand,
        catalogue,
        self_host_costs,
        suggest_llm,
    )

    if task not in TASKS:
        raise fail(f"--task {task!r}: use one of {', '.join(TASKS)}")
    chosen = next(t for t in TASKS if t == task)  # typed as the Task literal
    settings = settings_from(ctx)
    typical = Demand.typical(chosen, volume, labelled)
    demand = replace(
        typical,
        tokens_in=typical.tokens_in if tokens_in is None else tokens_in,
        tokens_out=typical.tokens_out if tokens_out is None else tokens_out,
        on_prem=on_prem,
    )
    try:
        prices = settings.costs.prices().llm
        gpus = GpuTable.load(locate_config(settings.costs.gpus))
        costs = self_host_costs(demand, gpus)
        candidates = catalogue(prices, configured_models(settings))
        advice = suggest_llm(chosen, demand, candidates, prices, costs)
    except (MltrackError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    _print(advice, costs.note if task != "embeddings" else "")
