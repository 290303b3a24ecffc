"""`ragline score`: the ML-system quality score, 8 dimensions weighted to 0-100 with its band,
with what each point rests on (weights and bands: `ragline.mltrack.method.score`).

    ragline score                                  # the most recently registered model
    ragline score --model adult-income --config configs/ml/adult.yaml --json

The command is thin: gather the evidence (`ragline.mltrack.method.score.gather_evidence`: training
configs, experiments, registry audit, eval runs, cost ledger, monitoring tables), score it
(`ragline.mltrack.method.score.score_system`) and print a table or JSON. It is a report, so it exits
0 whatever the score; 2 on bad input (an unreadable config, an unknown model, bad settings).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ragline.serving.cli.common import settings_from
from ragline.serving.settings import Settings

if TYPE_CHECKING:
    from ragline.mltrack.method.score import Evidence, SystemScore

__all__ = ["default_configs", "run_score", "score_app", "score_command"]

score_app = typer.Typer(help="the ML-system quality score (8 dimensions, 0-100, a band).")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def default_configs(cwd: Path | None = None) -> list[Path]:
    """The training configs read when none are given: ``configs/ml/*.yaml`` under `cwd`.

    Example:
        >>> [p.name for p in default_configs(Path("."))]  # doctest: +SKIP
        ['adult.yaml']
    """
    return sorted((cwd or Path.cwd()).glob("configs/ml/*.yaml"))


def run_score(
    settings: Settings,
    model: str | None,
    out: Console,
    err: Console,
    *,
    configs: Sequence[Path] | None = None,
    as_json: bool = False,
    now: datetime | None = None,
) -> int:
    """Gather, score and print; returns the exit code (0, or 2 on bad input). `now` (default:
    the clock) is when the ledger's "last 7 days" end.

    Example:
        >>> run_score(load_settings(), None, Console(), Console(stderr=True))  # doctest: +SKIP
        0
    """
    from ragline.mltrack.errors import MltrackError
    from ragline.mltrack.method.score import score_system
    from ragline.mltrack.method.score_evidence import gather_evidence

    paths = list(configs) if configs is not None else default_configs()
    try:
        evidence = gather_evidence(
            settings.ml, settings.data_dir, model, paths, ledger=settings.costs.ledger, now=now
        )
    except MltrackError as exc:
        err.print(f"error: {exc}", markup=False)
        return 2
    result = score_system(evidence)
    if as_json:
        out.print_json(json.dumps(to_dict(evidence, result, paths)))
    else:
        _print(out, evidence, result)
    return 0


def to_dict(evidence: Evidence, result: SystemScore, configs: Sequence[Path]) -> dict[str, object]:
    """The JSON document `--json` prints.

    Example:
        >>> from ragline.mltrack.method.score import Evidence, score_system
        >>> to_dict(Evidence(), score_system(Evidence()), [])["band"]
        'not ready'
    """
    return {
        "model": evidence.model,
        "total_100": result.total_100,
        "band": result.band,
        "total": result.total,
        "max": result.max,
        "dimensions": [
            {
                "name": d.name,
                "score": d.score,
                "max": d.max,
                "weight": d.weight,
                "weighted": d.weighted,
                "rests_on": d.rests_on,
                "to_raise": d.to_raise,
            }
            for d in result.dimensions
        ],
        "configs": [str(p) for p in configs],
        "notes": list(evidence.notes),
    }


def _print(console: Console, evidence: Evidence, result: SystemScore) -> None:
    title = f"ML-system score: {evidence.model or 'no registered model'}"
    table = Table(title=title, show_lines=True)
    table.add_column("dimension", no_wrap=True)
    table.add_column("score", no_wrap=True)
    table.add_column("weighted", no_wrap=True)
    table.add_column("rests on", overflow="fold", ratio=1)
    table.add_column("to raise", overflow="fold", ratio=1)
    for d in result.dimensions:
        weighted = f"{d.weighted}/{d.weight}"
        table.add_row(
            d.name, f"{d.score}/{d.max}", weighted, _items(d.rests_on), _items(d.to_raise)
        )
    console.print(table)
    console.print(
        f"total {result.total_100}/100: {result.band} ({result.total}/{result.max} points)",
        markup=False,
    )
    for note in evidence.notes:
        console.print(f"note: {note}", markup=False)


def _items(lines: list[str]) -> str:
    return "\n".join(f"- {escape(line)}" for line in lines) or "-"


@score_app.callback(invoke_without_command=True)
def score_command(
    ctx: typer.Context,
    model: Annotated[
        str | None, typer.Option("--model", help="registered model; default: the newest")
    ] = None,
    config: Annotated[
        list[Path] | None,
        typer.Option("--config", help="training config to read (repeat); default configs/ml/*"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Score the ML system on 8 dimensions (0-5 each, weighted to 0-100, a band) from evidence."""
    settings = settings_from(ctx)
    raise typer.Exit(run_score(settings, model, out, err, configs=config, as_json=as_json))
