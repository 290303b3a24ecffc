"""What every `ragline` subcommand shares: its consoles, the bad-input exit, the settings.

    from ragline.serving.cli.common import err, fail, out, settings_from

    raise fail("window '1y': use a unit m, h, d or w")      # prints "error: ..." and exits 2
    with exit_2_on(DataError): ...                          # the user's errors: exit 2 too
    frame = read_table(Path("cur.csv"), "current")          # CSV or Parquet, or exit 2
    settings = settings_from(ctx)           # --config FILE and env; exit 2 on bad settings
    err.print(cost_line(scope))             # "request r1 · cost $0.000310 (4 cost events)"

Exit code 2 means bad usage or settings: nothing was done (see ragline.serving.cli.app).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from ragline.core.errors import redact
from ragline.serving.errors import ConfigError
from ragline.serving.settings import Settings, load_settings

if TYPE_CHECKING:
    import pandas as pd

    from ragline.core.costs import CostScope

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """Print `error: message` (redacted) on stderr; the Exit(2) to raise
    (`raise fail(...) from None`)."""
    err.print(f"error: {redact(message)}", markup=False)
    return typer.Exit(2)


@contextmanager
def exit_2_on(*errors: type[Exception]) -> Iterator[None]:
    """Turn the given errors (a bad file, bad data: the user's to fix) into exit 2 with their
    message. `with exit_2_on(DataError, ValueError): report = analyze(...)`"""
    try:
        yield
    except errors as exc:
        raise fail(str(exc)) from None


def settings_from(ctx: typer.Context, **overrides: object) -> Settings:
    """The settings of this invocation (the root's --config FILE, then RAGLINE_* env, then
    `overrides` from the command's own options); exit 2 with the problem on bad settings. Every
    command loads its settings here, so every settings error reads the same."""
    config = ctx.obj if isinstance(ctx.obj, Path) else None
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        raise fail(f"config error: {exc}") from None


def cost_line(scope: CostScope) -> str:
    """What one command's work cost, and how to see its parts."""
    return (
        f"request {scope.request_id} · cost ${scope.total_usd():.6f} "
        f"({scope.events} cost events; ragline costs breakdown {scope.request_id})"
    )


def read_table(path: Path, role: str) -> pd.DataFrame:
    """A CSV or Parquet file as a frame; exit 2 with what to fix when it is missing or unreadable.
    `role` names the file in messages ("reference", "outcomes", "--data")."""
    import pandas as pd

    if not path.is_file():
        raise fail(f"{role} {path} does not exist; give a CSV or Parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".gz", ".zip"):
            return pd.read_csv(path)
    except (OSError, ValueError) as exc:  # pandas' parser errors and pyarrow's are ValueErrors
        raise fail(
            f"cannot read {role} {path}: {exc}; is it a valid CSV or Parquet file?"
        ) from None
    raise fail(f"{role} {path}: unknown format {suffix!r}; use .csv or .parquet")
