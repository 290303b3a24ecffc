"""`ragline ml audit verify`: check that the registry's audit log was not edited.

    ragline ml audit verify                    # every model's hash chain; exit 0 when intact
    ragline ml audit verify --model churn      # one model's

The database refuses UPDATE and DELETE on the audit table (triggers); the hash chain catches an
edit made around them (a dropped trigger, a restored backup, another database). Exit codes: 0 the
chain is intact; 1 a row was altered or removed (the first such row is named); 2 the store cannot
be read.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ragline.mltrack.errors import MltrackError
from ragline.serving.cli.common import err, exit_2_on, out, settings_from

audit_app = typer.Typer(help="the registry's audit log: check its hash chain.")


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="only this model's chain")] = None,
) -> None:
    """Recompute the audit log's hash chain; exit 1 naming the first altered row."""
    from ragline.mltrack.tracking.registry import ModelRegistry

    settings = settings_from(ctx)
    with exit_2_on(MltrackError):
        registry = ModelRegistry(settings.ml, settings.data_dir)
        try:
            report = registry.verify_audit(model)
        finally:
            registry.close()
    scope = f"model {model!r}" if model is not None else f"{report.models} model(s)"
    bad = report.broken
    if bad is None:
        out.print(f"audit log intact: {report.rows} row(s) of {scope} chain up", markup=False)
        return
    err.print(
        f"audit log broken at row {bad.row_id} ({bad.model} version {bad.version}, "
        f"{bad.action}): {bad.problem}. Rows after it cannot be trusted either; restore the "
        "table from a backup and find out who edited it",
        markup=False,
    )
    raise typer.Exit(1)
